// redis.conf line splitting (the shared sdssplitargs rules of
// util/split_args.h). A line
// that loads in redis-server loads here with the same arguments, and one it
// rejects is rejected here too.
#include "config/split_args.h"

#include "util/split_args.h"

namespace lockd {
bool SplitConfigArgs(std::string_view line, std::vector<std::string>* args) {
  // redis-server reads the file as C strings: a NUL ends the line.
  line = line.substr(0, line.find('\0'));
  std::string storage;
  std::vector<std::pair<size_t, size_t>> spans;
  if (!SplitArgs(line, &storage, &spans)) return false;
  args->clear();
  for (const auto& [offset, length] : spans) args->emplace_back(storage, offset, length);
  return true;
}

}  // namespace lockd
