// Waiting for a held key: FIFO hand-off on release and expiry,
// wait timeouts, disconnects and CLIENT UNBLOCK leaving the queue, INFO's
// blocked_clients, and commands pipelined behind a blocked acquire.
#include <doctest/doctest.h>

#include "harness.h"

using namespace lockd_test;

namespace {

// Sends LOCK.ACQUIRE key holder ttl WAIT wait on a new connection and waits
// until `control` sees it queued as waiter number `position` (1-based).
std::unique_ptr<Client> StartWaiter(const TestServer& srv, Client& control, const std::string& key,
                                    const std::string& holder, const std::string& ttl_ms,
                                    const std::string& wait_ms, int position) {
  auto w = srv.Connect(8000);
  REQUIRE_MESSAGE(w->ok(), w->error());
  w->Append({"LOCK.ACQUIRE", key, holder, ttl_ms, "WAIT", wait_ms});
  REQUIRE(w->Flush());
  bool queued = WaitFor([&] { return WaitersOf(control, key) == position; }, 3000);
  REQUIRE_MESSAGE(queued, holder, " not seen as waiter ", position, " (waiters=",
                  WaitersOf(control, key), ")");
  return w;
}

int64_t AcquireNow(Client& c, const std::string& key, const std::string& holder,
                   const std::string& ttl_ms) {
  Reply r = c.Cmd({"LOCK.ACQUIRE", key, holder, ttl_ms});
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  return r.integer();
}

}  // namespace

TEST_CASE("waiters: five waiters are granted in FIFO order, each release handing over") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  int64_t token = AcquireNow(*control, "seat", "owner", "30000");

  std::vector<std::unique_ptr<Client>> waiters;
  for (int i = 0; i < 5; ++i) {
    waiters.push_back(
        StartWaiter(srv, *control, "seat", "w" + std::to_string(i), "30000", "5000", i + 1));
  }
  for (auto& w : waiters) CHECK_FALSE(w->ReplyReady(0));
  std::string info = control->Cmd({"INFO", "clients"}).str();
  CHECK_MESSAGE(InfoField(info, "blocked_clients") == "5", info);

  std::string holder = "owner";
  Client* holder_conn = control.get();
  for (int i = 0; i < 5; ++i) {
    Reply r = holder_conn->Cmd({"LOCK.RELEASE", "seat", holder, std::to_string(token)});
    REQUIRE_MESSAGE(r.integer() == 1, "release by ", holder, ": ", r.Describe());
    // The head waiter, and only it, is granted in the same step.
    Reply granted = waiters[i]->GetReply();
    REQUIRE_MESSAGE(granted.is_int(), "waiter ", i, ": ", granted.Describe());
    CHECK_MESSAGE(granted.integer() > token, "waiter ", i, " got ", granted.integer(), " after ",
                  token);
    token = granted.integer();
    holder = "w" + std::to_string(i);
    holder_conn = waiters[i].get();
    for (int j = i + 1; j < 5; ++j) CHECK_FALSE(waiters[j]->ReplyReady(20));
    r = control->Cmd({"LOCK.INFO", "seat"});
    std::optional<LockInfo> li = ParseLockInfo(r);
    REQUIRE_MESSAGE(li.has_value(), r.Describe());
    CHECK(li->holder == holder);
    CHECK(li->token == token);
    CHECK(li->waiters == 4 - i);
    // The lease runs ttl_ms from the grant.
    CHECK(li->ttl_ms > 25000);
  }
  Reply r = holder_conn->Cmd({"LOCK.RELEASE", "seat", holder, std::to_string(token)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = control->Cmd({"LOCK.FENCE", "seat"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  info = control->Cmd({"INFO", "clients"}).str();
  CHECK_MESSAGE(InfoField(info, "blocked_clients") == "0", info);
}

TEST_CASE("waiters: a wait that times out replies nil and leaves the queue") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  int64_t token = AcquireNow(*control, "seat", "owner", "30000");

  auto start = Clock::now();
  auto quick = StartWaiter(srv, *control, "seat", "quick", "10000", "300", 1);
  auto patient = StartWaiter(srv, *control, "seat", "patient", "10000", "5000", 2);
  Reply r = quick->GetReply();
  int64_t waited = ElapsedMs(start);
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  CHECK(waited >= 300);
  CHECK(waited < 2000);
  CHECK(WaitersOf(*control, "seat") == 1);
  // The patient one is now the head and gets the key on release.
  r = control->Cmd({"LOCK.RELEASE", "seat", "owner", std::to_string(token)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = patient->GetReply();
  CHECK_MESSAGE((r.is_int() && r.integer() > token), r.Describe());
  r = control->Cmd({"GET", "seat"});
  CHECK_MESSAGE(r.str() == "patient", r.Describe());
  // The connection that timed out works normally.
  r = quick->Cmd({"PING"});
  CHECK_MESSAGE(r.str() == "PONG", r.Describe());
}

TEST_CASE("waiters: a waiter that disconnects leaves the queue") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  int64_t token = AcquireNow(*control, "seat", "owner", "30000");

  auto first = StartWaiter(srv, *control, "seat", "first", "10000", "5000", 1);
  auto second = StartWaiter(srv, *control, "seat", "second", "10000", "5000", 2);
  auto third = StartWaiter(srv, *control, "seat", "third", "10000", "5000", 3);
  first->Close();
  CHECK(WaitFor([&] { return WaitersOf(*control, "seat") == 2; }, 2000));
  third->Close();
  CHECK(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));

  Reply r = control->Cmd({"LOCK.RELEASE", "seat", "owner", std::to_string(token)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = second->GetReply();
  CHECK_MESSAGE((r.is_int() && r.integer() > token), r.Describe());
  r = control->Cmd({"LOCK.INFO", "seat"});
  std::optional<LockInfo> li = ParseLockInfo(r);
  REQUIRE_MESSAGE(li.has_value(), r.Describe());
  CHECK(li->holder == "second");
  CHECK(li->waiters == 0);
  std::string info = control->Cmd({"INFO", "clients"}).str();
  CHECK_MESSAGE(InfoField(info, "blocked_clients") == "0", info);
}

TEST_CASE("waiters: a waiter killed with CLIENT KILL leaves the queue") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  int64_t token = AcquireNow(*control, "seat", "owner", "30000");
  auto doomed = srv.Connect(8000);
  Reply id = doomed->Cmd({"CLIENT", "ID"});
  REQUIRE(id.is_int());
  doomed->Append({"LOCK.ACQUIRE", "seat", "doomed", "10000", "WAIT", "5000"});
  REQUIRE(doomed->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));
  auto next = StartWaiter(srv, *control, "seat", "next", "10000", "5000", 2);

  Reply r = control->Cmd({"CLIENT", "KILL", "ID", std::to_string(id.integer())});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  CHECK(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));
  r = doomed->GetReply();
  CHECK_MESSAGE(!r, r.Describe());  // closed, no reply
  r = control->Cmd({"LOCK.RELEASE", "seat", "owner", std::to_string(token)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = next->GetReply();
  CHECK_MESSAGE((r.is_int() && r.integer() > token), r.Describe());
  r = control->Cmd({"GET", "seat"});
  CHECK_MESSAGE(r.str() == "next", r.Describe());
}

TEST_CASE("waiters: the expiry of the holder's lease hands the key to the head waiter") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  auto start = Clock::now();
  int64_t token = AcquireNow(*control, "seat", "owner", "300");
  auto w = StartWaiter(srv, *control, "seat", "next", "10000", "5000", 1);
  Reply r = w->GetReply();
  int64_t waited = ElapsedMs(start);
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  CHECK(r.integer() > token);
  CHECK(waited >= 300);
  CHECK(waited < 2000);
  Reply fence = control->Cmd({"LOCK.FENCE", "seat"});
  CHECK_MESSAGE(fence.integer() == r.integer(), fence.Describe());
  Reply get = control->Cmd({"GET", "seat"});
  CHECK_MESSAGE(get.str() == "next", get.Describe());
  // The old holder can neither renew nor release any more.
  Reply renew = control->Cmd({"LOCK.RENEW", "seat", "owner", std::to_string(token), "1000"});
  CHECK_MESSAGE(renew.integer() == 0, renew.Describe());
}

TEST_CASE("waiters: CLIENT UNBLOCK ends a wait with nil, or with an error") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  AcquireNow(*control, "seat", "owner", "30000");

  auto w = srv.Connect(8000);
  Reply id = w->Cmd({"CLIENT", "ID"});
  REQUIRE_MESSAGE(id.is_int(), id.Describe());
  std::string wid = std::to_string(id.integer());

  // Not blocked yet: nothing to unblock.
  Reply r = control->Cmd({"CLIENT", "UNBLOCK", wid});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());

  w->Append({"LOCK.ACQUIRE", "seat", "w", "10000", "WAIT", "5000"});
  REQUIRE(w->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));
  std::string info = control->Cmd({"INFO", "clients"}).str();
  CHECK_MESSAGE(InfoField(info, "blocked_clients") == "1", info);

  auto start = Clock::now();
  r = control->Cmd({"CLIENT", "UNBLOCK", wid});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = w->GetReply();
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  CHECK(ElapsedMs(start) < 1000);
  CHECK(WaitersOf(*control, "seat") == 0);
  info = control->Cmd({"INFO", "clients"}).str();
  CHECK_MESSAGE(InfoField(info, "blocked_clients") == "0", info);

  w->Append({"LOCK.ACQUIRE", "seat", "w", "10000", "WAIT", "5000"});
  REQUIRE(w->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));
  r = control->Cmd({"CLIENT", "UNBLOCK", wid, "ERROR"});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = w->GetReply();
  CHECK_MESSAGE(r.is_error(), r.Describe());
  CHECK(r.str() == "UNBLOCKED client unblocked via CLIENT UNBLOCK");
  CHECK(WaitersOf(*control, "seat") == 0);

  // TIMEOUT is the default's explicit spelling; a bad reason is an error.
  w->Append({"LOCK.ACQUIRE", "seat", "w", "10000", "WAIT", "5000"});
  REQUIRE(w->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));
  r = control->Cmd({"CLIENT", "UNBLOCK", wid, "LATER"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  CHECK(WaitersOf(*control, "seat") == 1);
  r = control->Cmd({"CLIENT", "UNBLOCK", wid, "TIMEOUT"});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = w->GetReply();
  CHECK_MESSAGE(r.is_nil(), r.Describe());

  // The unblocked client was never granted, and its connection still works.
  r = control->Cmd({"GET", "seat"});
  CHECK_MESSAGE(r.str() == "owner", r.Describe());
  r = w->Cmd({"PING"});
  CHECK_MESSAGE(r.str() == "PONG", r.Describe());
}

TEST_CASE("waiters: commands pipelined behind a blocked acquire run only after the grant") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  int64_t token = AcquireNow(*control, "seat", "owner", "30000");

  auto w = srv.Connect(8000);
  REQUIRE(w->ok());
  // One write carries the blocking acquire and what follows it.
  w->Append({"LOCK.ACQUIRE", "seat", "w", "30000", "WAIT", "5000"});
  w->Append({"LOCK.ACQUIRE", "side", "w", "30000"});
  w->Append({"PING"});
  w->Append({"GET", "seat"});
  REQUIRE(w->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*control, "seat") == 1; }, 2000));

  // Nothing behind the blocked acquire has run: no reply, and "side" is free.
  CHECK_FALSE(w->ReplyReady(200));
  Reply r = control->Cmd({"EXISTS", "side"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());

  r = control->Cmd({"LOCK.RELEASE", "seat", "owner", std::to_string(token)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  Reply granted = w->GetReply();
  REQUIRE_MESSAGE(granted.is_int(), granted.Describe());
  CHECK(granted.integer() > token);
  Reply side = w->GetReply();
  CHECK_MESSAGE((side.is_int() && side.integer() > granted.integer()), side.Describe());
  Reply pong = w->GetReply();
  CHECK_MESSAGE(pong.str() == "PONG", pong.Describe());
  Reply get = w->GetReply();
  CHECK_MESSAGE(get.str() == "w", get.Describe());
}

TEST_CASE("waiters: commands pipelined behind a wait that times out run after its nil") {
  START_SERVER(srv);
  auto control = srv.Connect();
  REQUIRE(control->ok());
  AcquireNow(*control, "seat", "owner", "30000");
  auto w = srv.Connect(8000);
  w->Append({"LOCK.ACQUIRE", "seat", "w", "30000", "WAIT", "200"});
  w->Append({"ECHO", "after"});
  REQUIRE(w->Flush());
  Reply r = w->GetReply();
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = w->GetReply();
  CHECK_MESSAGE(r.str() == "after", r.Describe());
}
