// sdssplitargs-compatible argument splitting and sdscatrepr-style quoting.
// The rules are Redis's so that a line that loads in redis-server loads here
// with the same arguments, and one it rejects is rejected here too.
#include "config/split_args.h"

#include <fmt/format.h>

namespace lockd {
namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// isspace() in the C locale, without its undefined behaviour on negative chars.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

bool SplitConfigArgs(std::string_view line, std::vector<std::string>* args) {
  args->clear();
  size_t i = 0;
  const size_t n = line.size();
  // Reading past the end yields '\0', which every rule below treats as the end
  // of the line, like the C string sdssplitargs walks.
  auto at = [&](size_t k) { return k < n ? line[k] : '\0'; };

  while (true) {
    while (i < n && IsSpace(line[i])) i++;
    if (i >= n) return true;

    std::string current;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(i);
      if (in_double) {
        if (c == '\\' && at(i + 1) == 'x' && IsHexDigit(at(i + 2)) && IsHexDigit(at(i + 3))) {
          current.push_back(static_cast<char>(HexValue(at(i + 2)) * 16 + HexValue(at(i + 3))));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          i++;
          switch (line[i]) {
            case 'n':
              current.push_back('\n');
              break;
            case 'r':
              current.push_back('\r');
              break;
            case 't':
              current.push_back('\t');
              break;
            case 'b':
              current.push_back('\b');
              break;
            case 'a':
              current.push_back('\a');
              break;
            default:
              current.push_back(line[i]);
              break;
          }
        } else if (c == '"') {
          // A closing quote glued to more text ("a"b) is an error, not a join.
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else if (i >= n) {
          return false;  // unterminated quotes
        } else {
          current.push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(i + 1) == '\'') {
          i++;
          current.push_back('\'');
        } else if (c == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else if (i >= n) {
          return false;
        } else {
          current.push_back(c);
        }
      } else if (i >= n) {
        done = true;
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            current.push_back(c);
            break;
        }
      }
      if (i < n) i++;
    }
    args->push_back(std::move(current));
  }
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
