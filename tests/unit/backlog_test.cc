// The replication backlog: offsets as Redis counts them, what a PSYNC
// offset can be served from, wrap-around, and resizing.
#include <doctest/doctest.h>

#include <string>

#include "repl/backlog.h"

namespace lockd::repl {
namespace {

std::string From(const Backlog& b, uint64_t next) {
  std::string out;
  b.CopyFrom(next, &out);
  return out;
}

TEST_CASE("backlog: offsets count stream bytes from 1, as master_repl_offset") {
  Backlog b(8, 0);
  CHECK(b.end_offset() == 0);
  CHECK(b.histlen() == 0);
  CHECK(b.first_offset() == 1);
  CHECK(b.Covers(1));  // nothing missed yet
  CHECK_FALSE(b.Covers(2));
  b.Append("abc");
  CHECK(b.end_offset() == 3);
  CHECK(b.first_offset() == 1);
  CHECK(From(b, 1) == "abc");
  CHECK(From(b, 3) == "c");
  CHECK(From(b, 4) == "");
  CHECK_FALSE(b.Covers(0));
  CHECK_FALSE(b.Covers(5));
}

TEST_CASE("backlog: keeps the newest capacity bytes across wrap-around") {
  Backlog b(8, 100);
  CHECK(b.first_offset() == 101);
  b.Append("0123456");
  b.Append("789ab");  // wraps
  CHECK(b.end_offset() == 112);
  CHECK(b.histlen() == 8);
  CHECK(b.first_offset() == 105);
  CHECK(From(b, 105) == "456789ab");
  CHECK(From(b, 111) == "ab");
  CHECK_FALSE(b.Covers(104));  // fell out: a full resync
  b.Append("a very long append that is longer than the ring");
  CHECK(b.histlen() == 8);
  CHECK(From(b, b.first_offset()) == "the ring");
}

TEST_CASE("backlog: resizing keeps the newest bytes that fit") {
  Backlog b(8, 0);
  b.Append("abcdefgh");
  b.Resize(4);
  CHECK(b.end_offset() == 8);
  CHECK(b.first_offset() == 5);
  CHECK(From(b, 5) == "efgh");
  b.Resize(16);
  CHECK(From(b, 5) == "efgh");
  b.Append("ij");
  CHECK(From(b, 5) == "efghij");
  CHECK(b.end_offset() == 10);
}

}  // namespace
}  // namespace lockd::repl
