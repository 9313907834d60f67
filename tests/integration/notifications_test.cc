// Lock notifications (class L of notify-keyspace-events): a client learns
// of a release, a hand-off to a waiter or an expiry by waiting on a channel,
// without polling; and the L class stays out of 'A', as Redis's 'A' does not
// know it.
#include <doctest/doctest.h>

#include "harness.h"

using namespace lockd_test;

namespace {

// The next RESP2 message on a subscriber: {kind, channel, payload} (for a
// pmessage the pattern is dropped). Empty on timeout.
std::vector<std::string> NextMessage(RawConn& sub, int timeout_ms = 5000) {
  std::string bytes = sub.ReadValue(timeout_ms);
  std::optional<RespValue> v = ParseResp(bytes);
  if (!v || v->elems.size() < 3) return {};
  std::vector<std::string> out;
  for (const RespValue& e : v->elems) out.push_back(e.str);
  if (out[0] == "pmessage") out.erase(out.begin() + 1);
  return out;
}

}  // namespace

TEST_CASE("lock notifications: a waiter's client sees release and hand-off without polling") {
  START_SERVER(srv, "--notify-keyspace-events", "KEL");
  auto sub = srv.ConnectRaw();
  REQUIRE(sub->ok());
  REQUIRE(sub->Command({"SUBSCRIBE", "__keyspace@0__:res"}) ==
          "*3\r\n$9\r\nsubscribe\r\n$18\r\n__keyspace@0__:res\r\n:1\r\n");

  auto a = srv.Connect();
  Reply granted = a->Cmd({"LOCK.ACQUIRE", "res", "alice", "60000"});
  REQUIRE(granted.is_int());
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"message", "__keyspace@0__:res", "lock.grant"});

  // bob queues behind alice (his reply comes when the key is handed over).
  auto b = srv.Connect();
  b->Append({"LOCK.ACQUIRE", "res", "bob", "60000", "WAIT", "60000"});
  REQUIRE(b->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*a, "res") == 1; }, 5000));

  CHECK(a->Cmd({"LOCK.RELEASE", "res", "alice", std::to_string(granted.integer())}).integer() == 1);
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"message", "__keyspace@0__:res", "lock.release"});
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"message", "__keyspace@0__:res", "lock.handoff"});
  Reply bob = b->GetReply();
  REQUIRE(bob.is_int());
  CHECK(bob.integer() > granted.integer());

  // A renew, then an expiry that nobody touches: the timer tells.
  CHECK(b->Cmd({"LOCK.RENEW", "res", "bob", std::to_string(bob.integer()), "100"}).integer() == 1);
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"message", "__keyspace@0__:res", "lock.renew"});
  CHECK(NextMessage(*sub, 10000) ==
        std::vector<std::string>{"message", "__keyspace@0__:res", "lock.expired"});
}

TEST_CASE("lock notifications: keyevent channels, and 'A' does not include L") {
  START_SERVER(srv);
  auto c = srv.Connect();
  CHECK(c->Cmd({"CONFIG", "SET", "notify-keyspace-events", "EA"}).is_status());
  CHECK(c->Cmd({"CONFIG", "GET", "notify-keyspace-events"}).at(1)->str == std::string("AE"));
  auto sub = srv.ConnectRaw();
  REQUIRE(sub->ok());
  sub->Command({"PSUBSCRIBE", "__keyevent@0__:*"});
  // Lock commands make no Redis event, and L is off.
  Reply t = c->Cmd({"LOCK.ACQUIRE", "k", "h", "60000"});
  REQUIRE(t.is_int());
  CHECK_FALSE(sub->Readable(100));
  CHECK(c->Cmd({"CONFIG", "SET", "notify-keyspace-events", "EL"}).is_status());
  CHECK(c->Cmd({"LOCK.RELEASE", "k", "h", std::to_string(t.integer())}).integer() == 1);
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"pmessage", "__keyevent@0__:lock.release", "k"});
  // A DEL of a held lock frees it: del (g, off here) and lock.release.
  CHECK(c->Cmd({"LOCK.ACQUIRE", "k", "h", "60000"}).is_int());
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"pmessage", "__keyevent@0__:lock.grant", "k"});
  CHECK(c->Cmd({"DEL", "k"}).integer() == 1);
  CHECK(NextMessage(*sub) ==
        std::vector<std::string>{"pmessage", "__keyevent@0__:lock.release", "k"});
  CHECK_FALSE(sub->Readable(100));
}
