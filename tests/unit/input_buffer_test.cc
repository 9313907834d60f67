// Tests for InputBuffer: a large argument is read in place into room made
// once for all of it (never copied as the buffer grows), pending bytes
// survive every slide and resize, and a big region is given back once the
// command that needed it is consumed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "lockd/resp.h"
#include "net/input_buffer.h"

namespace lockd {

// Reads `bytes` into the buffer the way the server does: PrepareRead, write
// at most `chunk` bytes, Commit. Returns the distinct addresses the first
// pending byte had after each read.
static std::set<const char*> Feed(InputBuffer& in, std::string_view bytes, size_t chunk) {
  std::set<const char*> bases;
  while (!bytes.empty()) {
    size_t available = 0;
    char* p = in.PrepareRead(&available);
    REQUIRE(p != nullptr);
    REQUIRE(available > 0);
    size_t n = std::min(std::min(available, chunk), bytes.size());
    std::memcpy(p, bytes.data(), n);
    in.Commit(n);
    bytes.remove_prefix(n);
    bases.insert(in.Pending().data());
  }
  return bases;
}

TEST_CASE("input buffer: a big bulk is read into room made once, never moved") {
  InputBuffer in;
  RequestParser parser;
  ParserLimits limits;
  std::vector<std::string_view> args;
  constexpr size_t kLen = 48 * 1024 * 1024;
  const std::string header = "*2\r\n$6\r\nEXISTS\r\n$" + std::to_string(kLen) + "\r\n";
  std::string body(kLen, 'b');
  for (size_t i = 0; i < kLen; i += 4096) body[i] = static_cast<char>('a' + (i / 4096) % 26);
  body += "\r\n";

  // The header and the first bytes of the bulk arrive in one read.
  std::string first = header + body.substr(0, 1000);
  Feed(in, first, first.size());
  REQUIRE(parser.Parse(in.Pending(), limits, &args) == ParseStatus::kNeedMore);
  const size_t needed = parser.big_bulk_end();
  REQUIRE(needed == header.size() + kLen + 2);
  REQUIRE(in.Reserve(needed));
  CHECK(in.capacity() >= needed);
  CHECK(in.capacity() < needed + 2 * InputBuffer::kReadChunk);
  const char* base = in.Pending().data();

  // The rest, in reads of 64 KiB: the bytes never move, so nothing is copied.
  std::set<const char*> bases = Feed(in, std::string_view(body).substr(1000), 64 * 1024);
  CHECK(bases.size() == 1);
  CHECK(*bases.begin() == base);
  CHECK(in.capacity() < needed + 2 * InputBuffer::kReadChunk);

  REQUIRE(parser.Parse(in.Pending(), limits, &args) == ParseStatus::kOk);
  REQUIRE(args.size() == 2);
  CHECK(args[1].size() == kLen);
  CHECK(args[1] == std::string_view(body).substr(0, kLen));
  in.Consume(parser.consumed());
  // The client is idle again: the big region is gone.
  CHECK(in.capacity() == 0);
  CHECK(in.size() == 0);
}

TEST_CASE("input buffer: a read while filling a reservation stops at its end") {
  InputBuffer in;
  size_t available = 0;
  char* p = in.PrepareRead(&available);
  REQUIRE(p != nullptr);
  REQUIRE(available >= 64);
  in.Commit(10);
  // Room for 100 bytes of command fits the capacity already there: no resize,
  // and the read that fills it must not run on past it.
  REQUIRE(in.Reserve(100));
  REQUIRE(in.capacity() > 100);
  REQUIRE(in.filling());
  in.PrepareRead(&available);
  CHECK(available == 90);
  in.Commit(90);
  CHECK_FALSE(in.filling());
}

TEST_CASE("input buffer: the parser reports only big bulks still waiting for data") {
  RequestParser parser;
  ParserLimits limits;
  std::vector<std::string_view> args;
  const std::string small = "*2\r\n$4\r\nECHO\r\n$100\r\n";
  CHECK(parser.Parse(small, limits, &args) == ParseStatus::kNeedMore);
  CHECK(parser.big_bulk_end() == 0);
  parser.Reset();

  const size_t big = RequestParser::kBigBulkLen;
  const std::string head = "*3\r\n$4\r\nECHO\r\n$" + std::to_string(big) + "\r\n";
  CHECK(parser.Parse(head, limits, &args) == ParseStatus::kNeedMore);
  CHECK(parser.big_bulk_end() == head.size() + big + 2);
  // Once it is complete, the parser waits for the next header: nothing big.
  const std::string done = head + std::string(big, 'x') + "\r\n";
  std::string more = done + "$3\r\n";
  CHECK(parser.Parse(more, limits, &args) == ParseStatus::kNeedMore);
  CHECK(parser.big_bulk_end() == 0);
  // A second big bulk is reported from its own offset.
  std::string second = done + "$" + std::to_string(big + 1) + "\r\n";
  parser.Reset();
  CHECK(parser.Parse(second, limits, &args) == ParseStatus::kNeedMore);
  CHECK(parser.big_bulk_end() == second.size() + big + 1 + 2);
}

TEST_CASE("input buffer: two big bulks and pipelined commands keep every byte") {
  InputBuffer in;
  RequestParser parser;
  ParserLimits limits;
  std::vector<std::string_view> args;
  const std::string key(3 * 1024 * 1024 + 7, 'k');
  std::string holder(2 * 1024 * 1024 + 3, 'h');
  holder[12345] = 'X';
  std::string stream = "*1\r\n$4\r\nPING\r\n";  // a small command first: start_ moves
  stream += "*4\r\n$12\r\nLOCK.ACQUIRE\r\n$" + std::to_string(key.size()) + "\r\n" + key +
            "\r\n$" + std::to_string(holder.size()) + "\r\n" + holder + "\r\n$4\r\n1000\r\n";
  stream += "*1\r\n$4\r\nPING\r\n";

  std::vector<std::vector<std::string>> commands;
  std::string_view rest = stream;
  while (!rest.empty() || in.size() > 0) {
    if (!rest.empty()) {
      size_t n = std::min<size_t>(rest.size(), 100 * 1000);
      std::string_view piece = rest.substr(0, n);
      Feed(in, piece, 37 * 1000);
      rest.remove_prefix(n);
    }
    for (;;) {
      ParseStatus st = parser.Parse(in.Pending(), limits, &args);
      if (st == ParseStatus::kNeedMore) {
        if (size_t need = parser.big_bulk_end(); need > in.size()) REQUIRE(in.Reserve(need));
        break;
      }
      REQUIRE(st == ParseStatus::kOk);
      commands.emplace_back(args.begin(), args.end());
      in.Consume(parser.consumed());
      if (in.size() == 0) break;
    }
    if (rest.empty()) break;
  }
  REQUIRE(commands.size() == 3);
  CHECK(commands[0] == std::vector<std::string>{"PING"});
  REQUIRE(commands[1].size() == 4);
  CHECK(commands[1][1] == key);
  CHECK(commands[1][2] == holder);
  CHECK(commands[1][3] == "1000");
  CHECK(commands[2] == std::vector<std::string>{"PING"});
  CHECK(in.capacity() <= 2 * InputBuffer::kReadChunk);
}

TEST_CASE("input buffer: a large region is given back when few bytes are left") {
  InputBuffer in;
  std::string bytes(4 * 1024 * 1024, 'p');
  Feed(in, bytes, 1 << 20);
  CHECK(in.capacity() >= bytes.size());
  in.Consume(bytes.size() - 100);
  CHECK(in.size() == 100);
  CHECK(in.capacity() <= 2 * InputBuffer::kReadChunk);
  CHECK(in.Pending() == std::string(100, 'p'));
  in.Consume(100);
  CHECK(in.size() == 0);
}

}  // namespace lockd

namespace lockd {

TEST_CASE("input buffer: an idle client holds no input memory") {
  InputBuffer in;
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  Feed(in, ping, ping.size());
  CHECK(in.capacity() > 0);
  in.Consume(ping.size());
  // Thousands of idle connections must not hold a read chunk each.
  CHECK(in.capacity() == 0);
  // A partial command keeps its bytes.
  Feed(in, ping.substr(0, 5), 5);
  in.Consume(0);
  CHECK(in.Pending() == ping.substr(0, 5));
}

}  // namespace lockd
