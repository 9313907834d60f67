// Tests for RequestParser: Redis 7's framing and error texts for multibulk
// and inline commands, the same commands whatever way the bytes are split or
// moved between calls, no allocation from a client's counts, and work linear
// in the bytes received.
#include <doctest/doctest.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "lockd/resp.h"
#include "util/errors.h"

namespace lockd {

// The time checks below are not speed assertions: they only catch work that
// grows quadratically (re-scanning from the start would take hours here), so
// the bound is far above any machine's normal time, even a loaded CI runner.
constexpr auto kQuadraticGuard = std::chrono::seconds(20);
namespace {

using namespace std::string_literals;
using Command = std::vector<std::string>;

struct Outcome {
  std::vector<Command> commands;  // empty commands included
  ParseStatus last = ParseStatus::kNeedMore;
  std::string error;
  size_t unconsumed = 0;

  bool operator==(const Outcome&) const = default;
};

// Feeds `input` to a parser the way the server does, `chunk` bytes per read
// (0: all at once): a pending buffer that grows, parsed until kNeedMore, with
// consumed bytes dropped. With `move_bytes`, every call sees the pending bytes
// at a new address and the old copy is overwritten, so a parser that kept a
// pointer instead of an offset reads garbage.
Outcome Feed(std::string_view input, const std::vector<size_t>& cuts,
             const ParserLimits& limits = {}, bool move_bytes = true) {
  RequestParser parser;
  std::vector<std::string_view> args;
  Outcome out;
  std::string pending;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    end = std::min(end, input.size());
    if (end < fed) continue;
    pending.append(input.substr(fed, end - fed));
    fed = end;
    while (!pending.empty()) {
      if (move_bytes) {
        std::string moved(pending);
        std::fill(pending.begin(), pending.end(), '#');
        pending.swap(moved);
      }
      ParseStatus status = parser.Parse(pending, limits, &args);
      out.last = status;
      if (status == ParseStatus::kError) {
        out.error = parser.error();
        CHECK(args.empty());
        out.unconsumed = pending.size() + (input.size() - fed);  // from the bad command on
        return out;
      }
      if (status == ParseStatus::kNeedMore) {
        CHECK(args.empty());
        break;
      }
      out.commands.emplace_back(args.begin(), args.end());
      REQUIRE(parser.consumed() > 0);
      REQUIRE(parser.consumed() <= pending.size());
      pending.erase(0, parser.consumed());
    }
  }
  // Everything fed was parsed, or waits for more bytes.
  out.last = ParseStatus::kNeedMore;
  out.unconsumed = pending.size();
  return out;
}

Outcome OneShot(std::string_view input, const ParserLimits& limits = {}) {
  return Feed(input, {}, limits);
}

Outcome ByteByByte(std::string_view input, const ParserLimits& limits = {},
                   bool move_bytes = true) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  return Feed(input, cuts, limits, move_bytes);
}

// One command, parsed once: the status and, on error, the text.
struct Single {
  ParseStatus status;
  std::string error;
  Command args;
  size_t consumed = 0;
};

Single ParseOnce(std::string_view input, const ParserLimits& limits = {}) {
  RequestParser parser;
  std::vector<std::string_view> args;
  Single s{parser.Parse(input, limits, &args), "", {}, 0};
  if (s.status == ParseStatus::kError) s.error = parser.error();
  if (s.status == ParseStatus::kOk) {
    s.args.assign(args.begin(), args.end());
    s.consumed = parser.consumed();
  }
  return s;
}

std::string Multibulk(const Command& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

ParserLimits Unauthenticated() {
  ParserLimits limits;
  limits.authenticated = false;
  return limits;
}

const std::string kPipeline =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    "PING\r\n"
    "*2\r\n$4\r\nECHO\r\n$7\r\na\r\n\0b\r\n\r\n"s  // binary bulk: CR, LF, NUL
    "set \"quoted \\x41\\n\" 'it\\'s' plain\n"
    "\r\n"
    "*0\r\n"
    "*-1\r\n"
    "*1\r\n$0\r\n\r\n"
    "   \t  \r\n"
    "*4\r\n$12\r\nLOCK.ACQUIRE\r\n$17\r\ninventory:seat:42\r\n$8\r\nclient-7\r\n$5\r\n30000\r\n"
    "*1\r\n$4\r\nPING\r\n";

const std::vector<Command> kPipelineCommands = {
    {"SET", "key", "value"},
    {"PING"},
    {"ECHO", "a\r\n\0b\r\n"s},
    {"set", "quoted A\n", "it's", "plain"},
    {},
    {},
    {},
    {""},
    {},
    {"LOCK.ACQUIRE", "inventory:seat:42", "client-7", "30000"},
    {"PING"},
};

TEST_CASE("parser: a pipeline of multibulk and inline commands, one shot") {
  Outcome o = OneShot(kPipeline);
  CHECK(o.last == ParseStatus::kNeedMore);
  CHECK(o.unconsumed == 0);
  CHECK(o.commands == kPipelineCommands);
}

TEST_CASE("parser: the pipeline cut at every split point, and byte by byte") {
  const Outcome whole = OneShot(kPipeline);
  for (size_t cut = 0; cut <= kPipeline.size(); ++cut) {
    CAPTURE(cut);
    REQUIRE(Feed(kPipeline, {cut}) == whole);
  }
  for (size_t a = 0; a <= kPipeline.size(); a += 7) {
    for (size_t b = a; b <= kPipeline.size(); b += 5) {
      CAPTURE(a);
      CAPTURE(b);
      REQUIRE(Feed(kPipeline, {a, b}) == whole);
    }
  }
  CHECK(ByteByByte(kPipeline) == whole);
}

TEST_CASE("parser: a pipeline ending in a protocol error, at every split point") {
  const std::string input = kPipeline + "*2\r\n$3\r\nGET\r\n+foo\r\n" + Multibulk({"PING"});
  const Outcome whole = OneShot(input);
  CHECK(whole.commands == kPipelineCommands);
  CHECK(whole.last == ParseStatus::kError);
  CHECK(whole.error == "ERR Protocol error: expected '$', got '+'");
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    REQUIRE(Feed(input, {cut}) == whole);
  }
  CHECK(ByteByByte(input) == whole);
}

TEST_CASE("parser: multibulk args are views into the input, consumed is exact") {
  RequestParser parser;
  std::vector<std::string_view> args;
  const std::string input = Multibulk({"LOCK.ACQUIRE", "k", "holder"}) + "PING\r\n";
  REQUIRE(parser.Parse(input, {}, &args) == ParseStatus::kOk);
  REQUIRE(args.size() == 3);
  CHECK(args[0] == "LOCK.ACQUIRE");
  CHECK(args[2] == "holder");
  CHECK(args[0].data() == input.data() + 9);  // no copy
  CHECK(parser.consumed() == input.size() - 6);
  // The parser is ready for the next command at once.
  REQUIRE(parser.Parse(std::string_view(input).substr(parser.consumed()), {}, &args) ==
          ParseStatus::kOk);
  CHECK(args == std::vector<std::string_view>{"PING"});
  CHECK(parser.consumed() == 6);
}

TEST_CASE("parser: empty input, empty lines and empty multibulks") {
  CHECK(ParseOnce("").status == ParseStatus::kNeedMore);
  Single s = ParseOnce("\n");
  CHECK(s.status == ParseStatus::kOk);
  CHECK(s.args.empty());
  CHECK(s.consumed == 1);
  s = ParseOnce("\r\nPING\r\n");
  CHECK(s.status == ParseStatus::kOk);
  CHECK(s.args.empty());
  CHECK(s.consumed == 2);
  s = ParseOnce("*0\r\n");
  CHECK(s.status == ParseStatus::kOk);
  CHECK(s.args.empty());
  CHECK(s.consumed == 4);
  s = ParseOnce("*-5\r\n*1\r\n");
  CHECK(s.status == ParseStatus::kOk);
  CHECK(s.args.empty());
  CHECK(s.consumed == 5);
}

TEST_CASE("parser: inline lines end at \\n with an optional \\r") {
  Single s = ParseOnce("PING\n");
  CHECK(s.args == Command{"PING"});
  CHECK(s.consumed == 5);
  s = ParseOnce("PING\r\n");
  CHECK(s.args == Command{"PING"});
  CHECK(s.consumed == 6);
  // Only one \r is dropped; the splitter treats the other as a separator.
  s = ParseOnce("PING\r\r\n");
  CHECK(s.args == Command{"PING"});
  CHECK(s.consumed == 7);
  s = ParseOnce("\"a\r\"\n");
  CHECK(s.args == Command{"a\r"});
  CHECK(ParseOnce("PING").status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("PING\r").status == ParseStatus::kNeedMore);
}

TEST_CASE("parser: inline quoting follows sdssplitargs") {
  struct Case {
    std::string line;
    Command args;
  };
  const std::vector<Case> cases = {
      {"SET a b", {"SET", "a", "b"}},
      {"  SET \t a   b  ", {"SET", "a", "b"}},
      {"\"a b\" 'c d'", {"a b", "c d"}},
      {"\"\" ''", {"", ""}},
      {"\"\\x41\\x4a\\x4A\\xzz\\x4\"", {"AJJxzzx4"}},
      {"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", {"\n\r\t\b\a\\\"q"}},
      {"'a\\'b' 'c\\d' 'e\\n'", {"a'b", "c\\d", "e\\n"}},
      {"a\"b c\" d", {"ab c", "d"}},
      {"a'b c' d", {"ab c", "d"}},
      {"back\\slash \\", {"back\\slash", "\\"}},
      // isspace() skips \v and \f between arguments, but only space, \t, \r
      // and \n end an unquoted one.
      {"a\vb \va \f c", {"a\vb", "a", "c"}},
      {"\"a\"\v'b'\f", {"a", "b"}},
      {"\"\\xff\\x00\"", {"\xff\0"s}},
      {"   ", {}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    Single s = ParseOnce(c.line + "\n");
    REQUIRE(s.status == ParseStatus::kOk);
    CHECK(s.args == c.args);
    CHECK(s.consumed == c.line.size() + 1);
  }
}

TEST_CASE("parser: unbalanced quotes in inline commands") {
  const char* kText = "ERR Protocol error: unbalanced quotes in request";
  for (std::string line : {"SET \"a b", "SET 'a b", "back\\slash \\\"", "\"a\"b", "'a'b",
                           "\"abc\\\"", "'abc\\'", "x \"a\"\"b\"", "\"\\", "'"}) {
    CAPTURE(line);
    Single s = ParseOnce(line + "\r\n");
    CHECK(s.status == ParseStatus::kError);
    CHECK(s.error == kText);
  }
  CHECK(std::string(errors::kUnbalancedQuotes) == kText);
}

TEST_CASE("parser: multibulk count errors") {
  const char* kInvalid = "ERR Protocol error: invalid multibulk length";
  for (std::string line :
       {"*abc", "*1x", "*+1", "*01", "* 1", "*1 ", "*", "*-0", "*--1", "*2147483648",
        "*99999999999999999999", "*123456789012345678901", "*9223372036854775808"}) {
    CAPTURE(line);
    Single s = ParseOnce(line + "\r\n");
    CHECK(s.status == ParseStatus::kError);
    CHECK(s.error == kInvalid);
  }
  // The limit itself (INT_MAX, as Redis 7) is allowed: the command just is not complete.
  CHECK(ParseOnce("*2147483647\r\n").status == ParseStatus::kNeedMore);
  ParserLimits small;
  small.max_multibulk_len = 3;
  CHECK(ParseOnce("*3\r\n", small).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*4\r\n", small).error == kInvalid);
}

TEST_CASE("parser: unauthenticated limits") {
  const ParserLimits unauth = Unauthenticated();
  CHECK(ParseOnce("*11\r\n", unauth).error ==
        "ERR Protocol error: unauthenticated multibulk length");
  CHECK(ParseOnce("*10\r\n", unauth).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*11\r\n").status == ParseStatus::kNeedMore);
  // Redis checks the count's syntax and hard limit before authentication.
  CHECK(ParseOnce("*x\r\n", unauth).error == "ERR Protocol error: invalid multibulk length");
  CHECK(ParseOnce("*2147483648\r\n", unauth).error ==
        "ERR Protocol error: invalid multibulk length");
  CHECK(ParseOnce("*-1\r\n", unauth).status == ParseStatus::kOk);

  CHECK(ParseOnce("*1\r\n$16385\r\n", unauth).error ==
        "ERR Protocol error: unauthenticated bulk length");
  CHECK(ParseOnce("*1\r\n$16384\r\n", unauth).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$16385\r\n").status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$-1\r\n", unauth).error == "ERR Protocol error: invalid bulk length");
  CHECK(ParseOnce("*1\r\n$536870913\r\n", unauth).error ==
        "ERR Protocol error: invalid bulk length");
  // An inline command has no such limits.
  CHECK(ParseOnce("a b c d e f g h i j k l\r\n", unauth).args.size() == 12);
}

TEST_CASE("parser: bulk header errors") {
  CHECK(ParseOnce("*1\r\n+foo\r\n").error == "ERR Protocol error: expected '$', got '+'");
  CHECK(ParseOnce("*2\r\n$1\r\na\r\n:1\r\n").error == "ERR Protocol error: expected '$', got ':'");
  CHECK(ParseOnce("*1\r\nPING\r\n").error == "ERR Protocol error: expected '$', got 'P'");
  // Like addReplyErrorFormat, a CR or LF in the text becomes a space.
  CHECK(ParseOnce("*1\r\n\r\n").error == "ERR Protocol error: expected '$', got ' '");
  // Redis looks at the first byte only once the whole line is there.
  CHECK(ParseOnce("*1\r\n+foo").status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n+foo\r").status == ParseStatus::kNeedMore);

  const char* kInvalid = "ERR Protocol error: invalid bulk length";
  for (std::string line : {"$abc", "$-1", "$-5", "$", "$ 3", "$3 ", "$+3", "$03", "$-0",
                           "$536870913", "$99999999999999999999"}) {
    CAPTURE(line);
    Single s = ParseOnce("*1\r\n" + line + "\r\nabc\r\n");
    CHECK(s.status == ParseStatus::kError);
    CHECK(s.error == kInvalid);
  }
  CHECK(ParseOnce("*1\r\n$536870912\r\n").status == ParseStatus::kNeedMore);
  ParserLimits small;
  small.max_bulk_len = 4;
  CHECK(ParseOnce("*1\r\n$4\r\nPING\r\n", small).args == Command{"PING"});
  CHECK(ParseOnce("*1\r\n$5\r\nPINGS\r\n", small).error == kInvalid);
}

TEST_CASE("parser: bulk headers of every width decide as the general rules do") {
  // Short canonical headers are read in one pass; every other form takes the
  // general path. Both must agree at each boundary: digit count, zero,
  // leading zeros, the limit, and a line whose byte after '\r' is missing.
  const char* kInvalid = "ERR Protocol error: invalid bulk length";
  CHECK(ParseOnce("*1\r\n$0\r\n\r\n").args == Command{""});
  CHECK(ParseOnce("*1\r\n$00\r\n\r\n").error == kInvalid);
  CHECK(ParseOnce("*1\r\n$010\r\n").error == kInvalid);
  CHECK(ParseOnce("*1\r\n$3\r").status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$3\r\nabc\r\n").args == Command{"abc"});
  ParserLimits big;
  big.max_bulk_len = INT64_MAX;
  // 19 nines is past INT64_MAX, hence invalid even without a limit.
  CHECK(ParseOnce("*1\r\n$9999999999999999999\r\n", big).error == kInvalid);
  for (int digits = 1; digits <= 18; ++digits) {
    std::string len(static_cast<size_t>(digits), '9');
    CAPTURE(len);
    // A length this long is never complete here: the parser waits for it.
    CHECK(ParseOnce("*1\r\n$" + len + "\r\n", big).status == ParseStatus::kNeedMore);
    // Over the default limit of 512 MB from ten digits on.
    Single s = ParseOnce("*1\r\n$" + len + "\r\n");
    if (digits < 9) {
      CHECK(s.status == ParseStatus::kNeedMore);
    } else {
      CHECK(s.error == kInvalid);
    }
  }
  ParserLimits exact;
  exact.max_bulk_len = 12345;
  CHECK(ParseOnce("*1\r\n$12345\r\n", exact).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$12346\r\n", exact).error == kInvalid);
}

TEST_CASE("parser: a bulk is taken on trust: the two bytes after it are skipped unread") {
  Single s = ParseOnce("*2\r\n$3\r\nfooXY$3\r\nbarZZ*1\r\n");
  CHECK(s.status == ParseStatus::kOk);
  CHECK(s.args == Command{"foo", "bar"});
  CHECK(s.consumed == 22);
  CHECK(ParseOnce("*1\r\n$3\r\nfoo").status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$3\r\nfooX").status == ParseStatus::kNeedMore);
  // A bulk longer than announced: the extra bytes start the next "line".
  CHECK(ParseOnce("*2\r\n$3\r\nfooo\r\n$1\r\nx\r\n").error ==
        "ERR Protocol error: expected '$', got ' '");
  // The byte after a header's '\r' is needed but not checked either.
  s = ParseOnce("*1\rX$4\r\nPING\r\n");
  CHECK(s.args == Command{"PING"});
  s = ParseOnce("*1\r\n$4\rYPING\r\n");
  CHECK(s.args == Command{"PING"});
  CHECK(ParseOnce("*1\r").status == ParseStatus::kNeedMore);
}

TEST_CASE("parser: over-long lines") {
  const ParserLimits limits;
  const size_t kMax = limits.max_inline_len;
  REQUIRE(kMax == 64 * 1024);

  // Inline: more than the limit pending with no newline is an error; a line
  // of exactly the limit is fine.
  const std::string at_limit(kMax, 'a');
  CHECK(ParseOnce(at_limit).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce(at_limit + "a").error == "ERR Protocol error: too big inline request");
  Single s = ParseOnce(at_limit + "\n");
  REQUIRE(s.status == ParseStatus::kOk);
  CHECK(s.args == Command{at_limit});
  CHECK(ByteByByte(at_limit + "\n", limits, false).commands == std::vector<Command>{{at_limit}});
  // One byte more fails once it arrives without its newline; but a newline
  // that arrived in the same read is found, however far (as in Redis, where
  // the outcome depends on what one read brought).
  Outcome o = ByteByByte(at_limit + "a\n", limits, false);
  CHECK(o.error == "ERR Protocol error: too big inline request");
  CHECK(o.commands.empty());
  CHECK(ParseOnce(at_limit + "bc\n").args == Command{at_limit + "bc"});

  // "*N": the count line.
  const std::string ones(kMax - 1, '1');
  CHECK(ParseOnce("*" + ones).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*" + ones + "1").error == "ERR Protocol error: too big mbulk count string");
  CHECK(ParseOnce("*" + ones + "\r\n").error == "ERR Protocol error: invalid multibulk length");
  o = ByteByByte("*" + ones + "11\r\n", limits, false);
  CHECK(o.error == "ERR Protocol error: too big mbulk count string");

  // "$N": the limit counts from the start of the bulk header line.
  CHECK(ParseOnce("*1\r\n$" + ones).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$" + ones + "1").error == "ERR Protocol error: too big bulk count string");
  CHECK(ParseOnce("*2\r\n$1\r\nx\r\n$" + ones).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$" + ones + "\r\n").error == "ERR Protocol error: invalid bulk length");
  CHECK(ParseOnce("*1\r\n+" + ones + "1").error == "ERR Protocol error: too big bulk count string");

  ParserLimits tight;
  tight.max_inline_len = 4;
  CHECK(ParseOnce("PING", tight).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("PINGS", tight).error == "ERR Protocol error: too big inline request");
  CHECK(ParseOnce("*1\r\n$4\r\nPING\r\n", tight).args == Command{"PING"});
  CHECK(ParseOnce("*1\r\n$1234", tight).error == "ERR Protocol error: too big bulk count string");
}

TEST_CASE("parser: a NUL hides a line end, as Redis's strchr does") {
  const std::string pad(70 * 1024, 'x');
  CHECK(ParseOnce("PING\0\r\n"s).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("PING\0\r\nPING\r\n"s + pad + "\n").error ==
        "ERR Protocol error: too big inline request");
  CHECK(ParseOnce("\0\n"s).status == ParseStatus::kNeedMore);

  CHECK(ParseOnce("*1\0\r\n$4\r\nPING\r\n"s).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\0\r\n$4\r\nPING\r\n"s + pad).error ==
        "ERR Protocol error: too big mbulk count string");
  CHECK(ParseOnce("*1\r\n$4\0\r\nPING\r\n"s).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n\0$4\r\nPING\r\n"s).status == ParseStatus::kNeedMore);
  CHECK(ParseOnce("*1\r\n$4\0\r\nPING\r\n"s + pad).error ==
        "ERR Protocol error: too big bulk count string");
  // A '\r' as the last byte of an over-long hidden line is still hidden.
  CHECK(ParseOnce("*1\0"s + pad + "\r").error == "ERR Protocol error: too big mbulk count string");
  CHECK(ParseOnce("*1"s + pad + "\r").status == ParseStatus::kNeedMore);
  // NULs inside bulks are data.
  CHECK(ParseOnce("*1\r\n$3\r\n\0\0\0\r\n"s).args == Command{"\0\0\0"s});
  // Same answers whatever the split.
  const std::string input = "*2\r\n$1\r\na\r\n$1\0\r\n"s + pad;
  const Outcome whole = OneShot(input);
  CHECK(whole.error == "ERR Protocol error: too big bulk count string");
  CHECK(Feed(input, {14}, {}, false) == whole);
  CHECK(Feed(input, {16}, {}, false) == whole);
  CHECK(Feed(input, {17, 18, 19}, {}, false) == whole);
}

TEST_CASE("parser: huge counts and lengths allocate nothing up front") {
  auto in_use = [] {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<long long>(mi.uordblks + mi.hblkhd);
  };
  RequestParser parser;
  std::vector<std::string_view> args;
  const long long before = in_use();
  auto start = std::chrono::steady_clock::now();
  CHECK(parser.Parse("*1048576\r\n", {}, &args) == ParseStatus::kNeedMore);
  CHECK(parser.Parse("*1048576\r\n$536870912\r\n", {}, &args) == ParseStatus::kNeedMore);
  CHECK(parser.Parse("*1048576\r\n$536870912\r\nabc", {}, &args) == ParseStatus::kNeedMore);
  const long long grown = in_use() - before;
  CHECK(std::chrono::steady_clock::now() - start < kQuadraticGuard);
  CHECK(grown < 64 * 1024);  // a million (offset, length) pairs would be 16 MB
  CHECK(args.capacity() == 0);

  // A big command that does arrive is parsed, and memory is released after.
  parser.Reset();
  std::vector<std::string_view>().swap(args);
  const std::string input = Multibulk(Command(5000, "x"));
  const long long baseline = in_use();
  REQUIRE(parser.Parse(input, {}, &args) == ParseStatus::kOk);
  CHECK(args.size() == 5000);
  std::vector<std::string_view>().swap(args);
  REQUIRE(parser.Parse("PING\r\n", {}, &args) == ParseStatus::kOk);
  CHECK(in_use() - baseline < 32 * 1024);  // 5000 retained spans: 128 KiB
}

TEST_CASE("parser: Reset forgets a partial command; errors reset too") {
  RequestParser parser;
  std::vector<std::string_view> args;
  CHECK(parser.Parse("*2\r\n$3\r\nfoo\r\n", {}, &args) == ParseStatus::kNeedMore);
  parser.Reset();
  REQUIRE(parser.Parse("PING\r\n", {}, &args) == ParseStatus::kOk);
  CHECK(args == std::vector<std::string_view>{"PING"});

  REQUIRE(parser.Parse("*x\r\n", {}, &args) == ParseStatus::kError);
  CHECK(parser.error() == "ERR Protocol error: invalid multibulk length");
  CHECK(args.empty());
  parser.Reset();
  CHECK(parser.error().empty());
  const std::string get = Multibulk({"GET", "k"});
  REQUIRE(parser.Parse(get, {}, &args) == ParseStatus::kOk);
  CHECK(args == std::vector<std::string_view>{"GET", "k"});
}

TEST_CASE("parser: a steady stream of small commands reuses its vectors") {
  RequestParser parser;
  std::vector<std::string_view> args;
  const std::string cmd = Multibulk({"LOCK.ACQUIRE", "inventory:seat:42", "client-7", "30000"});
  REQUIRE(parser.Parse(cmd, {}, &args) == ParseStatus::kOk);
  const std::string_view* data = args.data();
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(parser.Parse(cmd, {}, &args) == ParseStatus::kOk);
    REQUIRE(parser.Parse("SET a \"b c\"\r\n", {}, &args) == ParseStatus::kOk);
  }
  CHECK(args.data() == data);
  CHECK(args.size() == 3);
}

TEST_CASE("parser: incremental work is linear in the bytes received") {
  using Clock = std::chrono::steady_clock;
  // A 1 MB inline line a byte at a time: re-scanning from the start on each
  // call would read ~5e11 bytes.
  {
    ParserLimits limits;
    limits.max_inline_len = 2 * 1024 * 1024;
    RequestParser parser;
    std::vector<std::string_view> args;
    std::string buf;
    const size_t n = 1024 * 1024;
    buf.reserve(n + 1);
    auto start = Clock::now();
    bool waiting = true;
    for (size_t i = 0; i < n; ++i) {
      buf.push_back(i % 100 == 99 ? ' ' : 'a');
      waiting &= parser.Parse(buf, limits, &args) == ParseStatus::kNeedMore;
    }
    CHECK(waiting);
    buf.push_back('\n');
    REQUIRE(parser.Parse(buf, limits, &args) == ParseStatus::kOk);
    CHECK(args.size() == n / 100 + 1);
    CHECK(Clock::now() - start < kQuadraticGuard);
  }
  // Header lines too: 1 MB "*" and "$" lines a byte at a time.
  for (const std::string prefix : {"*", "*1\r\n$"}) {
    ParserLimits limits;
    limits.max_inline_len = 2 * 1024 * 1024;
    RequestParser parser;
    std::vector<std::string_view> args;
    std::string buf = prefix;
    const size_t n = 1024 * 1024;
    buf.reserve(buf.size() + n + 2);
    auto start = Clock::now();
    bool waiting = true;
    for (size_t i = 0; i < n; ++i) {
      buf.push_back('1');
      waiting &= parser.Parse(buf, limits, &args) == ParseStatus::kNeedMore;
    }
    CHECK(waiting);
    buf += "\r\n";
    REQUIRE(parser.Parse(buf, limits, &args) == ParseStatus::kError);
    CHECK(Clock::now() - start < kQuadraticGuard);
  }
  // A 100 MB bulk in 64 KiB reads: nothing is re-read, nothing copied.
  {
    const size_t len = 100 * 1024 * 1024;
    std::string input = "*2\r\n$3\r\nSET\r\n$" + std::to_string(len) + "\r\n";
    const size_t data_at = input.size();
    input.resize(data_at + len, '\r');
    for (size_t i = data_at; i < input.size(); i += 2) input[i] = '\n';
    input += "\r\n";
    RequestParser parser;
    std::vector<std::string_view> args;
    auto start = Clock::now();
    ParseStatus status = ParseStatus::kNeedMore;
    size_t calls = 0;
    for (size_t have = 64 * 1024; status == ParseStatus::kNeedMore; have += 64 * 1024) {
      have = std::min(have, input.size());
      status = parser.Parse(std::string_view(input).substr(0, have), {}, &args);
      ++calls;
      if (have == input.size()) break;
    }
    REQUIRE(status == ParseStatus::kOk);
    CHECK(calls == (input.size() + 65535) / 65536);
    REQUIRE(args.size() == 2);
    CHECK(args[1].size() == len);
    CHECK(args[1].data() == input.data() + data_at);
    CHECK(parser.consumed() == input.size());
    CHECK(Clock::now() - start < kQuadraticGuard);
  }
  // Many small args a byte at a time.
  {
    Command many(20000, "arg");
    const std::string input = Multibulk(many);
    auto start = Clock::now();
    Outcome o = ByteByByte(input, {}, false);
    CHECK(o.commands == std::vector<Command>{many});
    CHECK(Clock::now() - start < kQuadraticGuard);
  }
}

TEST_CASE("parser: random commands, random chunks, round trip") {
  std::mt19937_64 rng(20240607);
  auto uniform = [&](size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng);
  };
  for (int round = 0; round < 200; ++round) {
    std::vector<Command> commands;
    std::string input;
    const size_t count = uniform(1, 20);
    for (size_t c = 0; c < count; ++c) {
      Command args(uniform(0, 8));
      for (std::string& a : args) {
        const size_t len = uniform(0, 9) == 0 ? uniform(0, 40000) : uniform(0, 30);
        a.resize(len);
        for (char& ch : a) {
          // Mostly bytes that matter to the framing.
          static const char kSpecial[] = {'\r', '\n', '\0', '$', '*', ' ', '"'};
          ch = uniform(0, 3) == 0 ? kSpecial[uniform(0, 6)] : static_cast<char>(uniform(0, 255));
        }
      }
      input += Multibulk(args);
      commands.push_back(std::move(args));
    }
    std::vector<size_t> cuts;
    for (size_t at = 0; at < input.size();) {
      at += uniform(0, 3) == 0 ? uniform(1, 8) : uniform(1, 70000);
      cuts.push_back(at);
    }
    CAPTURE(round);
    Outcome o = Feed(input, cuts, {}, round % 4 == 0);
    REQUIRE(o.last == ParseStatus::kNeedMore);
    CHECK(o.unconsumed == 0);
    CHECK(o.commands == commands);
  }
}

}  // namespace
}  // namespace lockd
