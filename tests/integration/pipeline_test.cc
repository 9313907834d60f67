// Pipelining: deep pipelines on one connection, replies in order,
// and inline and multibulk commands mixed in one stream, however it is split.
#include <doctest/doctest.h>

#include "harness.h"

using namespace lockd_test;

TEST_CASE("pipeline: 10,000 commands appended at once are answered in order") {
  START_SERVER(srv);
  auto c = srv.Connect(20000);
  REQUIRE(c->ok());
  constexpr int kCommands = 10000;
  for (int i = 0; i < kCommands; ++i) {
    if (i % 2 == 0) {
      c->Append({"LOCK.ACQUIRE", "pipe:" + std::to_string(i), "h", "60000"});
    } else {
      c->Append({"ECHO", "reply-" + std::to_string(i)});
    }
  }
  REQUIRE(c->Flush());
  int64_t last_token = 0;
  int bad = 0;
  for (int i = 0; i < kCommands && bad < 5; ++i) {
    Reply r = c->GetReply();
    REQUIRE_MESSAGE(r, "no reply ", i, ": ", c->error());
    if (i % 2 == 0) {
      if (!r.is_int() || r.integer() <= last_token) {
        ++bad;
        FAIL_CHECK("reply ", i, ": ", r.Describe(), " after token ", last_token);
      }
      last_token = r.integer();
    } else if (r.str() != "reply-" + std::to_string(i)) {
      ++bad;
      FAIL_CHECK("reply ", i, ": ", r.Describe());
    }
  }
  Reply r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == kCommands / 2, r.Describe());
  r = c->Cmd({"LOCK.FENCE", "pipe:9998"});
  CHECK_MESSAGE(r.integer() == last_token, r.Describe());
}

TEST_CASE("pipeline: inline and multibulk commands mixed in one stream") {
  START_SERVER(srv);
  const std::string stream =
      "PING\r\n"
      "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n"
      "ECHO \"x y\"\r\n"
      "LOCK.ACQUIRE mixed holder 10000\r\n"
      "*2\r\n$10\r\nLOCK.FENCE\r\n$5\r\nmixed\r\n"
      "\r\n"  // an empty inline line is skipped
      "GET mixed\n"  // a bare LF ends an inline command too
      "*3\r\n$4\r\nECHO\r\n";  // ...and a multibulk split in the middle
  const std::string tail = "$0\r\n\r\n$1\r\nz\r\nPING last\r\n";

  auto check = [&](RawConn& conn) {
    std::string pong = conn.ReadValue();
    CHECK(pong == "+PONG\r\n");
    CHECK(conn.ReadValue() == "$3\r\nabc\r\n");
    CHECK(conn.ReadValue() == "$3\r\nx y\r\n");
    std::string token = conn.ReadValue();
    REQUIRE_MESSAGE(token.size() > 3, token);
    CHECK(token[0] == ':');
    CHECK(conn.ReadValue() == token);  // LOCK.FENCE mixed: the same token
    CHECK(conn.ReadValue() == "$6\r\nholder\r\n");
  };

  SUBCASE("in one write") {
    auto conn = srv.ConnectRaw();
    REQUIRE(conn->ok());
    REQUIRE(conn->Send(stream + tail));
    check(*conn);
    // ECHO with two arguments is a wrong arity, then the last PING.
    std::string err = conn->ReadValue();
    CHECK(err == "-ERR wrong number of arguments for 'echo' command\r\n");
    CHECK(conn->ReadValue() == "$4\r\nlast\r\n");
  }
  SUBCASE("one byte at a time") {
    auto conn = srv.ConnectRaw();
    REQUIRE(conn->ok());
    std::string all = stream + tail;
    for (char ch : all) REQUIRE(conn->Send(std::string(1, ch)));
    check(*conn);
    CHECK(conn->ReadValue() == "-ERR wrong number of arguments for 'echo' command\r\n");
    CHECK(conn->ReadValue() == "$4\r\nlast\r\n");
  }
  SUBCASE("the rest of a split command arrives later") {
    auto conn = srv.ConnectRaw();
    REQUIRE(conn->ok());
    REQUIRE(conn->Send(stream));
    check(*conn);
    // The half command has no reply yet.
    CHECK_FALSE(conn->Readable(100));
    REQUIRE(conn->Send(tail));
    CHECK(conn->ReadValue() == "-ERR wrong number of arguments for 'echo' command\r\n");
    CHECK(conn->ReadValue() == "$4\r\nlast\r\n");
  }
}

TEST_CASE("pipeline: a large bulk argument split across many writes") {
  START_SERVER(srv);
  auto conn = srv.ConnectRaw();
  REQUIRE(conn->ok());
  std::string big(3 * 1024 * 1024 + 7, 'q');
  std::string cmd = Multibulk({"ECHO", big}) + "PING\r\n";
  for (size_t at = 0; at < cmd.size(); at += 100000) {
    REQUIRE(conn->Send(cmd.substr(at, 100000)));
  }
  std::string reply = conn->ReadValue(10000);
  CHECK(reply.size() == BulkBytes(big).size());
  CHECK(reply == BulkBytes(big));
  CHECK(conn->ReadValue() == "+PONG\r\n");
}
