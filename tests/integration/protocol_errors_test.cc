// Malformed input: each protocol error gets Redis's exact reply,
// then that connection, and only it, is closed. Also the smaller limits and
// replies before authentication (requirepass).
#include <doctest/doctest.h>

#include "harness.h"

using namespace lockd_test;

namespace {

// Sends `input` on a new connection and checks that the server replies
// exactly `expected` and then closes the connection; `other` must still work.
void CheckProtocolError(const TestServer& srv, Client& other, const std::string& input,
                        const std::string& expected) {
  auto conn = srv.ConnectRaw();
  REQUIRE(conn->ok());
  // Part of a long input may be refused with a reset once the server has
  // closed the socket; what it sent before that still counts.
  conn->Send(input);
  bool closed = false;
  std::string got = conn->ReadUntilClosed(3000, &closed);
  std::string shown = input.size() > 40 ? input.substr(0, 40) + "..." : input;
  CHECK_MESSAGE(got == expected, "input: ", shown);
  CHECK_MESSAGE(closed, "connection not closed after: ", shown);
  Reply r = other.Cmd({"PING"});
  CHECK_MESSAGE(r.str() == "PONG", r.Describe());
}

}  // namespace

TEST_CASE("protocol errors: each gets Redis's text and closes only that connection") {
  START_SERVER(srv);
  auto other = srv.Connect();
  REQUIRE(other->ok());
  Reply t = other->Cmd({"LOCK.ACQUIRE", "kept", "h", "60000"});
  REQUIRE(t.is_int());

  SUBCASE("invalid multibulk length") {
    CheckProtocolError(srv, *other, "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    CheckProtocolError(srv, *other, "*-2x\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
    CheckProtocolError(srv, *other, "*99999999999\r\n",
                       "-ERR Protocol error: invalid multibulk length\r\n");
  }
  SUBCASE("expected '$'") {
    CheckProtocolError(srv, *other, "*1\r\n+x\r\n", "-ERR Protocol error: expected '$', got '+'\r\n");
    CheckProtocolError(srv, *other, "*2\r\n$4\r\nECHO\r\n:5\r\n",
                       "-ERR Protocol error: expected '$', got ':'\r\n");
  }
  SUBCASE("invalid bulk length") {
    CheckProtocolError(srv, *other, "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    CheckProtocolError(srv, *other, "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n");
    // One byte over the default proto-max-bulk-len (512 MB).
    CheckProtocolError(srv, *other, "*1\r\n$536870913\r\n",
                       "-ERR Protocol error: invalid bulk length\r\n");
  }
  SUBCASE("a bulk over a configured proto-max-bulk-len") {
    Reply r = other->Cmd({"CONFIG", "SET", "proto-max-bulk-len", "1mb"});
    REQUIRE_MESSAGE(r.str() == "OK", r.Describe());
    CheckProtocolError(srv, *other, "*2\r\n$4\r\nECHO\r\n$1048577\r\n",
                       "-ERR Protocol error: invalid bulk length\r\n");
    // At the limit it is accepted.
    auto conn = srv.ConnectRaw();
    std::string big(1048576, 'b');
    REQUIRE(conn->Send(Multibulk({"ECHO", big})));
    CHECK(conn->ReadValue(10000) == BulkBytes(big));
  }
  SUBCASE("too big inline request") {
    CheckProtocolError(srv, *other, std::string(70000, 'a'),
                       "-ERR Protocol error: too big inline request\r\n");
  }
  SUBCASE("unbalanced quotes") {
    CheckProtocolError(srv, *other, "ECHO \"abc\r\n",
                       "-ERR Protocol error: unbalanced quotes in request\r\n");
    CheckProtocolError(srv, *other, "ECHO 'abc\r\n",
                       "-ERR Protocol error: unbalanced quotes in request\r\n");
  }
  SUBCASE("too big mbulk count string") {
    CheckProtocolError(srv, *other, "*" + std::string(70000, '1'),
                       "-ERR Protocol error: too big mbulk count string\r\n");
  }
  SUBCASE("too big bulk count string") {
    CheckProtocolError(srv, *other, "*1\r\n$" + std::string(70000, '1'),
                       "-ERR Protocol error: too big bulk count string\r\n");
  }
  SUBCASE("replies before the error are kept") {
    CheckProtocolError(srv, *other, "PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n",
                       "+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n");
  }

  // No malformed input lost the server's state.
  Reply r = other->Cmd({"LOCK.FENCE", "kept"});
  CHECK_MESSAGE(r.integer() == t.integer(), r.Describe());
}

TEST_CASE("authentication: requirepass, NOAUTH, WRONGPASS and the pre-auth limits") {
  START_SERVER(srv, "--requirepass", "pw");

  SUBCASE("commands before AUTH get NOAUTH and the connection stays open") {
    auto conn = srv.ConnectRaw();
    REQUIRE(conn->ok());
    CHECK(conn->Command({"PING"}) == "-NOAUTH Authentication required.\r\n");
    CHECK(conn->Command({"LOCK.ACQUIRE", "k", "h", "1000"}) ==
          "-NOAUTH Authentication required.\r\n");
    REQUIRE(conn->Send("GET k\r\n"));
    CHECK(conn->ReadValue() == "-NOAUTH Authentication required.\r\n");
    CHECK(conn->Command({"AUTH", "wrong"}) ==
          "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    CHECK(conn->Command({"AUTH", "default", "wrong"}) ==
          "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    CHECK(conn->Command({"AUTH", "someone", "pw"}) ==
          "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    CHECK(conn->Command({"PING"}) == "-NOAUTH Authentication required.\r\n");
    CHECK(conn->Command({"AUTH", "pw"}) == "+OK\r\n");
    CHECK(conn->Command({"PING"}) == "+PONG\r\n");
    std::string token = conn->Command({"LOCK.ACQUIRE", "k", "h", "1000"});
    CHECK_MESSAGE(token.rfind(":", 0) == 0, token);
    // Once authenticated, the full limits apply.
    std::vector<std::string> exists = {"EXISTS"};
    for (int i = 0; i < 12; ++i) exists.push_back("k");
    CHECK(conn->Command(exists) == ":12\r\n");
    CHECK(conn->Command({"ECHO", std::string(20000, 'e')}) == BulkBytes(std::string(20000, 'e')));
  }
  SUBCASE("AUTH default pw, and RESET forgets it") {
    auto conn = srv.ConnectRaw();
    CHECK(conn->Command({"AUTH", "default", "pw"}) == "+OK\r\n");
    CHECK(conn->Command({"PING"}) == "+PONG\r\n");
    CHECK(conn->Command({"RESET"}) == "+RESET\r\n");
    CHECK(conn->Command({"PING"}) == "-NOAUTH Authentication required.\r\n");
  }
  SUBCASE("HELLO 3 AUTH default pw authenticates and switches protocol") {
    auto conn = srv.ConnectRaw();
    std::string r = conn->Command({"HELLO", "3"});
    CHECK_MESSAGE(r.rfind("-NOAUTH ", 0) == 0, r);
    r = conn->Command({"HELLO", "3", "AUTH", "default", "wrong"});
    CHECK_MESSAGE(r.rfind("-WRONGPASS ", 0) == 0, r);
    CHECK(conn->Command({"PING"}) == "-NOAUTH Authentication required.\r\n");
    r = conn->Command({"HELLO", "3", "AUTH", "default", "pw"});
    CHECK_MESSAGE(r.rfind("%7\r\n", 0) == 0, r);
    CHECK(conn->Command({"PING"}) == "+PONG\r\n");
    CHECK(conn->Command({"LOCK.FENCE", "free"}) == "_\r\n");
  }
  SUBCASE("unauthenticated multibulk length") {
    auto conn = srv.ConnectRaw();
    conn->Send("*11\r\n");
    bool closed = false;
    CHECK(conn->ReadUntilClosed(3000, &closed) ==
          "-ERR Protocol error: unauthenticated multibulk length\r\n");
    CHECK(closed);
    // Ten arguments are still fine before AUTH (an error reply, no close).
    auto ok_conn = srv.ConnectRaw();
    std::vector<std::string> ten = {"EXISTS"};
    for (int i = 0; i < 9; ++i) ten.push_back("k");
    CHECK(ok_conn->Command(ten) == "-NOAUTH Authentication required.\r\n");
  }
  SUBCASE("unauthenticated bulk length") {
    auto conn = srv.ConnectRaw();
    conn->Send("*1\r\n$16385\r\n");
    bool closed = false;
    CHECK(conn->ReadUntilClosed(3000, &closed) ==
          "-ERR Protocol error: unauthenticated bulk length\r\n");
    CHECK(closed);
    auto ok_conn = srv.ConnectRaw();
    CHECK(ok_conn->Command({"ECHO", std::string(16384, 'x')}) ==
          "-NOAUTH Authentication required.\r\n");
  }
}

TEST_CASE("authentication: AUTH without requirepass") {
  START_SERVER(srv);
  auto c = srv.Connect();
  Reply r = c->Cmd({"AUTH", "pw"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  CHECK(r.str().rfind("ERR AUTH <password> called without any password configured", 0) == 0);
  r = c->Cmd({"PING"});
  CHECK_MESSAGE(r.str() == "PONG", r.Describe());
}
