// SplitArgs: sdssplitargs's rules, byte for byte, including the
// asymmetry between the separators skipped before an argument (isspace: also
// \v and \f) and those that end an unquoted one (only space, \t, \r, \n);
// and QuoteArg, sdscatrepr's quoting for echoing bytes back.
#include "util/split_args.h"

#include <fmt/format.h>

#include "util/check.h"

namespace lockd {
namespace {

// isspace() in the C locale, which is what Redis runs its splitter under.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// The byte a backslash escape inside double quotes stands for; any other
// escaped byte stands for itself (\\, \", \q).
char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

}  // namespace

bool SplitArgs(std::string_view line, std::string* storage,
                     std::vector<std::pair<size_t, size_t>>* spans) {
  storage->clear();
  spans->clear();
  // The unquoted text is never longer than the line, so one reservation
  // (of bytes that did arrive) covers every append below.
  if (storage->capacity() < line.size()) storage->reserve(line.size());

  const size_t n = line.size();
  LOCKD_DCHECK(line.find('\0') == std::string_view::npos);
  // Redis walks a NUL-terminated copy of the line; reading '\0' past the end
  // keeps the same tests reading the same way.
  auto at = [&](size_t i) { return i < n ? line[i] : '\0'; };

  size_t i = 0;
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return true;

    const size_t start = storage->size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = at(i);
      if (in_double) {
        if (c == '\\' && at(i + 1) == 'x' && IsHexDigit(at(i + 2)) && IsHexDigit(at(i + 3))) {
          storage->push_back(static_cast<char>(HexValue(at(i + 2)) * 16 + HexValue(at(i + 3))));
          i += 3;
        } else if (c == '\\' && at(i + 1) != '\0') {
          ++i;
          storage->push_back(Unescape(line[i]));
        } else if (c == '"') {
          if (at(i + 1) != '\0' && !IsSpace(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;  // the line ended inside the quotes
        } else {
          storage->push_back(c);
        }
      } else if (in_single) {
        if (c == '\\' && at(i + 1) == '\'') {
          ++i;
          storage->push_back('\'');
        } else if (c == '\'') {
          if (at(i + 1) != '\0' && !IsSpace(at(i + 1))) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          storage->push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            storage->push_back(c);
            break;
        }
      }
      // Step past the byte just handled (a separator or closing quote too),
      // but never past the end.
      if (i < n) ++i;
    }
    spans->emplace_back(start, storage->size() - start);
  }
}

std::string QuoteArg(std::string_view arg) {
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
