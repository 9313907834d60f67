// Many clients at once: the loop reads, answers and closes a bounded number
// of clients per iteration and the rest in the next ones, and holds replies
// until the log sync that covers them. Every client still gets its own
// reply, in order, once, a QUIT still closes after its reply, and every
// socket of a client that left is closed.
#include <doctest/doctest.h>

#include <filesystem>
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

namespace {

// Open descriptors of process `pid` (its sockets, log files, epoll...).
int OpenFds(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("fan-in: 1,000 waiters that disconnect at once all leave, and every socket is closed") {
  // More clients end in one iteration than it closes sockets for: the rest
  // are closed in later iterations, while the server goes on serving.
  START_SERVER(srv);
  auto owner = srv.Connect();
  REQUIRE(owner->Cmd({"LOCK.ACQUIRE", "storm", "owner", "60000"}).integer() > 0);
  int before = OpenFds(srv.pid());
  constexpr int kClients = 1000;
  {
    std::vector<std::unique_ptr<RawConn>> conns;
    for (int i = 0; i < kClients; ++i) {
      conns.push_back(std::make_unique<RawConn>(srv.port()));
      REQUIRE(conns.back()->Send(
          Multibulk({"LOCK.ACQUIRE", "storm", "w" + std::to_string(i), "60000", "WAIT", "60000"})));
    }
    REQUIRE(WaitFor([&] { return WaitersOf(*owner, "storm") == kClients; }, 20000));
  }  // every waiter disconnects here, at once
  REQUIRE(WaitFor([&] { return WaitersOf(*owner, "storm") == 0; }, 20000));
  CHECK(WaitFor([&] { return OpenFds(srv.pid()) <= before; }, 20000));
  CHECK(InfoField(owner->Cmd({"INFO", "clients"}).str(), "connected_clients") == "1");
  // The key still works: a new waiter is served when the owner releases.
  auto late = srv.Connect();
  int64_t token = owner->Cmd({"LOCK.FENCE", "storm"}).integer();
  late->Append({"LOCK.ACQUIRE", "storm", "late", "60000", "WAIT", "10000"});
  REQUIRE(late->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*owner, "storm") == 1; }, 10000));
  CHECK(owner->Cmd({"LOCK.RELEASE", "storm", "owner", std::to_string(token)}).integer() == 1);
  CHECK(late->GetReply().integer() > token);
}
