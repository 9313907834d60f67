// ReplyWriter: RESP2 and RESP3 encodings, written in place in the output
// buffer. Replies are the other half of the hot path, so integers and short
// strings are formatted by hand straight into reserved room, with no
// intermediate string and no printf.
#include <charconv>
#include <cmath>
#include <cstring>

#include "lockd/resp.h"

namespace lockd {
namespace {

// Bulks and lines up to this size are written with one Reserve; longer ones
// are appended piecewise, so the room left unused at the end of a block by
// Reserve stays small.
constexpr size_t kInPlaceMax = 512;
// Room for a type byte, a 64-bit integer with its sign, and CRLF.
constexpr size_t kHeaderMax = 1 + 20 + 2;

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int CountDigits(uint64_t v) {
  int n = 1;
  while (true) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

// Writes v in decimal at p, two digits per division; returns the end.
char* WriteUnsigned(char* p, uint64_t v) {
  char* end = p + CountDigits(v);
  char* q = end;
  while (v >= 100) {
    const size_t i = static_cast<size_t>(v % 100) * 2;
    v /= 100;
    *--q = kDigitPairs[i + 1];
    *--q = kDigitPairs[i];
  }
  if (v < 10) {
    *--q = static_cast<char>('0' + v);
  } else {
    const size_t i = static_cast<size_t>(v) * 2;
    *--q = kDigitPairs[i + 1];
    *--q = kDigitPairs[i];
  }
  return end;
}

char* WriteSigned(char* p, int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  if (v < 0) {
    *p++ = '-';
    u = 0 - u;  // also right for INT64_MIN
  }
  return WriteUnsigned(p, u);
}

char* WriteCrlf(char* p) {
  p[0] = '\r';
  p[1] = '\n';
  return p + 2;
}

// Copies s to p with CR and LF turned into spaces, as Redis does for error
// texts, so that a message can never break the reply framing.
char* CopyOneLine(char* p, std::string_view s) {
  for (char c : s) *p++ = (c == '\r' || c == '\n') ? ' ' : c;
  return p;
}

template <size_t N>
void PutLiteral(OutputBuffer* out, const char (&literal)[N]) {
  size_t available;
  char* p = out->Reserve(N - 1, &available);
  std::memcpy(p, literal, N - 1);
  out->Commit(N - 1);
}

}  // namespace

void ReplyWriter::Header(char type, int64_t n) {
  size_t available;
  char* start = out_->Reserve(kHeaderMax, &available);
  char* p = start;
  *p++ = type;
  p = WriteCrlf(WriteSigned(p, n));
  out_->Commit(static_cast<size_t>(p - start));
}

void ReplyWriter::Line(char type, std::string_view s) {
  if (s.size() <= kInPlaceMax) {
    size_t available;
    char* start = out_->Reserve(s.size() + 3, &available);
    char* p = start;
    *p++ = type;
    p = WriteCrlf(CopyOneLine(p, s));
    out_->Commit(static_cast<size_t>(p - start));
    return;
  }
  out_->Append(std::string_view(&type, 1));
  while (!s.empty()) {
    const size_t stop = s.find_first_of("\r\n");
    out_->Append(s.substr(0, stop));
    if (stop == std::string_view::npos) break;
    out_->Append(" ");
    s.remove_prefix(stop + 1);
  }
  PutLiteral(out_, "\r\n");
}

void ReplyWriter::Simple(std::string_view s) { Line('+', s); }

void ReplyWriter::Error(std::string_view message) {
  // Like Redis's addReplyErrorLength: a caller that already wrote the '-'
  // must not get a second one.
  if (!message.empty() && message[0] == '-') message.remove_prefix(1);
  Line('-', message);
}

void ReplyWriter::Integer(int64_t v) { Header(':', v); }

void ReplyWriter::Bulk(std::string_view s) {
  if (s.size() <= kInPlaceMax) {
    size_t available;
    char* start = out_->Reserve(kHeaderMax + s.size() + 2, &available);
    char* p = start;
    *p++ = '$';
    p = WriteCrlf(WriteUnsigned(p, s.size()));
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p = WriteCrlf(p + s.size());
    out_->Commit(static_cast<size_t>(p - start));
    return;
  }
  Header('$', static_cast<int64_t>(s.size()));
  out_->Append(s);
  PutLiteral(out_, "\r\n");
}

void ReplyWriter::Null() {
  if (protocol_ >= 3) {
    PutLiteral(out_, "_\r\n");
  } else {
    PutLiteral(out_, "$-1\r\n");
  }
}

void ReplyWriter::NullArray() {
  if (protocol_ >= 3) {
    PutLiteral(out_, "_\r\n");
  } else {
    PutLiteral(out_, "*-1\r\n");
  }
}

void ReplyWriter::Array(size_t n) { Header('*', static_cast<int64_t>(n)); }

void ReplyWriter::Map(size_t pairs) {
  if (protocol_ >= 3) {
    Header('%', static_cast<int64_t>(pairs));
  } else {
    Header('*', static_cast<int64_t>(pairs * 2));
  }
}

void ReplyWriter::Set(size_t n) { Header(protocol_ >= 3 ? '~' : '*', static_cast<int64_t>(n)); }

void ReplyWriter::Double(double v) {
  // Redis 7.0 writes infinities by hand (libc spellings differ) and every
  // other value with "%.17g"; to_chars with precision 17 is that format,
  // without printf's locale.
  char text[32];
  std::string_view repr;
  if (std::isinf(v)) {
    repr = v > 0 ? "inf" : "-inf";
  } else {
    auto [end, ec] = std::to_chars(text, text + sizeof(text), v, std::chars_format::general, 17);
    (void)ec;  // 32 bytes hold any %.17g: at most 24
    repr = std::string_view(text, static_cast<size_t>(end - text));
  }
  if (protocol_ < 3) {
    Bulk(repr);
    return;
  }
  size_t available;
  char* start = out_->Reserve(repr.size() + 3, &available);
  char* p = start;
  *p++ = ',';
  std::memcpy(p, repr.data(), repr.size());
  p = WriteCrlf(p + repr.size());
  out_->Commit(static_cast<size_t>(p - start));
}

void ReplyWriter::Bool(bool v) {
  if (protocol_ >= 3) {
    if (v) {
      PutLiteral(out_, "#t\r\n");
    } else {
      PutLiteral(out_, "#f\r\n");
    }
  } else if (v) {
    PutLiteral(out_, ":1\r\n");
  } else {
    PutLiteral(out_, ":0\r\n");
  }
}

void ReplyWriter::Verbatim(std::string_view text) {
  if (protocol_ < 3) {
    Bulk(text);
    return;
  }
  // The length covers the "txt:" format prefix.
  Header('=', static_cast<int64_t>(text.size() + 4));
  PutLiteral(out_, "txt:");
  out_->Append(text);
  PutLiteral(out_, "\r\n");
}

void ReplyWriter::Raw(std::string_view bytes) { out_->Append(bytes); }

}  // namespace lockd
