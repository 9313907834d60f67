// Many clients answered at once: the loop sends a bounded number of clients'
// replies per iteration and the rest in the next ones, and holds replies
// until the log sync that covers them. Every client still gets its own
// reply, in order, once, and a QUIT still closes after its reply.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "harness.h"

using namespace lockd_test;

namespace {

// Opens `n` connections, sends each one pipeline, and checks each reply.
void SendToAll(TestServer& srv, int n, bool quit) {
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<RawConn>(srv.port()));
  }
  // All commands are in the server's sockets before any reply is read, so
  // that one iteration has far more clients to answer than its budget.
  for (int i = 0; i < n; ++i) {
    std::string key = "fan:" + std::to_string(i);
    std::string batch = Multibulk({"LOCK.ACQUIRE", key, "h" + std::to_string(i), "60000"}) +
                        Multibulk({"ECHO", "after-" + std::to_string(i)});
    if (quit) batch += Multibulk({"QUIT"});
    REQUIRE(conns[i]->Send(batch));
  }
  std::set<std::string> tokens;
  for (int i = 0; i < n; ++i) {
    std::string grant = conns[i]->ReadValue(20000);
    REQUIRE_MESSAGE(grant.size() > 1, "client ", i, " got no grant");
    CHECK_MESSAGE(grant[0] == ':', "client ", i, ": ", grant);
    tokens.insert(grant);
    std::string echo = conns[i]->ReadValue(20000);
    CHECK_MESSAGE(echo == BulkBytes("after-" + std::to_string(i)), "client ", i, ": ", echo);
    if (quit) {
      CHECK(conns[i]->ReadValue(20000) == "+OK\r\n");
      bool closed = false;
      conns[i]->ReadUntilClosed(20000, &closed);
      CHECK_MESSAGE(closed, "client ", i, " was not closed after QUIT");
    }
  }
  CHECK(tokens.size() == static_cast<size_t>(n));  // one grant each, all distinct
}

}  // namespace

TEST_CASE("fan-in: 900 clients answered at once each get their replies (log off)") {
  START_SERVER(srv);
  SendToAll(srv, 900, false);
  auto c = srv.Connect();
  CHECK(c->Cmd({"DBSIZE"}).integer() == 900);
}

TEST_CASE("fan-in: 900 clients answered at once, replies held for the sync (always), then QUIT") {
  ServerOptions options;
  options.appendonly = true;
  options.extra = {"--appendfsync", "always"};
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  SendToAll(srv, 900, true);
  auto c = srv.Connect();
  CHECK(c->Cmd({"DBSIZE"}).integer() == 900);
}

// A pipeline that takes far longer than one iteration's time for commands
// runs in turns: its commands still run once each, in order, while another
// client is answered in between.
TEST_CASE("fan-in: a pipeline longer than an iteration's budget runs in order, in turns") {
  START_SERVER(srv);
  auto c = srv.Connect(60000);
  REQUIRE(c->ok());
  constexpr int kCommands = 200000;
  for (int i = 0; i < kCommands; ++i) {
    c->Append({"LOCK.ACQUIRE", "turn:" + std::to_string(i), "h", "600000"});
  }
  REQUIRE(c->Flush());
  auto other = srv.Connect();
  REQUIRE(other->ok());
  CHECK(other->Cmd({"PING"}).str() == "PONG");
  int64_t last = 0;
  int bad = 0;
  for (int i = 0; i < kCommands && bad < 5; ++i) {
    Reply r = c->GetReply();
    REQUIRE_MESSAGE(r, "no reply ", i, ": ", c->error());
    if (!r.is_int() || r.integer() <= last) {
      ++bad;
      FAIL_CHECK("reply ", i, ": ", r.Describe(), " after ", last);
    }
    last = r.integer();
  }
  CHECK(other->Cmd({"DBSIZE"}).integer() == kCommands);
}
