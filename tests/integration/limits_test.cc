// Resource limits: maxclients, a client that sends without
// reading its replies, and the idle timeout.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

#include "harness.h"

using namespace lockd_test;

TEST_CASE("limits: maxclients refuses the extra connection with Redis's error") {
  START_SERVER(srv, "--maxclients", "3");
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    auto c = srv.Connect();
    REQUIRE(c->ok());
    Reply r = c->Cmd({"PING"});
    REQUIRE_MESSAGE(r.str() == "PONG", "client ", i, ": ", r.Describe());
    if (i == 0) {
      // The harness's start-up probe must be gone before the count matters.
      REQUIRE(WaitFor(
          [&] { return InfoField(c->Cmd({"INFO", "clients"}).str(), "connected_clients") == "1"; },
          2000));
    }
    clients.push_back(std::move(c));
  }
  auto extra = srv.ConnectRaw();
  REQUIRE(extra->ok());
  bool closed = false;
  std::string got = extra->ReadUntilClosed(3000, &closed);
  CHECK(got == "-ERR max number of clients reached\r\n");
  CHECK(closed);

  // The three still work.
  for (auto& c : clients) CHECK(c->Cmd({"PING"}).str() == "PONG");
  std::string info = clients[0]->Cmd({"INFO", "clients"}).str();
  CHECK_MESSAGE(InfoField(info, "connected_clients") == "3", info);
  CHECK(InfoField(clients[0]->Cmd({"INFO", "stats"}).str(), "rejected_connections") == "1");

  // Once one leaves, a new connection is accepted.
  clients[0]->Close();
  std::unique_ptr<Client> next;
  bool accepted = WaitFor(
      [&] {
        next = srv.Connect(1000);
        return next->ok() && next->Cmd({"PING"}).str() == "PONG";
      },
      3000, 50);
  CHECK(accepted);
}

namespace {

// Sends pipelined copies of `command` on a non-blocking socket without ever
// reading, until `max_bytes` are sent, the socket stays full for 2 s, or 20 s
// pass. Meanwhile samples the server's RSS and checks that `probe` gets PING
// replies promptly. Returns the bytes sent.
int64_t FloodWithoutReading(TestServer& srv, Client& probe, const std::string& command,
                            int64_t max_bytes, int64_t* max_rss, int64_t* slowest_ping_ms) {
  auto hog = srv.ConnectRaw();
  REQUIRE(hog->ok());
  hog->SetNonBlocking();
  std::string batch;
  while (batch.size() < 256 * 1024) batch += command;

  int64_t sent = 0;
  size_t offset = 0;
  auto start = Clock::now();
  auto last_progress = Clock::now();
  auto last_sample = Clock::now() - Millis(1000);
  *max_rss = 0;
  *slowest_ping_ms = 0;
  while (sent < max_bytes && ElapsedMs(start) < 20000) {
    if (ElapsedMs(last_sample) >= 200) {
      last_sample = Clock::now();
      *max_rss = std::max(*max_rss, srv.RssBytes());
      auto ping_start = Clock::now();
      Reply r = probe.Cmd({"PING"});
      *slowest_ping_ms = std::max(*slowest_ping_ms, ElapsedMs(ping_start));
      REQUIRE_MESSAGE(r.str() == "PONG", "probe: ", r.Describe(), " ", probe.error());
    }
    ssize_t n = send(hog->fd(), batch.data() + offset, batch.size() - offset,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
      offset = (offset + static_cast<size_t>(n)) % batch.size();
      last_progress = Clock::now();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (ElapsedMs(last_progress) > 2000) break;
      pollfd p{hog->fd(), POLLOUT, 0};
      poll(&p, 1, 50);
      continue;
    }
    break;  // the server closed the connection: also a bounded outcome
  }
  *max_rss = std::max(*max_rss, srv.RssBytes());
  return sent;
}

}  // namespace

TEST_CASE("limits: a client that never reads cannot grow the server without bound") {
  START_SERVER(srv);
  auto probe = srv.Connect(3000);
  REQUIRE(probe->ok());
  Reply held = probe->Cmd({"LOCK.ACQUIRE", "key", "h", "600000"});
  REQUIRE(held.is_int());
  constexpr int64_t kBound = 150LL * 1024 * 1024;
  constexpr int64_t kMaxBytes = 300LL * 1024 * 1024;

  SUBCASE("ECHO of 1 KB") {
    int64_t rss = 0, slowest = 0;
    int64_t sent = FloodWithoutReading(srv, *probe, Multibulk({"ECHO", std::string(1024, 'x')}),
                                       kMaxBytes, &rss, &slowest);
    MESSAGE("sent ", sent / 1024, " KB; max RSS ", rss / 1024, " KB; slowest PING ", slowest,
            " ms");
    CHECK(rss > 0);
    CHECK(rss < kBound);
    CHECK(slowest < 1000);
  }
  SUBCASE("LOCK.FENCE key") {
    int64_t rss = 0, slowest = 0;
    int64_t sent = FloodWithoutReading(srv, *probe, Multibulk({"LOCK.FENCE", "key"}), kMaxBytes,
                                       &rss, &slowest);
    MESSAGE("sent ", sent / 1024, " KB; max RSS ", rss / 1024, " KB; slowest PING ", slowest,
            " ms");
    CHECK(rss > 0);
    CHECK(rss < kBound);
    CHECK(slowest < 1000);
  }
  // The server is still whole.
  Reply r = probe->Cmd({"LOCK.FENCE", "key"});
  CHECK_MESSAGE(r.integer() == held.integer(), r.Describe());
  CHECK(srv.RssBytes() < kBound);
}

TEST_CASE("limits: idle clients are closed after timeout, blocked waiters are not") {
  START_SERVER(srv, "--timeout", "1");
  auto control = srv.Connect();
  REQUIRE(control->ok());
  Reply held = control->Cmd({"LOCK.ACQUIRE", "seat", "owner", "60000"});
  REQUIRE(held.is_int());

  auto start = Clock::now();
  auto idle = srv.ConnectRaw();
  REQUIRE(idle->ok());
  REQUIRE(idle->Command({"PING"}) == "+PONG\r\n");
  auto idle_mark = Clock::now();

  auto waiter = srv.Connect(8000);
  REQUIRE(waiter->ok());
  waiter->Append({"LOCK.ACQUIRE", "seat", "waiter", "10000", "WAIT", "3500"});
  REQUIRE(waiter->Flush());

  // An active client, talking every 300 ms, is never idle for a second.
  auto busy = srv.Connect();
  REQUIRE(busy->ok());

  bool idle_closed = false;
  int64_t idle_closed_after = -1;
  while (ElapsedMs(start) < 3000) {
    std::this_thread::sleep_for(Millis(300));
    Reply r = busy->Cmd({"PING"});
    CHECK_MESSAGE(r.str() == "PONG", "busy client: ", r.Describe());
    if (!idle_closed && idle->Readable(0)) {
      bool closed = false;
      std::string rest = idle->ReadUntilClosed(500, &closed);
      CHECK(rest.empty());
      idle_closed = closed;
      idle_closed_after = ElapsedMs(idle_mark);
    }
  }
  if (!idle_closed) {
    bool closed = false;
    idle->ReadUntilClosed(1500, &closed);
    idle_closed = closed;
    idle_closed_after = ElapsedMs(idle_mark);
  }
  CHECK_MESSAGE(idle_closed, "idle client still open after ", ElapsedMs(idle_mark), " ms");
  CHECK(idle_closed_after >= 900);
  CHECK(idle_closed_after <= 4500);

  // The waiter, blocked for longer than the timeout, got its normal ending:
  // nil at the end of its wait, not a closed connection.
  Reply r = waiter->GetReply();
  CHECK_MESSAGE(r.is_nil(), r.Describe(), " ", waiter->error());
  CHECK(ElapsedMs(start) >= 3500);
}
