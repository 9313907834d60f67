// Encoding and decoding of log records (see record.h for the vocabulary).
#include "aof/record.h"

#include <fmt/format.h>

#include "util/check.h"
#include "util/strings.h"

namespace lockd::aof {

namespace {

// Writes n in decimal into the bytes before `end`; returns where it starts.
// Records are built for every change a command makes (the log, and the
// stream replicas read), a few numbers each: fmt's back_inserter path cost
// more than the rest of a record together.
char* FormatDecimal(uint64_t n, char* end) {
  char* p = end;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  return p;
}

void AppendDecimal(std::string* out, uint64_t n) {
  char digits[20];
  char* start = FormatDecimal(n, digits + sizeof(digits));
  out->append(start, static_cast<size_t>(digits + sizeof(digits) - start));
}

void AppendHeader(std::string* out, size_t count) {
  out->push_back('*');
  AppendDecimal(out, count);
  out->append("\r\n");
}

void AppendBulk(std::string* out, std::string_view s) {
  out->push_back('$');
  AppendDecimal(out, s.size());
  out->append("\r\n");
  out->append(s);
  out->append("\r\n");
}

void AppendNumber(std::string* out, uint64_t n) {
  char digits[20];
  char* start = FormatDecimal(n, digits + sizeof(digits));
  AppendBulk(out, std::string_view(start, static_cast<size_t>(digits + sizeof(digits) - start)));
}

// A positive integer that fits in int64 (tokens, limits: 1..kMaxToken); or,
// when `allow_zero`, also 0 (times). Anything larger is damage: the server
// never writes it, and a token past 2^63-1 would turn negative in a reply.
bool ParseCount(std::string_view s, bool allow_zero, uint64_t* out) {
  int64_t v;
  if (!ParseInt64(s, &v) || v < 0 || (v == 0 && !allow_zero)) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

bool ParseTime(std::string_view s, int64_t* out) {
  uint64_t v;
  if (!ParseCount(s, true, &v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

bool Fail(std::string* error, std::string message) {
  *error = std::move(message);
  return false;
}

}  // namespace

const char* FreeCauseName(FreeCause cause) {
  switch (cause) {
    case FreeCause::kRelease:
      return "release";
    case FreeCause::kExpire:
      return "expire";
    case FreeCause::kDelete:
    case FreeCause::kNone:
      break;
  }
  return "delete";
}

void AppendGrant(std::string* out, ChangeKind kind, std::string_view key, std::string_view holder,
                 uint64_t token, int64_t pxat_ms) {
  // A record the reader would call damage must never be written.
  LOCKD_CHECK(token >= 1 && token <= kMaxToken);
  AppendHeader(out, 5);
  AppendBulk(out, kind == ChangeKind::kExtend ? "LOCK.EXTEND" : "LOCK.GRANT");
  AppendBulk(out, key);
  AppendBulk(out, holder);
  AppendNumber(out, token);
  AppendNumber(out, static_cast<uint64_t>(pxat_ms < 0 ? 0 : pxat_ms));
}

void AppendFree(std::string* out, std::string_view key, FreeCause cause) {
  AppendHeader(out, 3);
  AppendBulk(out, "LOCK.FREE");
  AppendBulk(out, key);
  AppendBulk(out, FreeCauseName(cause));
}

void AppendReserve(std::string* out, uint64_t token_limit, int64_t horizon_ms) {
  // A limit is a token (1..kMaxToken). A server that has issued none yet
  // reserves token 1, which costs one skipped token at most.
  LOCKD_CHECK(token_limit <= kMaxToken);
  if (token_limit == 0) token_limit = 1;
  AppendHeader(out, 3);
  AppendBulk(out, "LOCK.RESERVE");
  AppendNumber(out, token_limit);
  AppendNumber(out, static_cast<uint64_t>(horizon_ms < 0 ? 0 : horizon_ms));
}

void AppendShutdown(std::string* out, int64_t gate_ms) {
  AppendHeader(out, 2);
  AppendBulk(out, "LOCK.SHUTDOWN");
  AppendNumber(out, static_cast<uint64_t>(gate_ms < 0 ? 0 : gate_ms));
}

void AppendMulti(std::string* out) { out->append("*1\r\n$5\r\nMULTI\r\n"); }
void AppendExec(std::string* out) { out->append("*1\r\n$4\r\nEXEC\r\n"); }

bool DecodeRecord(const std::vector<std::string_view>& argv, Record* r, std::string* error) {
  if (argv.empty()) return Fail(error, "empty record");
  std::string_view name = argv[0];
  auto arity = [&](size_t n) {
    if (argv.size() == n) return true;
    return Fail(error, fmt::format("wrong number of arguments for '{}'", ToLowerAscii(name)));
  };
  *r = Record{};
  if (EqualsIgnoreCase(name, "LOCK.GRANT") || EqualsIgnoreCase(name, "LOCK.EXTEND")) {
    if (!arity(5)) return false;
    r->type = EqualsIgnoreCase(name, "LOCK.GRANT") ? RecordType::kGrant : RecordType::kExtend;
    r->key = argv[1];
    // A holder may be empty: SET key "" holds the key with the value "", as
    // in Redis, and whatever the server acknowledged must replay.
    r->holder = argv[2];
    if (!ParseCount(argv[3], false, &r->token)) return Fail(error, "bad token");
    if (!ParseTime(argv[4], &r->unix_ms)) return Fail(error, "bad deadline");
    return true;
  }
  if (EqualsIgnoreCase(name, "LOCK.FREE")) {
    if (!arity(3)) return false;
    r->type = RecordType::kFree;
    r->key = argv[1];
    if (EqualsIgnoreCase(argv[2], "release")) {
      r->cause = FreeCause::kRelease;
    } else if (EqualsIgnoreCase(argv[2], "expire")) {
      r->cause = FreeCause::kExpire;
    } else if (EqualsIgnoreCase(argv[2], "delete")) {
      r->cause = FreeCause::kDelete;
    } else {
      return Fail(error, "bad free cause");
    }
    return true;
  }
  if (EqualsIgnoreCase(name, "LOCK.RESERVE")) {
    if (!arity(3)) return false;
    r->type = RecordType::kReserve;
    // A limit of 0 reserves nothing; earlier versions wrote it when a log was
    // rewritten before the first grant, and such logs must still load.
    if (!ParseCount(argv[1], true, &r->token)) return Fail(error, "bad token limit");
    if (!ParseTime(argv[2], &r->unix_ms)) return Fail(error, "bad horizon");
    return true;
  }
  if (EqualsIgnoreCase(name, "LOCK.SHUTDOWN")) {
    if (!arity(2)) return false;
    r->type = RecordType::kShutdown;
    if (!ParseTime(argv[1], &r->unix_ms)) return Fail(error, "bad gate time");
    return true;
  }
  if (EqualsIgnoreCase(name, "MULTI") || EqualsIgnoreCase(name, "EXEC")) {
    if (!arity(1)) return false;
    r->type = EqualsIgnoreCase(name, "MULTI") ? RecordType::kMulti : RecordType::kExec;
    return true;
  }
  // The name is printed in logs and by lockd-check-aof: no raw control bytes.
  std::string shown(name.substr(0, 64));
  for (char& ch : shown) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f) ch = '?';
  }
  return Fail(error, fmt::format("unknown record '{}'", shown));
}

}  // namespace lockd::aof
