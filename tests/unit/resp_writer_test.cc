// Tests for ReplyWriter and OutputBuffer: every reply type byte for byte in
// RESP2 and RESP3, integers and doubles against the C library's formatting,
// and the block queue across block boundaries, partial consumes and writev
// runs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lockd/resp.h"

namespace lockd {
namespace {

using namespace std::string_literals;

std::string Contents(const OutputBuffer& out, size_t max_runs = SIZE_MAX) {
  std::string s;
  out.ForEachRun(max_runs, [&](const char* p, size_t n) { s.append(p, n); });
  return s;
}

std::vector<size_t> RunLengths(const OutputBuffer& out, size_t max_runs = SIZE_MAX) {
  std::vector<size_t> runs;
  out.ForEachRun(max_runs, [&](const char*, size_t n) { runs.push_back(n); });
  return runs;
}

// Encodes with a fresh writer in the given protocol.
template <typename Write>
std::string Encode(int protocol, Write&& write) {
  OutputBuffer out;
  ReplyWriter w(&out, protocol);
  write(w);
  std::string s = Contents(out);
  CHECK(s.size() == out.size());
  return s;
}

std::string Printf17g(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

TEST_CASE("writer: simple strings and errors") {
  for (int proto : {2, 3}) {
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Simple("OK"); }) == "+OK\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Simple(""); }) == "+\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Simple("a\r\nb\nc\r"); }) == "+a  b c \r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Error("ERR syntax error"); }) ==
          "-ERR syntax error\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Error("NOAUTH Authentication required."); }) ==
          "-NOAUTH Authentication required.\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Error("ERR bad\r\nthing\n"); }) ==
          "-ERR bad  thing \r\n");
    // A caller-supplied '-' is not doubled, as in addReplyErrorLength.
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Error("-WRONGTYPE x"); }) == "-WRONGTYPE x\r\n");
  }
  // Long texts take the piecewise path; still one line.
  std::string long_text(3000, 'e');
  long_text[10] = '\r';
  long_text[11] = '\n';
  long_text[2999] = '\n';
  std::string expected = long_text;
  expected[10] = expected[11] = expected[2999] = ' ';
  CHECK(Encode(2, [&](ReplyWriter& w) { w.Error("ERR " + long_text); }) ==
        "-ERR " + expected + "\r\n");
  CHECK(Encode(3, [&](ReplyWriter& w) { w.Simple(long_text); }) == "+" + expected + "\r\n");
  CHECK(Encode(3, [&](ReplyWriter& w) { w.Simple(std::string(600, '\n')); }) ==
        "+" + std::string(600, ' ') + "\r\n");
}

TEST_CASE("writer: integers, hand-formatted") {
  for (int proto : {2, 3}) {
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Integer(0); }) == ":0\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Integer(1); }) == ":1\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Integer(-1); }) == ":-1\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Integer(INT64_MAX); }) ==
          ":9223372036854775807\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Integer(INT64_MIN); }) ==
          ":-9223372036854775808\r\n");
  }
  std::vector<int64_t> values;
  for (int64_t p = 1; p <= INT64_MAX / 10; p *= 10) {
    for (int64_t v : {p - 1, p, p + 1, 2 * p - 1, 9 * p + 9}) {
      values.push_back(v);
      values.push_back(-v);
    }
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const int64_t v = static_cast<int64_t>(rng());
    values.push_back(v >> (rng() % 64));
  }
  for (int64_t v : values) {
    CAPTURE(v);
    REQUIRE(Encode(2, [&](ReplyWriter& w) { w.Integer(v); }) == ":" + std::to_string(v) + "\r\n");
  }
}

TEST_CASE("writer: bulks, nulls and aggregates") {
  for (int proto : {2, 3}) {
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Bulk("hello"); }) == "$5\r\nhello\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Bulk(""); }) == "$0\r\n\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Bulk("a\r\n\0b"s); }) == "$5\r\na\r\n\0b\r\n"s);
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Array(0); }) == "*0\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Array(3); }) == "*3\r\n");
    CHECK(Encode(proto, [](ReplyWriter& w) { w.Raw("+RAW\r\n"); }) == "+RAW\r\n");
  }
  const std::string big(100000, 'z');
  CHECK(Encode(2, [&](ReplyWriter& w) { w.Bulk(big); }) == "$100000\r\n" + big + "\r\n");
  const std::string mid(700, 'm');
  CHECK(Encode(3, [&](ReplyWriter& w) { w.Bulk(mid); }) == "$700\r\n" + mid + "\r\n");

  CHECK(Encode(2, [](ReplyWriter& w) { w.Null(); }) == "$-1\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Null(); }) == "_\r\n");
  CHECK(Encode(2, [](ReplyWriter& w) { w.NullArray(); }) == "*-1\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.NullArray(); }) == "_\r\n");

  CHECK(Encode(2, [](ReplyWriter& w) { w.Map(2); }) == "*4\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Map(2); }) == "%2\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Map(0); }) == "%0\r\n");
  CHECK(Encode(2, [](ReplyWriter& w) { w.Set(5); }) == "*5\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Set(5); }) == "~5\r\n");
}

TEST_CASE("writer: booleans, doubles and verbatim strings") {
  CHECK(Encode(2, [](ReplyWriter& w) { w.Bool(true); }) == ":1\r\n");
  CHECK(Encode(2, [](ReplyWriter& w) { w.Bool(false); }) == ":0\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Bool(true); }) == "#t\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Bool(false); }) == "#f\r\n");

  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(1.5); }) == ",1.5\r\n");
  CHECK(Encode(2, [](ReplyWriter& w) { w.Double(1.5); }) == "$3\r\n1.5\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(3); }) == ",3\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(0.1); }) == ",0.10000000000000001\r\n");
  CHECK(Encode(2, [](ReplyWriter& w) { w.Double(0.1); }) == "$19\r\n0.10000000000000001\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(-0.0); }) == ",-0\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(1e300); }) == ",1.0000000000000001e+300\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(-2.5e-308); }) == ",-2.4999999999999998e-308\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Double(123456789012345680000.0); }) ==
        ",1.2345678901234568e+20\r\n");
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(Encode(3, [&](ReplyWriter& w) { w.Double(inf); }) == ",inf\r\n");
  CHECK(Encode(3, [&](ReplyWriter& w) { w.Double(-inf); }) == ",-inf\r\n");
  CHECK(Encode(2, [&](ReplyWriter& w) { w.Double(inf); }) == "$3\r\ninf\r\n");
  CHECK(Encode(2, [&](ReplyWriter& w) { w.Double(-inf); }) == "$4\r\n-inf\r\n");
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof(v));
    if (std::isnan(v)) continue;
    if (i % 2) v = static_cast<double>(static_cast<int64_t>(rng()) >> (rng() % 64)) / 1024;
    const std::string text = Printf17g(v);
    CAPTURE(text);
    REQUIRE(Encode(3, [&](ReplyWriter& w) { w.Double(v); }) == "," + text + "\r\n");
    REQUIRE(Encode(2, [&](ReplyWriter& w) { w.Double(v); }) ==
            "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n");
  }

  CHECK(Encode(3, [](ReplyWriter& w) { w.Verbatim("hello\n"); }) == "=10\r\ntxt:hello\n\r\n");
  CHECK(Encode(3, [](ReplyWriter& w) { w.Verbatim(""); }) == "=4\r\ntxt:\r\n");
  CHECK(Encode(2, [](ReplyWriter& w) { w.Verbatim("hello\n"); }) == "$6\r\nhello\n\r\n");
  const std::string info(20000, 'i');
  CHECK(Encode(3, [&](ReplyWriter& w) { w.Verbatim(info); }) == "=20004\r\ntxt:" + info + "\r\n");
}

TEST_CASE("writer: a reply sequence, protocol switched midway") {
  OutputBuffer out;
  ReplyWriter w(&out, 2);
  CHECK(w.protocol() == 2);
  w.Map(1);
  w.Bulk("k");
  w.Null();
  w.set_protocol(3);
  CHECK(w.protocol() == 3);
  w.Map(1);
  w.Bulk("k");
  w.Null();
  CHECK(Contents(out) == "*2\r\n$1\r\nk\r\n$-1\r\n%1\r\n$1\r\nk\r\n_\r\n");
}

TEST_CASE("writer: many small replies fill blocks and stay intact") {
  OutputBuffer out;
  ReplyWriter w(&out, 3);
  std::string expected;
  for (int i = 0; i < 20000; ++i) {
    w.Integer(i);
    expected += ":" + std::to_string(i) + "\r\n";
    w.Bulk(std::string(i % 37, 'b'));
    expected += "$" + std::to_string(i % 37) + "\r\n" + std::string(i % 37, 'b') + "\r\n";
    w.Simple("OK");
    expected += "+OK\r\n";
  }
  CHECK(out.size() == expected.size());
  CHECK(Contents(out) == expected);
  CHECK(RunLengths(out).size() > 1);
  // Room left unused at block ends is small.
  CHECK(out.capacity() < expected.size() + expected.size() / 20 + OutputBuffer::kBlockSize);
}

TEST_CASE("output buffer: appends across block boundaries, runs, consume") {
  constexpr size_t kBlock = OutputBuffer::kBlockSize;
  OutputBuffer out;
  CHECK(out.empty());
  CHECK(out.capacity() == 0);
  CHECK(RunLengths(out).empty());

  std::string data;
  for (size_t i = 0; i < 40000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  out.Append(data.substr(0, 100));
  out.Append(data.substr(100, 20000));
  out.Append(data.substr(20100));
  CHECK(out.size() == 40000);
  CHECK(out.capacity() == 3 * kBlock);
  CHECK(RunLengths(out) == std::vector<size_t>{kBlock, kBlock, 40000 - 2 * kBlock});
  CHECK(Contents(out) == data);
  // writev takes at most max_runs runs.
  CHECK(RunLengths(out, 2) == std::vector<size_t>{kBlock, kBlock});
  CHECK(Contents(out, 1) == data.substr(0, kBlock));
  CHECK(RunLengths(out, 0).empty());

  out.Consume(0);
  CHECK(Contents(out) == data);
  out.Consume(100);
  CHECK(out.size() == 39900);
  CHECK(RunLengths(out) == std::vector<size_t>{kBlock - 100, kBlock, 40000 - 2 * kBlock});
  CHECK(Contents(out) == data.substr(100));
  out.Consume(kBlock - 100);  // exactly the first block: it is freed
  CHECK(out.capacity() == 2 * kBlock);
  CHECK(Contents(out) == data.substr(kBlock));
  out.Consume(kBlock + 5);  // across a boundary
  CHECK(out.capacity() == kBlock);
  CHECK(Contents(out) == data.substr(2 * kBlock + 5));
  out.Append("tail");
  CHECK(Contents(out) == data.substr(2 * kBlock + 5) + "tail");
  out.Consume(out.size());
  CHECK(out.empty());
  CHECK(out.capacity() == 0);
  CHECK(RunLengths(out).empty());
  out.Append("again");
  CHECK(Contents(out) == "again");
  out.Clear();
  CHECK(out.empty());
  CHECK(out.capacity() == 0);
  out.Append("");
  CHECK(out.empty());
}

TEST_CASE("output buffer: Reserve and Commit") {
  constexpr size_t kBlock = OutputBuffer::kBlockSize;
  OutputBuffer out;
  size_t available = 0;
  char* p = out.Reserve(8, &available);
  CHECK(available == 8);
  std::memcpy(p, "+PONG\r\n", 7);
  out.Commit(7);
  CHECK(Contents(out) == "+PONG\r\n");

  // Too little room left in the tail block: a fresh block, so the room is
  // contiguous; the bytes already queued do not move.
  out.Append(std::string(kBlock - 7 - 3, 'x'));
  const char* first = nullptr;
  out.ForEachRun(1, [&](const char* d, size_t) { first = d; });
  p = out.Reserve(10, &available);
  CHECK(available == 10);
  std::memcpy(p, "0123456789", 10);
  out.Commit(10);
  CHECK(RunLengths(out) == std::vector<size_t>{kBlock - 3, 10});
  out.ForEachRun(1, [&](const char* d, size_t) { CHECK(d == first); });
  CHECK(Contents(out) == "+PONG\r\n" + std::string(kBlock - 10, 'x') + "0123456789");

  // Enough room: the same block, and at most `max`.
  p = out.Reserve(5, &available);
  CHECK(available == 5);
  out.Commit(0);
  CHECK(out.size() == kBlock - 3 + 10);
  // More than a block is capped at one block.
  OutputBuffer big;
  p = big.Reserve(10 * kBlock, &available);
  CHECK(available == kBlock);
  std::memset(p, 'q', available);
  big.Commit(available);
  CHECK(big.size() == kBlock);
  // A Reserve that is never committed leaves nothing behind.
  OutputBuffer lone;
  lone.Reserve(16, &available);
  lone.Commit(0);
  CHECK(lone.empty());
  CHECK(RunLengths(lone).empty());
  lone.Append("x");
  lone.Consume(1);
  CHECK(lone.capacity() == 0);
}

TEST_CASE("output buffer: random operations against a string model") {
  std::mt19937_64 rng(99);
  auto uniform = [&](size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng);
  };
  OutputBuffer out;
  std::string model;
  char next = 0;
  for (int step = 0; step < 20000; ++step) {
    switch (uniform(0, 5)) {
      case 0:
      case 1: {
        std::string s(uniform(0, 1) ? uniform(0, 64) : uniform(0, 40000), '\0');
        for (char& c : s) c = next++;
        out.Append(s);
        model += s;
        break;
      }
      case 2: {
        size_t available = 0;
        const size_t max = uniform(1, 100);
        char* p = out.Reserve(max, &available);
        REQUIRE(available >= max);
        REQUIRE(available <= max);
        const size_t n = uniform(0, available);
        for (size_t i = 0; i < n; ++i) p[i] = next++;
        model.append(p, n);
        out.Commit(n);
        break;
      }
      case 3:
      case 4: {
        const size_t n = uniform(0, model.size());
        out.Consume(n);
        model.erase(0, n);
        break;
      }
      default:
        if (uniform(0, 50) == 0) {
          out.Clear();
          model.clear();
        }
        break;
    }
    REQUIRE(out.size() == model.size());
    REQUIRE(out.empty() == model.empty());
    if (step % 50 == 0) {
      REQUIRE(Contents(out) == model);
      // Every block but the first and last is full but for what a Reserve
      // (here at most 100 bytes) left unused.
      constexpr size_t kBlock = OutputBuffer::kBlockSize;
      REQUIRE(out.capacity() <= 2 * kBlock + model.size() * kBlock / (kBlock - 100));
    }
  }
}

}  // namespace
}  // namespace lockd
