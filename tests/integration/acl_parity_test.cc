// ACL compared byte for byte with a real redis-server 7.0 (parity.h), in
// RESP2 and RESP3: SETUSER and its errors, GETUSER, LIST, USERS, WHOAMI,
// CAT, LOG (age and client line masked), GENPASS's errors, DRYRUN, HELP,
// AUTH and HELLO AUTH, and the NOPERM refusals of commands, keys and
// channels; and an aclfile written by ACL SAVE on one server loads on the
// other. Rules are chosen among the commands both servers have. Skipped
// without a redis-server binary.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

namespace {

// ACL LOG's entries with what differs by nature blanked: the age and the
// client line (ids, ports, fds).
std::string MaskLog(const std::string& reply) {
  std::string out = std::regex_replace(
      reply, std::regex(R"((age-seconds\r\n)(\$\d+\r\n[^\r]*|,[^\r]*)\r\n)"), "$1AGE\r\n");
  return std::regex_replace(out, std::regex(R"((client-info\r\n)\$\d+\r\n[^\r]*\r\n)"),
                            "$1CLIENT\r\n");
}

void SameLog(Pair& p, const std::vector<std::string>& args) {
  std::string l = MaskLog(p.lockd.Command(args));
  std::string r = MaskLog(p.redis.Command(args));
  CHECK_MESSAGE(l == r, Join(args), "\n  redis: ", Show(r), "\n  lockd: ", Show(l));
}

void SameAll(Pair& p, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) p.Same(Words(line));
}

// The users the cases make (each with at most one single-command rule:
// Redis lists single commands in its hash table's order).
const char* const kUsers[] = {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank",
                              "pub"};

// The cases, on one pair of connections (a protocol already chosen).
void RunCases(Pair& p) {
  SameAll(p, {
                 "ACL WHOAMI",
                 "ACL USERS",
                 "ACL LIST",
                 "ACL GETUSER default",
                 "ACL GETUSER nosuch",
                 "ACL SETUSER alice",
                 "ACL GETUSER alice",
                 "ACL SETUSER alice on >pw ~seat:* %R~r:* %W~w:* %RW~both &news +@read",
                 "ACL SETUSER alice +set",
                 "ACL GETUSER alice",
                 "ACL SETUSER bob reset",
                 "ACL SETUSER carol on nopass allkeys allchannels +@all -@dangerous",
                 "ACL SETUSER dave on nopass ~* +@all -get",
                 "ACL SETUSER erin on #a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3",
                 "ACL SETUSER frank on nopass (~x:* +get) (%W~y:* +set)",
                 "ACL GETUSER frank",
                 "ACL SETUSER gina on nopass +client|id",
                 "ACL SETUSER hank on nopass +select|0",
                 "ACL SETUSER pub on nopass &news +publish",
                 "ACL LIST",
                 "ACL USERS",
                 "ACL SETUSER alice +nosuch",
                 "ACL SETUSER alice +@nosuch",
                 "ACL SETUSER alice bogus",
                 "ACL SETUSER alice allkeys ~x",
                 "ACL SETUSER alice allchannels &x",
                 "ACL SETUSER alice #abc",
                 "ACL SETUSER alice <nope",
                 "ACL SETUSER alice +client|id|x",
                 "ACL SETUSER alice (~x +get",
                 "ACL SETUSER alice on (~x",
                 "ACL GETUSER alice",
                 "ACL DELUSER default",
                 "ACL DELUSER nosuch bob",
                 "ACL LOAD",
                 "ACL SAVE",
                 "ACL GENPASS 0",
                 "ACL GENPASS 4097",
                 "ACL GENPASS abc",
                 "ACL LOG abc",
                 "ACL CAT nosuch",
                 "ACL HELP",
                 "ACL NOSUCH",
                 "ACL SETUSER",
                 "ACL DRYRUN nosuch get k",
                 "ACL DRYRUN alice nosuchcmd",
                 "ACL DRYRUN alice get seat:1",
                 "ACL DRYRUN alice get other",
                 "ACL DRYRUN alice set r:1 v",
                 "ACL DRYRUN alice del seat:1",
                 "ACL DRYRUN pub publish sports m",
                 "ACL DRYRUN pub publish news m",
                 "ACL DRYRUN dave get k",
                 "ACL LOG RESET",
                 "AUTH alice wrong",
                 "AUTH nosuch pw",
                 "AUTH alice pw",
                 "ACL WHOAMI",
                 "GET seat:1",
                 "GET other",
                 "SET w:1 v",
                 "SET r:1 v",
                 "SET w:1 v GET",
                 "SET both v GET",
                 "DEL seat:1",
                 "EXISTS other",
                 "PUBLISH news m",
                 "AUTH pub x",
                 "PUBLISH sports m",
                 "PUBLISH news m",
                 "SUBSCRIBE sports",
                 "AUTH hank x",
                 "SELECT 0",
                 "SELECT 1",
                 "AUTH gina x",
                 "CLIENT KILL ID 1",
                 "AUTH default x",
             });
  SameLog(p, {"ACL", "LOG"});
  SameLog(p, {"ACL", "LOG", "2"});
  SameAll(p, {"ACL LOG RESET", "ACL LOG"});
}

}  // namespace

TEST_CASE("acl parity: ACL commands, AUTH and NOPERM refusals, RESP2 and RESP3") {
  START_REDIS(redis);
  TestServer srv;
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  {
    Pair p(srv.port(), redis.port());
    RunCases(p);
    // ACL CAT: lockd's categories are Redis 7.0's, in its order, then "lock".
    std::string l = p.lockd.Command({"ACL", "CAT"});
    std::string r = p.redis.Command({"ACL", "CAT"});
    std::string redis_count = r.substr(1, r.find('\r') - 1);
    std::string expected = "*" + std::to_string(std::stoi(redis_count) + 1) +
                           r.substr(r.find('\r')) + "$4\r\nlock\r\n";
    CHECK_MESSAGE(l == expected, "\n  redis: ", Show(r), "\n  lockd: ", Show(l));
  }
  {
    Pair p(srv.port(), redis.port());
    p.lockd.Command({"HELLO", "3"});
    p.redis.Command({"HELLO", "3"});
    for (const char* u : kUsers) p.Same({"ACL", "DELUSER", u});
    RunCases(p);
  }
  {
    // A user that cannot run HELLO authenticates with HELLO AUTH all the same.
    Pair p(srv.port(), redis.port());
    SameAll(p, {"HELLO 3 AUTH alice wrong", "HELLO 2 AUTH nosuch x"});
  }
}

TEST_CASE("acl parity: an aclfile saved by one server loads on the other") {
  ScratchDir dir;
  const std::string redis_file = dir.path + "/redis.acl";
  const std::string lockd_file = dir.path + "/lockd.acl";
  std::ofstream(redis_file) << "";
  std::ofstream(lockd_file) << "";
  START_REDIS(redis, "--aclfile", redis_file);
  TestServer srv({"--aclfile", lockd_file});
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  Pair p(srv.port(), redis.port());
  const std::vector<std::string> setup = {
      "ACL SETUSER default resetpass >rootpw",
      "ACL SETUSER alice on >pw ~seat:* %R~r:* &news +@read",
      "ACL SETUSER bob off resetchannels -@all +get",
      "ACL SETUSER carol on nopass allkeys allchannels +@all -@dangerous",
      "ACL SETUSER frank on nopass (~x:* +get) (%W~y:* +set)",
  };
  // Redis saves, lockd loads: then both list the same users.
  for (const std::string& line : setup) p.redis.Command(Words(line));
  CHECK(p.redis.Command({"ACL", "SAVE"}) == "+OK\r\n");
  std::ofstream(lockd_file) << ReadWholeFile(redis_file);
  CHECK(p.lockd.Command({"ACL", "LOAD"}) == "+OK\r\n");
  p.lockd.Command({"AUTH", "rootpw"});
  p.redis.Command({"AUTH", "rootpw"});
  p.Same({"ACL", "LIST"});
  // lockd saves, Redis loads.
  p.lockd.Command({"ACL", "SETUSER", "dave", "on", ">d", "~k:*", "+@all", "-get"});
  CHECK(p.lockd.Command({"ACL", "SAVE"}) == "+OK\r\n");
  std::ofstream(redis_file) << ReadWholeFile(lockd_file);
  CHECK(p.redis.Command({"ACL", "LOAD"}) == "+OK\r\n");
  Pair q(srv.port(), redis.port());
  q.lockd.Command({"AUTH", "rootpw"});
  q.redis.Command({"AUTH", "rootpw"});
  q.Same({"ACL", "LIST"});
}
