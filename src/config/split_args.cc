// redis.conf line splitting (the shared sdssplitargs rules of
// util/split_args.h) and sdscatrepr-style quoting for error messages. A line
// that loads in redis-server loads here with the same arguments, and one it
// rejects is rejected here too.
#include "config/split_args.h"

#include <fmt/format.h>

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

std::string QuoteConfigArg(std::string_view arg) {
  std::string out = "\"";
  for (const char c : arg) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default: {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f) {
          out.push_back(c);
        } else {
          out += fmt::format("\\x{:02x}", u);
        }
      }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace lockd
