// Output that a client did not ask for stays bounded: a subscriber or a
// MONITOR client that never reads is closed when its pending output passes
// the pubsub class of client-output-buffer-limit, while the clients that
// feed it carry on.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

// Makes the kernel hold little for a client that does not read, so the
// server's own buffer is what grows.
void ShrinkReceiveBuffer(RawConn& c) {
  int bytes = 4096;
  setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

bool OnlyClientsLeft(const TestServer& srv, const char* count) {
  // `count` includes the connection INFO is asked on.
  return WaitFor([&] { return srv.Info("clients", "connected_clients") == count; }, 10000);
}

}  // namespace

TEST_CASE("pubsub limits: a subscriber that never reads is closed at the pubsub hard limit") {
  START_SERVER(srv, "--client-output-buffer-limit", "pubsub 1mb 0 0");
  auto sub = srv.ConnectRaw();
  REQUIRE(sub->ok());
  ShrinkReceiveBuffer(*sub);
  REQUIRE(sub->Command({"SUBSCRIBE", "ch"}).find("subscribe") != std::string::npos);
  auto pub = srv.Connect();
  const std::string message(64 * 1024, 'm');
  // 64 MB in all, far past 1 MB plus what the kernel buffers.
  int sent = 0;
  for (; sent < 1000; ++sent) {
    Reply r = pub->Cmd({"PUBLISH", "ch", message});
    REQUIRE(r.is_int());
    if (r.integer() == 0) break;  // the subscriber is gone
  }
  CHECK_MESSAGE(sent < 1000, "the subscriber was never closed");
  CHECK(OnlyClientsLeft(srv, "2"));
  CHECK(pub->Cmd({"PING"}).str() == "PONG");
  CHECK(srv.ReadLog().find("for overcoming of output buffer limits") != std::string::npos);
}

TEST_CASE("pubsub limits: a MONITOR client that never reads is closed at the pubsub hard limit") {
  START_SERVER(srv, "--client-output-buffer-limit", "pubsub 1mb 0 0");
  auto mon = srv.ConnectRaw();
  REQUIRE(mon->ok());
  ShrinkReceiveBuffer(*mon);
  REQUIRE(mon->Command({"MONITOR"}) == "+OK\r\n");
  auto c = srv.Connect();
  const std::string value(64 * 1024, 'v');
  bool closed = false;
  for (int i = 0; i < 1000 && !closed; ++i) {
    REQUIRE(c->Cmd({"ECHO", value}).is_string());
    if (i % 50 == 49) closed = srv.Info("clients", "connected_clients") == "2";
  }
  CHECK(OnlyClientsLeft(srv, "2"));
  CHECK(c->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("pubsub limits: subscribers within the limit are not closed, and not for idling") {
  START_SERVER(srv, "--timeout", "1");
  auto sub = srv.ConnectRaw();
  REQUIRE(sub->ok());
  sub->Command({"SUBSCRIBE", "ch"});
  // Longer than `timeout` with no interaction: subscribers are not idle
  // clients (Redis's rule).
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto pub = srv.Connect();
  CHECK(pub->Cmd({"PUBLISH", "ch", "still there"}).integer() == 1);
  CHECK(sub->ReadValue() == "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$11\r\nstill there\r\n");
}

TEST_CASE("pubsub limits: dropping 200,000 subscriptions at once does not hold the loop") {
  START_SERVER(srv);
  constexpr int kChannels = 200000;
  std::vector<std::string> subscribe = {"SUBSCRIBE"};
  for (int i = 0; i < kChannels; ++i) subscribe.push_back("channel:" + std::to_string(i));
  for (bool close_instead : {false, true}) {
    CAPTURE(close_instead);
    auto sub = srv.ConnectRaw();
    REQUIRE(sub->ok());
    REQUIRE(sub->Send(Multibulk(subscribe), 30000));
    std::string last;
    for (int i = 0; i < kChannels; ++i) last = sub->ReadValue(30000);
    REQUIRE(last.find(":200000\r\n") != std::string::npos);
    if (close_instead) {
      sub->Close();
    } else {
      REQUIRE(sub->Send(Multibulk({"UNSUBSCRIBE"})));
      for (int i = 0; i < kChannels; ++i) {
        last = sub->ReadValue(10000);
        if (last.empty()) break;  // timed out
      }
      CHECK(last == "*3\r\n$11\r\nunsubscribe\r\n$14\r\nchannel:199999\r\n:0\r\n");
    }
    // Removing them one search at a time took the loop ~16 s for 100,000
    // (quadratic); in one pass it is milliseconds. 10 s is far from both.
    auto other = srv.Connect(10000);
    REQUIRE(other->Cmd({"PING"}).str() == "PONG");
    Reply numsub = other->Cmd({"PUBSUB", "NUMSUB", "channel:0"});
    REQUIRE(numsub.size() == 2);
    CHECK(numsub.at(1)->integer == 0);
  }
}
