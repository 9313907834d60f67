// The request hot path's shortcuts decide exactly as the general code they
// skip: the parser's one-pass read of a whole command (checked against the
// same bytes fed one at a time, which never takes it), ParseInt64's
// unchecked loop for short numbers (against 128-bit arithmetic), the command
// table's folded-hash lookup (against a plain case-insensitive scan), and the
// input buffer's pooled chunk for an idle client's next read.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cmd/command_table.h"
#include "lockd/resp.h"
#include "net/input_buffer.h"
#include "util/strings.h"

namespace lockd {
namespace {

struct Result {
  std::vector<std::vector<std::string>> commands;
  std::string error;  // the protocol error that ended the input, if any
  size_t consumed = 0;

  bool operator==(const Result&) const = default;
};

// Parses `input` as the server does: each Parse sees everything not yet
// consumed. With `step` 0 the whole input is there from the start (a whole
// command takes the one-pass path); otherwise it arrives `step` bytes at a
// time, so no command is ever whole at its first byte.
Result Run(std::string_view input, size_t step, const ParserLimits& limits = {}) {
  RequestParser parser;
  std::vector<std::string_view> args;
  Result r;
  size_t have = step == 0 ? input.size() : 0;
  while (true) {
    std::string_view pending = input.substr(r.consumed, have - r.consumed);
    ParseStatus st =
        pending.empty() ? ParseStatus::kNeedMore : parser.Parse(pending, limits, &args);
    if (st == ParseStatus::kError) {
      r.error = parser.error();
      return r;
    }
    if (st == ParseStatus::kOk) {
      r.commands.emplace_back(args.begin(), args.end());
      r.consumed += parser.consumed();
      continue;
    }
    if (have == input.size()) return r;
    have = std::min(input.size(), have + step);
  }
}

void CheckSame(const std::string& input, const ParserLimits& limits = {}) {
  INFO("input: ", input);
  Result whole = Run(input, 0, limits);
  Result bytewise = Run(input, 1, limits);
  CHECK(whole == bytewise);
}

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += Bulk(a);
  return out;
}

TEST_CASE("hot path: a whole command parses in one pass as it does byte by byte") {
  const std::string set = Multibulk({"SET", "k", "holder-0123456789", "NX", "PX", "30000"});
  CheckSame(set);
  CheckSame(set + set + "PING\r\n" + set);
  Result r = Run(set, 0);
  REQUIRE(r.commands.size() == 1);
  CHECK(r.commands[0] ==
        std::vector<std::string>{"SET", "k", "holder-0123456789", "NX", "PX", "30000"});
  CHECK(r.consumed == set.size());
  // Every cut of the command: whatever arrived first, the same result.
  for (size_t cut = 0; cut <= set.size(); ++cut) {
    RequestParser parser;
    std::vector<std::string_view> args;
    ParseStatus st = parser.Parse(std::string_view(set).substr(0, cut), {}, &args);
    if (cut < set.size()) {
      CHECK(st == ParseStatus::kNeedMore);
      CHECK(args.empty());
      st = parser.Parse(set, {}, &args);
    }
    REQUIRE(st == ParseStatus::kOk);
    CHECK(args.size() == 6);
    CHECK(parser.consumed() == set.size());
  }
}

TEST_CASE("hot path: argument counts at and around the one-pass limits") {
  for (int n : {1, 2, 9, 10, 11, 63, 64, 65, 99, 100, 101}) {
    std::vector<std::string> args(static_cast<size_t>(n), "a");
    const std::string cmd = Multibulk(args);
    CheckSame(cmd);
    CheckSame(cmd + cmd);
    Result r = Run(cmd, 0);
    REQUIRE(r.commands.size() == 1);
    CHECK(r.commands[0].size() == static_cast<size_t>(n));
  }
  ParserLimits unauth;
  unauth.authenticated = false;
  for (int n : {9, 10, 11})
    CheckSame(Multibulk(std::vector<std::string>(static_cast<size_t>(n), "a")), unauth);
  ParserLimits few;
  few.max_multibulk_len = 3;
  for (int n : {2, 3, 4})
    CheckSame(Multibulk(std::vector<std::string>(static_cast<size_t>(n), "a")), few);
}

TEST_CASE("hot path: count and length headers the one-pass read leaves to the general path") {
  for (const char* input : {
           "*0\r\n",
           "*-1\r\n",
           "*01\r\n$1\r\na\r\n",
           "*+1\r\n$1\r\na\r\n",
           "*1 \r\n$1\r\na\r\n",
           "*1\r",
           "*1\r\n",
           "*12\r",
           "*12\r\n",
           "*1x\r\n",
           "*\r\n",
           "*2\r\n$1\r\na\r\n",
           "*1\r\n$01\r\na\r\n",
           "*1\r\n$00\r\n\r\n",
           "*1\r\n$0\r\n\r\n",
           "*1\r\n$-1\r\n",
           "*1\r\n$+1\r\na\r\n",
           "*1\r\n$1 \r\na\r\n",
           "*1\r\n$\r\n",
           "*1\r\n#1\r\na\r\n",
           "*1\r\n$1\r\na",
           "*1\r\n$1\r\na\r",
           "*1\r\n$1\r\nab\r\n",
           "*1\r\n$1\r\naXY",
           "*1\r\n$1\rXaXY",
           "*1\nx\r\n$1\r\na\r\n",
           "*1\r\n$99999999999\r\n",
           "*1\r\n$999999999999\r\n",
           "*1\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n",
           "*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
           "*1\r\n$1\r\n\0\r\n",
           "*1\r\n$1\0\r\na\r\n",
       }) {
    CheckSame(input);
  }
  // Lengths at the bulk limits, with and without authentication.
  ParserLimits limits;
  limits.max_bulk_len = 5;
  for (int len : {4, 5, 6})
    CheckSame(Multibulk({std::string(static_cast<size_t>(len), 'x')}), limits);
  ParserLimits unauth;
  unauth.authenticated = false;
  for (size_t len : {16383u, 16384u, 16385u})
    CheckSame(Multibulk({"ECHO", std::string(len, 'x')}), unauth);
  // Eleven and twelve length digits (the canonical header's widest).
  ParserLimits wide;
  wide.max_bulk_len = int64_t{1} << 40;
  CheckSame("*1\r\n$10000000000\r\nabc", wide);
  CheckSame("*1\r\n$100000000000\r\nabc", wide);
}

TEST_CASE("hot path: random commands and corruptions agree whole and byte by byte") {
  std::mt19937 rng(20261130);
  static constexpr char kBytes[] = "*$\r\n0123456789-+ aZ\0";
  const std::string alphabet(kBytes, sizeof(kBytes) - 1);
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::string> args(1 + rng() % 8);
    for (std::string& a : args) a = std::string(rng() % 12, static_cast<char>('a' + rng() % 26));
    std::string input = Multibulk(args);
    if (rng() % 2 == 0) input += Multibulk(args);
    // Corrupt up to two bytes, or cut the input short.
    for (int k = static_cast<int>(rng() % 3); k > 0; --k) {
      input[rng() % input.size()] = alphabet[rng() % alphabet.size()];
    }
    if (rng() % 4 == 0) input.resize(rng() % (input.size() + 1));
    CheckSame(input);
  }
}

// Redis's string2ll, spelled out with 128-bit arithmetic: the rule ParseInt64
// must keep however it gets there.
bool ReferenceInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() >= 21) return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;
  __int128 v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  if (s[0] == '-') v = -v;
  if (v > INT64_MAX || v < INT64_MIN) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

void CheckInt(std::string_view s) {
  INFO("text: ", std::string(s));
  int64_t got = 0, want = 0;
  const bool ok = ParseInt64(s, &got);
  REQUIRE(ok == ReferenceInt64(s, &want));
  if (ok) CHECK(got == want);
}

TEST_CASE("hot path: integers of every width parse as Redis's string2ll") {
  for (const char* s : {"",
                        "0",
                        "-0",
                        "00",
                        "01",
                        "+1",
                        "-",
                        "1",
                        "-1",
                        "9",
                        "10",
                        "1a",
                        "12 ",
                        " 12",
                        "30000",
                        "999999999999999999",
                        "-999999999999999999",
                        "1000000000000000000",
                        "9223372036854775807",
                        "9223372036854775808",
                        "-9223372036854775808",
                        "-9223372036854775809",
                        "18446744073709551615",
                        "18446744073709551616",
                        "99999999999999999999",
                        "-99999999999999999999",
                        "123456789012345678901",
                        "1-",
                        "--1",
                        "1.5"}) {
    CheckInt(s);
  }
  CheckInt(std::string_view("1\0", 2));
  // Every width from 1 to 21 bytes, with each sign, digits at the edges.
  for (size_t width = 1; width <= 21; ++width) {
    for (char fill : {'0', '1', '5', '9'}) {
      for (char lead : {'1', '9'}) {
        std::string s(width, fill);
        s[0] = lead;
        CheckInt(s);
        CheckInt("-" + s);
        s[width - 1] = 'x';
        CheckInt(s);
      }
    }
  }
  std::mt19937_64 rng(7);
  for (int n = 0; n < 20000; ++n) {
    std::string s = std::to_string(static_cast<int64_t>(rng()) >> (rng() % 64));
    CheckInt(s);
    if (rng() % 3 == 0) s[rng() % s.size()] = "0123456789-+x"[rng() % 13];
    CheckInt(s);
  }
}

// The table's lookup against the plain rule: the one command whose name
// equals `name` ignoring ASCII case, or none.
const CommandSpec* ScanFor(std::string_view name) {
  for (const CommandSpec* spec : CommandTable::Get().All()) {
    if (EqualsIgnoreCase(spec->name, name)) return spec;
  }
  return nullptr;
}

TEST_CASE("hot path: command lookup folds ASCII case and nothing else") {
  const CommandTable& table = CommandTable::Get();
  REQUIRE(!table.All().empty());
  for (const CommandSpec* spec : table.All()) {
    std::string upper = spec->name, mixed = spec->name;
    for (size_t i = 0; i < upper.size(); ++i) {
      if (upper[i] >= 'a' && upper[i] <= 'z') upper[i] = static_cast<char>(upper[i] - 32);
      if (i % 2 == 0) mixed[i] = upper[i];
    }
    CHECK(table.Find(spec->name) == spec);
    CHECK(table.Find(upper) == spec);
    CHECK(table.Find(mixed) == spec);
    // Near misses: one byte more or less, or a byte whose case bit differs
    // but that is no letter ('@' for '`', '[' for '{', '\x01' for '!'...).
    std::vector<std::string> misses = {spec->name + "x", spec->name.substr(1), spec->name + '\0'};
    for (size_t i = 0; i < spec->name.size(); ++i) {
      std::string flipped = spec->name;
      flipped[i] = static_cast<char>(flipped[i] ^ 0x20);
      misses.push_back(flipped);
      flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
      misses.push_back(flipped);
    }
    for (const std::string& m : misses) {
      INFO("probe: ", m);
      CHECK(table.Find(m) == ScanFor(m));
    }
  }
  for (const char* probe :
       {"", "x", "@et", "`et", "SET\0", "s\xc5\xbft", "sEt", "GET", "lock.acquire", "LOCK.ACQUIRE",
        "LOCK.ACQUIRX", "evalsha", "EVALSHA_RO",
        "a-name-longer-than-any-command-the-table-holds-at-all-xxxxxxxxxxxxx"}) {
    INFO("probe: ", probe);
    CHECK(table.Find(probe) == ScanFor(probe));
  }
  CHECK(table.Find("set") != nullptr);
  CHECK(table.Find("SeT") == table.Find("set"));
}

TEST_CASE("hot path: an idle client's buffer comes back as one read chunk, and goes again") {
  InputBuffer in;
  CHECK(in.capacity() == 0);
  for (int round = 0; round < 3; ++round) {
    size_t room = 0;
    char* p = in.PrepareRead(&room);
    REQUIRE(p != nullptr);
    CHECK(room == InputBuffer::kReadChunk);
    CHECK(in.capacity() == InputBuffer::kReadChunk);
    CHECK(in.Pending().empty());
    std::memcpy(p, "PING\r\n", 6);
    in.Commit(6);
    CHECK(in.Pending() == "PING\r\n");
    in.Consume(6);
    CHECK(in.capacity() == 0);
    CHECK(in.size() == 0);
  }
  // A big argument announced from idle: the reservation holds, reads fill it.
  REQUIRE(in.Reserve(100000));
  CHECK(in.filling());
  size_t room = 0;
  char* p = in.PrepareRead(&room);
  REQUIRE(p != nullptr);
  CHECK(room == 100000);
  in.Clear();
  CHECK(in.capacity() == 0);
  p = in.PrepareRead(&room);
  REQUIRE(p != nullptr);
  CHECK(room == InputBuffer::kReadChunk);
  CHECK_FALSE(in.filling());
}

}  // namespace
}  // namespace lockd
