// A strict RESP2/RESP3 reply reader for the fuzz targets: it accepts a byte
// string only if it is a sequence of complete, well-formed replies in the
// given protocol (RESP3 types are refused in RESP2), so that a handler that
// writes a wrong count, a bare CR in a status line or a bad number is caught.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/strings.h"

namespace lockd::fuzz {

class RespChecker {
 public:
  RespChecker(std::string_view data, int protocol) : data_(data), protocol_(protocol) {}

  // True when the whole input is zero or more complete replies; else
  // error() says what is wrong and where.
  bool CheckAll(size_t* replies = nullptr) {
    size_t n = 0;
    while (pos_ < data_.size()) {
      if (!Value(0)) return false;
      ++n;
    }
    if (replies != nullptr) *replies = n;
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Bad(const char* what) {
    error_ = std::string(what) + " at offset " + std::to_string(pos_);
    return false;
  }

  // The text up to CRLF; no bare CR or LF inside.
  bool Line(std::string_view* line) {
    size_t cr = data_.find('\r', pos_);
    size_t lf = data_.find('\n', pos_);
    if (cr == std::string_view::npos || cr + 1 >= data_.size() || data_[cr + 1] != '\n' ||
        lf != cr + 1) {
      return Bad("a line not ended by CRLF");
    }
    *line = data_.substr(pos_, cr - pos_);
    pos_ = cr + 2;
    return true;
  }

  bool Count(int64_t* n, bool allow_minus_one) {
    std::string_view line;
    if (!Line(&line)) return false;
    if (!ParseInt64(line, n) || *n < (allow_minus_one ? -1 : 0)) return Bad("a bad count");
    return true;
  }

  bool Value(int depth) {
    if (depth > 1000) return Bad("nesting too deep");
    if (pos_ >= data_.size()) return Bad("a reply cut short");
    const char type = data_[pos_++];
    const bool resp3 = protocol_ == 3;
    std::string_view line;
    int64_t n = 0;
    switch (type) {
      case '+':
      case '-':
        // An empty error is what Redis sends for a script's {err=''}.
        return Line(&line);
      case ':':
        if (!Line(&line)) return false;
        if (!ParseInt64(line, &n)) return Bad("a bad integer");
        return true;
      case '$':
      case '=':
      case '!': {
        if (type != '$' && !resp3) return Bad("a RESP3 type in RESP2");
        if (!Count(&n, type == '$' && !resp3)) return false;
        if (n == -1) return true;
        if (data_.size() - pos_ < static_cast<size_t>(n) + 2) return Bad("a bulk cut short");
        if (type == '=' && (n < 4 || data_[pos_ + 3] != ':')) return Bad("a bad verbatim string");
        pos_ += static_cast<size_t>(n);
        if (data_[pos_] != '\r' || data_[pos_ + 1] != '\n') return Bad("a bulk not ended by CRLF");
        pos_ += 2;
        return true;
      }
      case '*':
      case '~':
      case '>':
      case '%':
      case '|': {
        if (type != '*' && !resp3) return Bad("a RESP3 type in RESP2");
        if (!Count(&n, type == '*' && !resp3)) return false;
        if (n == -1) return true;
        const int64_t elements = (type == '%' || type == '|') ? 2 * n : n;
        for (int64_t i = 0; i < elements; ++i) {
          if (!Value(depth + 1)) return false;
        }
        // An attribute precedes the value it describes.
        return type == '|' ? Value(depth + 1) : true;
      }
      case '_':
        if (!resp3) return Bad("a RESP3 null in RESP2");
        if (!Line(&line)) return false;
        return line.empty() ? true : Bad("a null with content");
      case '#':
        if (!resp3) return Bad("a RESP3 boolean in RESP2");
        if (!Line(&line)) return false;
        return line == "t" || line == "f" ? true : Bad("a bad boolean");
      case ',': {
        if (!resp3) return Bad("a RESP3 double in RESP2");
        if (!Line(&line)) return false;
        // Redis prints doubles with %.17g: "inf", "-nan" and the like too.
        std::string text(line);
        char* end = nullptr;
        std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) return Bad("a bad double");
        return true;
      }
      case '(':
        // Redis passes a script's {big_number=...} text through unchecked
        // (CR and LF become spaces), so only the line itself is checked.
        if (!resp3) return Bad("a RESP3 big number in RESP2");
        return Line(&line);
      default:
        --pos_;
        return Bad("an unknown reply type");
    }
  }

  std::string_view data_;
  int protocol_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace lockd::fuzz
