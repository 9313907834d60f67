// Config file reading for the command line and `include`.
#include "config/config_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lockd::config_internal {

bool ReadAll(int fd, std::string* out) {
  char buf[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

Status ReadConfigFile(const std::string& path, std::string* text) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || !ReadAll(fd, text)) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return Status::Error(
        fmt::format("Fatal error, can't open config file '{}': {}", path, std::strerror(err)));
  }
  ::close(fd);
  return Status::Ok();
}

Status ReadIncludedFiles(const std::string& pattern,
                         std::vector<std::pair<std::string, std::string>>* files) {
  files->clear();
  if (pattern.find_first_of("*?[") == std::string::npos) {
    std::string text;
    if (Status s = ReadConfigFile(pattern, &text); !s.ok()) return s;
    files->emplace_back(pattern, std::move(text));
    return Status::Ok();
  }
  glob_t matches{};
  // Redis ignores glob's errors as well as an empty match.
  if (::glob(pattern.c_str(), 0, nullptr, &matches) == 0) {
    for (size_t i = 0; i < matches.gl_pathc; i++) {
      std::string text;
      Status s = ReadConfigFile(matches.gl_pathv[i], &text);
      if (!s.ok()) {
        ::globfree(&matches);
        return s;
      }
      files->emplace_back(matches.gl_pathv[i], std::move(text));
    }
  }
  ::globfree(&matches);
  return Status::Ok();
}

}  // namespace lockd::config_internal
