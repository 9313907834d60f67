#include "aof/log_name.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "aof/log_file.h"

namespace lockd::aof {

Status CheckLogName(const std::string& appendfilename) {
  std::string recorded;
  {
    std::ifstream in(kLogNameFile);
    if (in) std::getline(in, recorded);
  }
  if (recorded == appendfilename) return Status::Ok();
  if (!recorded.empty()) {
    for (const std::string& path : {recorded, recorded + ".tokens"}) {
      struct stat st;
      if (stat(path.c_str(), &st) == 0 && st.st_size > 0) {
        return Status::Error(fmt::format(
            "The last run in this directory used appendfilename {}, and {} holds the tokens and "
            "leases issued so far; this run's appendfilename is {}, whose tokens would start "
            "below them. Start with appendfilename {}, or rename {}'s files to {}.",
            recorded, path, appendfilename, recorded, recorded, appendfilename));
      }
    }
  }
  // A name recorded but whose files are gone (removed by hand) says nothing.
  int r = ReplaceFileDurably(kLogNameFile, appendfilename + "\n");
  if (r != 0) return Status::Error(fmt::format("Can't write {}: {}", kLogNameFile, strerror(-r)));
  return Status::Ok();
}

}  // namespace lockd::aof
