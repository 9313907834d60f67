// What one connection may cost the others: the query buffer limit at all
// times (a blocked client included), replies that count as interaction for
// the idle timeout, output-limit seconds that cannot overflow, and log lines
// that all carry the log prefix.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

// Sends `total` bytes of `fill` on a non-blocking socket, without reading,
// until they are sent, the peer closes, or `timeout_ms` passes. Returns the
// bytes sent; *closed tells whether the server closed the connection.
int64_t Stream(RawConn& conn, char fill, int64_t total, int timeout_ms, bool* closed) {
  conn.SetNonBlocking();
  std::string chunk(64 * 1024, fill);
  int64_t sent = 0;
  *closed = false;
  auto start = Clock::now();
  while (sent < total && ElapsedMs(start) < timeout_ms) {
    size_t n = static_cast<size_t>(std::min<int64_t>(total - sent, chunk.size()));
    ssize_t w = send(conn.fd(), chunk.data(), n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      sent += w;
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      std::this_thread::sleep_for(Millis(5));
      continue;
    }
    *closed = true;  // EPIPE / ECONNRESET: the server closed it
    break;
  }
  return sent;
}

bool HasPrefix(const std::string& line) {
  static const std::regex kPrefix(
      R"(^[0-9]+:M [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} [.*#-] .+)");
  return std::regex_match(line, kPrefix);
}

}  // namespace

TEST_CASE("input limits: a blocked client's input is bounded by client-query-buffer-limit") {
  START_SERVER(srv, "--client-query-buffer-limit", "1mb");
  auto holder = srv.Connect();
  REQUIRE(holder->ok());
  REQUIRE(holder->Cmd({"LOCK.ACQUIRE", "k", "owner", "60000"}).is_int());

  auto blocked = srv.ConnectRaw();
  REQUIRE(blocked->ok());
  REQUIRE(blocked->Send(Multibulk({"LOCK.ACQUIRE", "k", "h", "1000", "WAIT", "60000"})));
  REQUIRE(WaitFor([&] { return WaitersOf(*holder, "k") == 1; }, 3000));

  // While it waits, the same client streams bytes with no line end.
  bool closed = false;
  int64_t sent = Stream(*blocked, 'x', 8LL * 1024 * 1024, 15000, &closed);
  if (!closed) {
    std::string rest = blocked->ReadUntilClosed(5000, &closed);
    CHECK(rest.empty());  // closed without a reply, as Redis does
  }
  MESSAGE("sent ", sent / 1024, " KB before the close");
  CHECK_MESSAGE(closed, "the blocked client was not closed after ", sent, " bytes");
  CHECK(WaitFor(
      [&] {
        return srv.ReadLog().find("Closing client that reached max query buffer length") !=
               std::string::npos;
      },
      3000));
  // Its wait was cancelled with it; the holder is untouched.
  CHECK(WaitFor([&] { return WaitersOf(*holder, "k") == 0; }, 3000));
  CHECK(holder->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("input limits: a reply counts as interaction for the idle timeout") {
  START_SERVER(srv, "--timeout", "3");
  auto holder = srv.Connect();
  REQUIRE(holder->ok());
  // The key frees by itself in about 5 s, longer than the timeout.
  REQUIRE(holder->Cmd({"LOCK.ACQUIRE", "seat", "owner", "5000"}).is_int());

  auto waiter = srv.Connect(20000);
  REQUIRE(waiter->ok());
  Reply granted = waiter->Cmd({"LOCK.ACQUIRE", "seat", "waiter", "60000", "WAIT", "15000"});
  REQUIRE_MESSAGE(granted.is_int(), granted.Describe(), " ", waiter->error());
  // The waiter got its token: the reply is interaction, so it is not idle
  // now, although it sent nothing for more than the timeout.
  std::this_thread::sleep_for(Millis(1500));
  Reply r = waiter->Cmd({"PING"});
  CHECK_MESSAGE(r.str() == "PONG", r.Describe(), " ", waiter->error());
  Reply fence = waiter->Cmd({"LOCK.FENCE", "seat"});
  CHECK(fence.integer() == granted.integer());
}

TEST_CASE("input limits: soft output limit seconds near int64 never overflow") {
  START_SERVER(srv);
  auto admin = srv.Connect();
  REQUIRE(admin->ok());
  Reply set = admin->Cmd(
      {"CONFIG", "SET", "client-output-buffer-limit", "normal 0 1 9223372036854775807"});
  if (set.is_error()) {
    // A configuration that refuses the value protects the computation too;
    // the arithmetic itself is covered by the client_limits unit tests.
    MESSAGE("CONFIG SET refused the value: ", set.Describe());
    return;
  }
  // Its own +OK passed the new soft limit: the connection must survive it.
  REQUIRE_MESSAGE(set.is_status(), set.Describe(), " ", admin->error());
  // Every reply passes the 1-byte soft limit; the seconds never run out, so
  // no client may be closed for it.
  for (int i = 0; i < 3; ++i) {
    auto c = srv.Connect();
    REQUIRE(c->ok());
    Reply r = c->Cmd({"PING"});
    CHECK_MESSAGE(r.str() == "PONG", r.Describe(), " ", c->error());
    std::this_thread::sleep_for(Millis(1100));  // across a cron tick
    r = c->Cmd({"ECHO", std::string(4096, 'e')});
    CHECK_MESSAGE(r.str().size() == 4096, r.Describe(), " ", c->error());
  }
  CHECK(admin->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("input limits: every line logged on a port in use has the log prefix") {
  // Hold a port the way another server would.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(fd, 4) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  std::string port = std::to_string(ntohs(addr.sin_port));
  ScratchDir dir;
  REQUIRE(!dir.path.empty());

  auto check_lines = [](const std::string& text, const char* where) {
    std::istringstream in(text);
    std::string line;
    int lines = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      ++lines;
      CHECK_MESSAGE(HasPrefix(line), where, " line without the log prefix: ", line);
    }
    CHECK(lines > 0);
    CHECK(text.find("Failed listening on port") != std::string::npos);
    CHECK(text.find("Address already in use") != std::string::npos);
  };

  SUBCASE("to standard output") {
    RunResult r = RunServerOnce(
        {"--port", port, "--bind", "127.0.0.1", "--dir", dir.path, "--appendonly", "no"}, 10000);
    CHECK(r.exit_code == 1);
    check_lines(r.output, "stdout/stderr");
  }
  SUBCASE("to a log file") {
    std::string log = dir.path + "/lockd.log";
    RunResult r = RunServerOnce({"--port", port, "--bind", "127.0.0.1", "--dir", dir.path,
                                 "--appendonly", "no", "--logfile", log},
                                10000);
    CHECK(r.exit_code == 1);
    check_lines(ReadWholeFile(log), "log file");
    // Nothing else is written outside the log.
    CHECK_MESSAGE(r.output.empty(), r.output);
  }
  close(fd);
}

TEST_CASE("input limits: large arguments are read whole, and their room is given back") {
  START_SERVER(srv);
  auto probe = srv.Connect();
  REQUIRE(probe->ok());
  int64_t rss_before = srv.RssBytes();

  // Key and holder both past the big-bulk size, with a small command on
  // each side, all in one stream.
  std::string key(40 * 1024 + 1, 'k');
  std::string holder(70 * 1024 + 3, 'h');
  key[777] = 'K';
  holder[65000] = 'H';
  auto conn = srv.ConnectRaw();
  REQUIRE(conn->ok());
  std::string stream = Multibulk({"PING"}) + Multibulk({"LOCK.ACQUIRE", key, holder, "60000"}) +
                       Multibulk({"PING"});
  REQUIRE(conn->Send(stream));
  CHECK(conn->ReadValue() == "+PONG\r\n");
  std::string token = conn->ReadValue();
  CHECK_MESSAGE(token.rfind(":", 0) == 0, token);
  CHECK(conn->ReadValue() == "+PONG\r\n");
  auto info = ParseLockInfo(probe->Cmd({"LOCK.INFO", key}));
  REQUIRE(info.has_value());
  CHECK(info->holder == holder);

  // A 64 MB argument, sent in pieces, then a PING behind it.
  constexpr size_t kBig = 64 * 1024 * 1024;
  std::string head = "*2\r\n$6\r\nEXISTS\r\n$" + std::to_string(kBig) + "\r\n";
  REQUIRE(conn->Send(head));
  std::string piece(1024 * 1024, 'x');
  for (size_t sent = 0; sent < kBig; sent += piece.size()) REQUIRE(conn->Send(piece, 20000));
  REQUIRE(conn->Send("\r\n" + Multibulk({"PING"})));
  CHECK(conn->ReadValue(20000) == ":0\r\n");
  CHECK(conn->ReadValue() == "+PONG\r\n");
  // The client is idle: its 64 MB of room went back to the system.
  CHECK(WaitFor([&] { return srv.RssBytes() < rss_before + 32LL * 1024 * 1024; }, 5000));
  CHECK(probe->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("input limits: a burst of connections is accepted in slices, none lost") {
  START_SERVER(srv);
  auto probe = srv.Connect();
  REQUIRE(probe->ok());
  // More than one iteration's accept budget, all queued at once.
  constexpr int kConns = 600;
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(srv.ConnectRaw());
    REQUIRE(conns.back()->ok());
  }
  for (int i = 0; i < kConns; ++i) {
    REQUIRE(conns[i]->Send(Multibulk({"LOCK.ACQUIRE", "burst:" + std::to_string(i), "h", "60000"})));
  }
  int answered = 0;
  for (int i = 0; i < kConns; ++i) {
    std::string r = conns[i]->ReadValue(10000);
    if (r.rfind(":", 0) == 0) ++answered;
  }
  CHECK(answered == kConns);
  CHECK(InfoField(probe->Cmd({"INFO", "clients"}).str(), "connected_clients") ==
        std::to_string(kConns + 1));
  // Idle, they hold no query buffer (CLIENT LIST qbuf-free=0).
  std::string list = probe->Cmd({"CLIENT", "LIST"}).str();
  size_t idle_with_buffer = 0;
  std::istringstream lines(list);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("cmd=lock.acquire") != std::string::npos &&
        line.find(" qbuf-free=0 ") == std::string::npos) {
      ++idle_with_buffer;
    }
  }
  CHECK_MESSAGE(idle_with_buffer == 0, idle_with_buffer, " idle clients hold a query buffer");
}
