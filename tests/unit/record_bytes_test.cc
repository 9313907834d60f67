// The exact bytes of log records, numbers above all: every length and number
// is written in decimal by hand (no formatting library on this path), so
// the edges (0, one digit, ten digits, the largest token and times) are
// pinned here byte for byte.
#include <doctest/doctest.h>

#include <string>

#include "aof/record.h"

namespace lockd {
namespace {

TEST_CASE("record bytes: grants, frees, reservations and shutdowns in RESP") {
  std::string out;
  aof::AppendGrant(&out, ChangeKind::kGrant, "k", "holder", 1, 0);
  CHECK(out ==
        "*5\r\n$10\r\nLOCK.GRANT\r\n$1\r\nk\r\n$6\r\nholder\r\n$1\r\n1\r\n$1\r\n0\r\n");
  out.clear();
  aof::AppendGrant(&out, ChangeKind::kExtend, std::string(1234, 'x'), "", 9'007'199'254'740'993,
                   1'700'000'000'123);
  CHECK(out == "*5\r\n$11\r\nLOCK.EXTEND\r\n$1234\r\n" + std::string(1234, 'x') +
                   "\r\n$0\r\n\r\n$16\r\n9007199254740993\r\n$13\r\n1700000000123\r\n");
  out.clear();
  aof::AppendGrant(&out, ChangeKind::kGrant, "k", "h", 10, -5);  // a past deadline: 0
  CHECK(out == "*5\r\n$10\r\nLOCK.GRANT\r\n$1\r\nk\r\n$1\r\nh\r\n$2\r\n10\r\n$1\r\n0\r\n");
  out.clear();
  aof::AppendReserve(&out, 0, 9'223'372'036'854'775'807);
  CHECK(out == "*3\r\n$12\r\nLOCK.RESERVE\r\n$1\r\n1\r\n$19\r\n9223372036854775807\r\n");
  out.clear();
  aof::AppendShutdown(&out, 1000);
  CHECK(out == "*2\r\n$13\r\nLOCK.SHUTDOWN\r\n$4\r\n1000\r\n");
  out.clear();
  aof::AppendFree(&out, "key", FreeCause::kNone);
  std::string cause = aof::FreeCauseName(FreeCause::kNone);
  CHECK(out == "*3\r\n$9\r\nLOCK.FREE\r\n$3\r\nkey\r\n$" + std::to_string(cause.size()) +
                   "\r\n" + cause + "\r\n");
}

}  // namespace
}  // namespace lockd
