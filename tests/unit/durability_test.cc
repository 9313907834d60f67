// The durability contract end to end, on a server running in this process
// and spoken to over a socket: no reply leaves before the records it
// acknowledges are written (and, under `always`, synced); a hand-off is one
// unit; a failing disk means MISCONF under everysec and a stop under always;
// reservations reach the disk before a token or deadline is revealed; and a
// hand-written log is replayed, cut at its torn tail and gated after an
// unclean stop. The log file is the in-memory FakeFileSystem, except for the
// replay cases, which use real files.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "aof/durability.h"
#include "aof/log_reader.h"
#include "aof/record.h"
#include "fake_files.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "lockd/server.h"
#include "util/log.h"

namespace lockd {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// ---- A directory, a port, a client ----

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/lockd-durability-XXXXXX";
    const char* made = mkdtemp(name);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(fd, 1) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string Encode(const std::vector<std::string>& words) {
  std::string out = fmt::format("*{}\r\n", words.size());
  for (const std::string& w : words) out += fmt::format("${}\r\n{}\r\n", w.size(), w);
  return out;
}

// A blocking RESP client. Replies are read as text: ":1", "+PONG",
// "-ERR ...", a bulk string as itself, "(nil)", an array as "[a, b]";
// "<closed>" when the server closed the connection, "<timeout>" after 3 s
// of silence.
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
      return;
    }
    timeval tv{3, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  void SendCommand(const std::vector<std::string>& words) { Send(Encode(words)); }
  std::string Call(const std::vector<std::string>& words) {
    SendCommand(words);
    return Read();
  }
  std::string Read() {
    std::optional<std::string> v = Value();
    if (v) return *v;
    return eof_ ? "<closed>" : "<timeout>";
  }
  // Reads until the server closes the connection (true) or 3 s pass
  // (false); *received gets whatever arrived unread.
  bool WaitClosed(std::string* received) {
    while (!eof_ && Fill()) {
    }
    *received = buffer_.substr(pos_);
    return eof_;
  }

  // Called right after each recv that brought bytes. Replies are parsed
  // lazily (a recv only when the buffer holds too little), so a reply just
  // returned by Read() was completed by recv number recvs() - 1.
  std::function<void()> on_recv;
  size_t recvs() const { return recvs_; }

 private:
  bool Fill() {
    char chunk[16384];
    for (;;) {
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
        ++recvs_;
        if (on_recv) on_recv();
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || errno == ECONNRESET) eof_ = true;
      return false;
    }
  }
  bool Need(size_t bytes) {
    while (buffer_.size() - pos_ < bytes) {
      if (!Fill()) return false;
    }
    return true;
  }
  std::optional<std::string> Line() {
    size_t end;
    while ((end = buffer_.find("\r\n", pos_)) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    std::string line = buffer_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return line;
  }
  std::optional<std::string> Value() {
    std::optional<std::string> line = Line();
    if (!line || line->empty()) return std::nullopt;
    char type = (*line)[0];
    std::string rest = line->substr(1);
    switch (type) {
      case '+':
      case '-':
      case ':':
        return *line;
      case '_':
        return "(nil)";
      case '$': {
        long long len = std::atoll(rest.c_str());
        if (len < 0) return "(nil)";
        if (!Need(static_cast<size_t>(len) + 2)) return std::nullopt;
        std::string s = buffer_.substr(pos_, static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len) + 2;
        return s;
      }
      case '*':
      case '%':
      case '~': {
        long long n = std::atoll(rest.c_str());
        if (n < 0) return "(nil)";
        if (type == '%') n *= 2;
        std::string out = "[";
        for (long long i = 0; i < n; ++i) {
          std::optional<std::string> v = Value();
          if (!v) return std::nullopt;
          out += (i > 0 ? ", " : "") + *v;
        }
        return out + "]";
      }
      default:
        return std::nullopt;
    }
  }

  int fd_ = -1;
  std::string buffer_;
  size_t pos_ = 0;
  bool eof_ = false;
  size_t recvs_ = 0;
};

// The value of `name` in an INFO section, or "" when it is missing.
std::string InfoField(Client& c, const std::string& section, const std::string& name) {
  std::string info = c.Call({"INFO", section});
  std::string prefix = name + ":";
  std::istringstream lines(info);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with(prefix)) return line.substr(prefix.size());
  }
  return "";
}

// ---- The server in this process ----

class TestServer {
 public:
  TestServer(AppendFsync policy, aof::FileSystem* files) {
    config_.port = FreePort();
    config_.bind = {"127.0.0.1"};
    config_.dir = dir_.path();
    config_.appendonly = true;
    config_.appendfsync = policy;
    config_.appendfilename = dir_.path() + "/appendonly.aof";
    config_.logfile = dir_.path() + "/server.log";
    options_.files = files;
    // A client that goes away must not kill the test process.
    signal(SIGPIPE, SIG_IGN);
    REQUIRE(LogInit(LogLevel::kNotice, config_.logfile).ok());
  }
  ~TestServer() {
    Stop();
    (void)LogInit(LogLevel::kNotice, "");
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return config_.port; }
  const std::string& aof_path() const { return config_.appendfilename; }

  // Starts the server and waits until it has loaded the log.
  bool Start() {
    done_ = false;
    thread_ = std::thread([this] {
      code_ = RunServer(config_, options_);
      done_ = true;
    });
    auto deadline = SteadyClock::now() + milliseconds(3000);
    while (SteadyClock::now() < deadline && !done_) {
      Client probe(port());
      if (probe.connected()) {
        std::string r = probe.Call({"LOCK.FENCE", "lockd-test-probe"});
        if (r == "(nil)") return true;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  // Waits up to `ms` for the server to stop on its own: its exit code, or -1
  // if it still runs.
  int WaitExit(int ms) {
    auto deadline = SteadyClock::now() + milliseconds(ms);
    while (!done_ && SteadyClock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    if (!done_) return -1;
    if (thread_.joinable()) thread_.join();
    return code_;
  }

  // SHUTDOWN (no reply: the connection closes), then the exit code.
  int Stop() {
    if (!thread_.joinable()) return code_;
    if (!done_) {
      Client c(port());
      c.SendCommand({"SHUTDOWN"});
      std::string ignored;
      c.WaitClosed(&ignored);
    }
    thread_.join();
    return code_;
  }

  std::string ServerLog() const {
    std::ifstream in(config_.logfile);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  TempDir dir_;
  Config config_;
  ServerOptions options_;
  std::thread thread_;
  std::atomic<bool> done_{true};
  int code_ = -1;
};

// ---- Reading logs and events ----

struct LoggedRecord {
  aof::RecordType type;
  std::string key;
  std::string holder;
  uint64_t token = 0;
  int64_t unix_ms = 0;
  std::string text;  // "LOCK.GRANT k h 1 1700000000000"
  size_t end = 0;    // the file offset just past the record
};

struct ParsedLog {
  std::vector<LoggedRecord> records;
  aof::LogReader::Result result = aof::LogReader::Result::kEnd;
  size_t valid_end = 0;
};

ParsedLog ParseLog(std::string_view data) {
  ParsedLog log;
  aof::LogReader reader(data);
  aof::Record r;
  aof::LogReader::Result result;
  while ((result = reader.Next(&r)) == aof::LogReader::Result::kRecord) {
    LoggedRecord l{r.type, std::string(r.key), std::string(r.holder), r.token, r.unix_ms, ""};
    switch (r.type) {
      case aof::RecordType::kGrant:
      case aof::RecordType::kExtend:
        l.text = fmt::format("{} {} {} {} {}",
                             r.type == aof::RecordType::kGrant ? "LOCK.GRANT" : "LOCK.EXTEND",
                             r.key, r.holder, r.token, r.unix_ms);
        break;
      case aof::RecordType::kFree:
        l.text = fmt::format("LOCK.FREE {} {}", r.key, aof::FreeCauseName(r.cause));
        break;
      case aof::RecordType::kReserve:
        l.text = fmt::format("LOCK.RESERVE {} {}", r.token, r.unix_ms);
        break;
      case aof::RecordType::kShutdown:
        l.text = fmt::format("LOCK.SHUTDOWN {}", r.unix_ms);
        break;
      case aof::RecordType::kMulti:
        l.text = "MULTI";
        break;
      case aof::RecordType::kExec:
        l.text = "EXEC";
        break;
    }
    l.end = reader.offset();
    log.records.push_back(std::move(l));
  }
  log.result = result;
  log.valid_end = reader.valid_end();
  return log;
}

// Every record whose text starts with `prefix`.
std::vector<const LoggedRecord*> Find(const ParsedLog& log, std::string_view prefix) {
  std::vector<const LoggedRecord*> out;
  for (const LoggedRecord& r : log.records) {
    if (std::string_view(r.text).starts_with(prefix)) out.push_back(&r);
  }
  return out;
}

std::string Dump(const ParsedLog& log) {
  std::string out;
  for (const LoggedRecord& r : log.records) out += r.text + "\n";
  return out;
}

std::string Dump(const std::vector<std::string>& events) {
  std::string out;
  for (const std::string& e : events) out += e + "\n";
  return out;
}

// Positions of the events equal to `what`.
std::vector<size_t> Positions(const std::vector<std::string>& events, std::string_view what) {
  std::vector<size_t> out;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i] == what) out.push_back(i);
  }
  return out;
}

// Whether the event at `at` comes after a write, and after a completed sync
// that followed the last write: whatever was written before it was on disk.
bool SyncedBefore(const std::vector<std::string>& events, size_t at) {
  std::optional<size_t> last_write;
  for (size_t i = 0; i < at; ++i) {
    if (events[i].starts_with("write ")) last_write = i;
  }
  if (!last_write) return false;
  for (size_t i = *last_write + 1; i < at; ++i) {
    if (events[i] == "sync-done") return true;
  }
  return false;
}

// Whether the event at `at` comes after a completed sync that followed the
// write holding the file's bytes up to `record_end`. `file_size` is the
// file's size at `at`; every write among the events appended to it. (The
// last write before `at` may be a later iteration's, not yet synced: that
// does not matter to a reply whose record an earlier sync covered.)
bool RecordSyncedBefore(const std::vector<std::string>& events, size_t at, size_t file_size,
                        size_t record_end) {
  size_t written = 0;
  for (size_t i = 0; i < at; ++i) {
    if (events[i].starts_with("write ")) written += std::stoull(events[i].substr(6));
  }
  if (written > file_size) return false;
  size_t covered = file_size - written;  // what was in the file before the events
  std::optional<size_t> holding_write;
  for (size_t i = 0; i < at && !holding_write; ++i) {
    if (!events[i].starts_with("write ")) continue;
    covered += std::stoull(events[i].substr(6));
    if (covered >= record_end) holding_write = i;
  }
  if (!holding_write) return false;
  for (size_t i = *holding_write + 1; i < at; ++i) {
    if (events[i] == "sync-done") return true;
  }
  return false;
}

int64_t WallMillis() { return SystemClock().WallNow().millis(); }

bool IsInteger(const std::string& reply) { return reply.size() > 1 && reply[0] == ':'; }

uint64_t IntegerOf(const std::string& reply) {
  REQUIRE(IsInteger(reply));
  return std::strtoull(reply.c_str() + 1, nullptr, 10);
}

const std::string kNoSpace = "-MISCONF Errors writing to the AOF file: No space left on device";

// ---- The cases ----

// A reply that left before its sync would be seen by the client while the
// (slow) sync still runs: "reply" would come before "sync-done". That is
// what happens if BeforeSleep flushes before Commit, or if Commit writes
// but does not sync under `always`.
TEST_CASE("durability: no reply leaves before the sync that covers it (always)") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kAlways, &fs);
  REQUIRE(server.Start());
  const std::string path = server.aof_path();
  Client c(server.port());
  REQUIRE(c.connected());

  std::vector<std::string> seen;  // the log's content at each recv
  c.on_recv = [&] { seen.push_back(fs.Mark("reply", path)); };

  SUBCASE("one command") {
    fs.DelaySyncs(150);
    fs.ClearEvents();
    std::string reply = c.Call({"LOCK.ACQUIRE", "k", "h", "10000"});
    REQUIRE(IsInteger(reply));
    std::vector<std::string> events = fs.Events();
    std::vector<size_t> replies = Positions(events, "reply");
    REQUIRE(replies.size() == 1);
    INFO("events:\n" << Dump(events));
    CHECK(SyncedBefore(events, replies[0]));
    REQUIRE(seen.size() == 1);
    ParsedLog log = ParseLog(seen[0]);
    CHECK(Find(log, fmt::format("LOCK.GRANT k h {} ", IntegerOf(reply))).size() == 1);
  }

  SUBCASE("fifty pipelined commands share a few writes and syncs") {
    constexpr int kCommands = 50;
    fs.DelaySyncs(20);
    fs.ClearEvents();
    std::string batch;
    for (int i = 0; i < kCommands; ++i) {
      batch += Encode({"LOCK.ACQUIRE", fmt::format("p{}", i), "h", "10000"});
    }
    c.Send(batch);
    std::vector<size_t> completed_by;  // the recv that completed each reply
    std::vector<std::string> replies;
    for (int i = 0; i < kCommands; ++i) {
      replies.push_back(c.Read());
      completed_by.push_back(c.recvs() - 1);
    }
    std::vector<std::string> events = fs.Events();
    std::vector<size_t> reply_events = Positions(events, "reply");
    INFO("events:\n" << Dump(events));
    REQUIRE(reply_events.size() == seen.size());
    for (int i = 0; i < kCommands; ++i) {
      INFO("reply " << i << ": " << replies[i]);
      REQUIRE(IsInteger(replies[i]));
      size_t r = completed_by[i];
      REQUIRE(r < seen.size());
      // Its record was in the file, and synced, when the reply arrived.
      ParsedLog log = ParseLog(seen[r]);
      auto found = Find(log, fmt::format("LOCK.GRANT p{} h {} ", i, IntegerOf(replies[i])));
      REQUIRE(found.size() == 1);
      CHECK(RecordSyncedBefore(events, reply_events[r], seen[r].size(), found[0]->end));
    }
    // Group commit: one write (and one sync) per loop iteration, not per
    // command.
    CHECK(fs.CountEvents("write ") < kCommands);
    CHECK(fs.CountEvents("sync-done") < kCommands);
  }

  CHECK(server.Stop() == 0);
}

// A PING's reply reveals nothing the log must hold first, so it leaves
// before the iteration's sync instead of waiting behind another client's
// fdatasync; a lock reply in the same iteration still waits for it. Without
// the early flush the PING's reply arrives after "sync-done".
TEST_CASE("durability: a PING does not wait for another client's sync (always)") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kAlways, &fs);
  REQUIRE(server.Start());
  const std::string path = server.aof_path();
  Client first(server.port());
  Client writer(server.port());
  Client pinger(server.port());
  REQUIRE(first.connected());
  REQUIRE(writer.connected());
  REQUIRE(pinger.connected());
  writer.on_recv = [&] { fs.AddEvent("reply-writer"); };
  pinger.on_recv = [&] { fs.AddEvent("reply-pinger"); };

  fs.DelaySyncs(300);
  fs.ClearEvents();
  // The first grant keeps the loop in its 300 ms sync; the next two commands
  // arrive meanwhile and so run together in the following iteration, whose
  // own sync covers the writer's grant.
  first.SendCommand({"LOCK.ACQUIRE", "x", "h", "10000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  writer.SendCommand({"LOCK.ACQUIRE", "y", "h", "10000"});
  pinger.SendCommand({"PING"});
  CHECK(pinger.Read() == "+PONG");
  std::string granted = writer.Read();
  CHECK(IsInteger(first.Read()));
  REQUIRE(IsInteger(granted));

  std::vector<std::string> events = fs.Events();
  INFO("events:\n" << Dump(events));
  std::vector<size_t> syncs = Positions(events, "sync-done");
  std::vector<size_t> pongs = Positions(events, "reply-pinger");
  std::vector<size_t> grants = Positions(events, "reply-writer");
  REQUIRE(syncs.size() >= 2);
  REQUIRE(pongs.size() == 1);
  REQUIRE(grants.size() == 1);
  // The writer's grant still waited for the sync that covers it...
  CHECK(SyncedBefore(events, grants[0]));
  CHECK(grants[0] > syncs[1]);
  // ...while the PING of the same iteration did not.
  CHECK(pongs[0] < syncs[1]);

  // A PING pipelined behind the same client's grant does not let that
  // grant's reply out early: the client's output leaves as one.
  fs.ClearEvents();
  pinger.Send(Encode({"LOCK.ACQUIRE", "z", "h", "10000"}) + Encode({"PING"}));
  std::string own = pinger.Read();
  CHECK(pinger.Read() == "+PONG");
  REQUIRE(IsInteger(own));
  events = fs.Events();
  INFO("events after the pipeline:\n" << Dump(events));
  pongs = Positions(events, "reply-pinger");
  REQUIRE(!pongs.empty());
  CHECK(SyncedBefore(events, pongs[0]));
  CHECK(server.Stop() == 0);
}

// Once a sync is slow, syncs run off the loop: while one is in flight, other
// clients are served (a PING is answered before the sync ends), but a reply
// that may reveal the unsynced grant, even to another client, waits for it.
// With the sync on the loop thread the PING's reply would come after
// "sync-done".
TEST_CASE("durability: the loop serves others while a sync is in flight (always)") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kAlways, &fs);
  REQUIRE(server.Start());
  Client writer(server.port());
  Client pinger(server.port());
  Client reader(server.port());
  REQUIRE(writer.connected());
  REQUIRE(pinger.connected());
  REQUIRE(reader.connected());
  writer.on_recv = [&] { fs.AddEvent("reply-writer"); };
  pinger.on_recv = [&] { fs.AddEvent("reply-pinger"); };
  reader.on_recv = [&] { fs.AddEvent("reply-reader"); };

  fs.DelaySyncs(400);
  // The first slow sync runs on the loop (syncs were quick until then); it
  // sends the next ones to the sync thread.
  writer.SendCommand({"LOCK.ACQUIRE", "warm", "h", "10000"});
  REQUIRE(IsInteger(writer.Read()));
  fs.ClearEvents();
  writer.SendCommand({"LOCK.ACQUIRE", "x", "h", "10000"});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pinger.SendCommand({"PING"});
  CHECK(pinger.Read() == "+PONG");
  reader.SendCommand({"LOCK.FENCE", "x"});
  std::string fence = reader.Read();
  std::string granted = writer.Read();
  REQUIRE(IsInteger(granted));
  CHECK(fence == granted);

  std::vector<std::string> events = fs.Events();
  INFO("events:\n" << Dump(events));
  std::vector<size_t> syncs = Positions(events, "sync-done");
  std::vector<size_t> pongs = Positions(events, "reply-pinger");
  std::vector<size_t> grants = Positions(events, "reply-writer");
  std::vector<size_t> fences = Positions(events, "reply-reader");
  REQUIRE(!syncs.empty());
  REQUIRE(pongs.size() == 1);
  REQUIRE(grants.size() == 1);
  REQUIRE(fences.size() == 1);
  CHECK(pongs[0] < syncs[0]);
  CHECK(SyncedBefore(events, grants[0]));
  CHECK(SyncedBefore(events, fences[0]));
  CHECK(server.Stop() == 0);
}

// Catches a hand-off logged as separate records (a crash between them would
// replay a free key, or a grant without the free) or in the wrong order.
TEST_CASE("durability: a hand-off is logged as one unit") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kAlways, &fs);
  REQUIRE(server.Start());
  Client holder(server.port());
  Client waiter(server.port());
  std::string t1 = holder.Call({"LOCK.ACQUIRE", "k", "h", "10000"});
  REQUIRE(IsInteger(t1));
  waiter.SendCommand({"LOCK.ACQUIRE", "k", "h2", "10000", "WAIT", "5000"});
  // Wait until the server has queued the waiter.
  auto deadline = SteadyClock::now() + milliseconds(2000);
  std::string info;
  while (SteadyClock::now() < deadline) {
    info = holder.Call({"LOCK.INFO", "k"});
    if (info.ends_with("waiters, :1]")) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  REQUIRE(info.ends_with("waiters, :1]"));

  CHECK(holder.Call({"LOCK.RELEASE", "k", "h", t1.substr(1)}) == ":1");
  std::string t2 = waiter.Read();
  REQUIRE(IsInteger(t2));
  CHECK(IntegerOf(t2) > IntegerOf(t1));

  ParsedLog log = ParseLog(fs.Content(server.aof_path()));
  INFO("log:\n" << Dump(log));
  CHECK(log.result == aof::LogReader::Result::kEnd);
  const std::vector<std::string> unit = {"MULTI", "LOCK.FREE k release",
                                         fmt::format("LOCK.GRANT k h2 {} ", IntegerOf(t2)), "EXEC"};
  bool found = false;
  for (size_t i = 0; i + unit.size() <= log.records.size() && !found; ++i) {
    found = true;
    for (size_t j = 0; j < unit.size(); ++j) {
      found = found && log.records[i + j].text.starts_with(unit[j]);
    }
  }
  CHECK(found);
  CHECK(server.Stop() == 0);
}

// Catches: changes accepted (and then lost) while the log cannot be written;
// reads refused too; the error never cleared when the disk recovers (or only
// when a command arrives: the cron must retry); records dropped instead of
// kept for the retry.
TEST_CASE("durability: a failing write under everysec means MISCONF, then recovery") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kEverySec, &fs);
  REQUIRE(server.Start());
  Client c(server.port());
  // The first grant reserves tokens and a horizon, synchronously; those
  // must reach the disk, so it runs while the disk works.
  std::string t1 = c.Call({"LOCK.ACQUIRE", "k1", "h", "10000"});
  REQUIRE(IsInteger(t1));

  fs.FailWrites(ENOSPC);
  // The failure is discovered in the commit of this command's iteration;
  // under everysec its reply still leaves.
  std::string t2 = c.Call({"LOCK.ACQUIRE", "k2", "h", "10000"});
  REQUIRE(IsInteger(t2));
  CHECK(fs.CountEvents("write-error") >= 1);

  CHECK(c.Call({"LOCK.ACQUIRE", "k3", "h", "10000"}) == kNoSpace);
  CHECK(c.Call({"LOCK.RELEASE", "k1", "h", t1.substr(1)}) == kNoSpace);
  CHECK(c.Call({"LOCK.RENEW", "k1", "h", t1.substr(1), "10000"}) == kNoSpace);
  CHECK(c.Call({"PING"}) == "+PONG");
  CHECK(c.Call({"LOCK.FENCE", "k1"}) == t1);
  CHECK(c.Call({"LOCK.FENCE", "k2"}) == t2);
  CHECK(c.Call({"LOCK.FENCE", "k3"}) == "(nil)");
  CHECK(InfoField(c, "persistence", "aof_last_write_status") == "err");

  // The disk recovers. Without any traffic, the cron's wake-up (once a
  // second) retries the write.
  fs.FailWrites(0);
  std::this_thread::sleep_for(milliseconds(1300));
  CHECK(InfoField(c, "persistence", "aof_last_write_status") == "ok");
  std::string t3 = c.Call({"LOCK.ACQUIRE", "k3", "h", "10000"});
  CHECK(IsInteger(t3));

  ParsedLog log = ParseLog(fs.Content(server.aof_path()));
  INFO("log:\n" << Dump(log));
  CHECK(log.result == aof::LogReader::Result::kEnd);
  CHECK(Find(log, fmt::format("LOCK.GRANT k1 h {} ", IntegerOf(t1))).size() == 1);
  // Acknowledged while the disk failed, and not lost.
  CHECK(Find(log, fmt::format("LOCK.GRANT k2 h {} ", IntegerOf(t2))).size() == 1);
  if (IsInteger(t3)) CHECK(Find(log, fmt::format("LOCK.GRANT k3 h {} ", IntegerOf(t3))).size() == 1);
  // The refused commands changed nothing.
  CHECK(Find(log, "LOCK.FREE").empty());
  CHECK(Find(log, "LOCK.EXTEND").empty());
  CHECK(server.Stop() == 0);
}

// A failed background sync (everysec) refuses changes until a later sync
// succeeds. Refused changes write nothing, so the retry must not wait for
// new records: the bytes whose sync failed are still not known to be on
// disk, and the server must sync them again by itself once the disk works.
TEST_CASE("durability: a failed background sync is retried without new writes") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kEverySec, &fs);
  REQUIRE(server.Start());
  Client c(server.port());
  REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", "k1", "h", "10000"})));  // reserves, syncs

  fs.FailSyncs(EIO);
  std::string t2 = c.Call({"LOCK.ACQUIRE", "k2", "h", "10000"});
  REQUIRE(IsInteger(t2));
  // The background sync of k2's record fails.
  auto deadline = SteadyClock::now() + milliseconds(2500);
  while (fs.CountEvents("sync-error") == 0 && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  REQUIRE(fs.CountEvents("sync-error") >= 1);
  CHECK(c.Call({"LOCK.ACQUIRE", "k3", "h", "10000"}) ==
        "-MISCONF Errors writing to the AOF file: Input/output error");
  CHECK(InfoField(c, "persistence", "aof_last_write_status") == "err");

  fs.FailSyncs(0);
  fs.ClearEvents();
  // Within about a second or two the server syncs again and accepts
  // changes.
  deadline = SteadyClock::now() + milliseconds(2500);
  std::string t3;
  while (SteadyClock::now() < deadline) {
    t3 = c.Call({"LOCK.ACQUIRE", "k3", "h", "10000"});
    if (IsInteger(t3)) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  INFO("events after the disk recovered:\n" << Dump(fs.Events()));
  CHECK(IsInteger(t3));
  CHECK(fs.CountEvents("sync-done") >= 1);
  CHECK(server.Stop() == 0);
}

// Catches a short write left in the file: the retry would append whole
// records after half a record, and the log would be damaged.
TEST_CASE("durability: a short write is cut back to the last whole record") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kEverySec, &fs);
  REQUIRE(server.Start());
  Client c(server.port());
  std::string t1 = c.Call({"LOCK.ACQUIRE", "k1", "h", "10000"});
  REQUIRE(IsInteger(t1));
  const size_t size = fs.Content(server.aof_path()).size();

  fs.ShortWrite(10);
  std::string t2 = c.Call({"LOCK.ACQUIRE", "k2", "h", "10000"});
  REQUIRE(IsInteger(t2));
  std::vector<std::string> events = fs.Events();
  INFO("events:\n" << Dump(events));
  CHECK(Positions(events, "write 10").size() == 1);
  CHECK(Positions(events, "truncate " + std::to_string(size)).size() == 1);

  // The next command (or the cron) retries.
  std::string t3;
  auto deadline = SteadyClock::now() + milliseconds(2500);
  while (SteadyClock::now() < deadline) {
    t3 = c.Call({"LOCK.ACQUIRE", "k3", "h", "10000"});
    if (IsInteger(t3)) break;
    CHECK(t3 == kNoSpace);
    std::this_thread::sleep_for(milliseconds(20));
  }
  REQUIRE(IsInteger(t3));
  // k3's reply left after the commit of its iteration: its record is
  // written by the time this read is answered.
  CHECK(c.Call({"PING"}) == "+PONG");

  std::string content = fs.Content(server.aof_path());
  aof::LogCheck check = aof::CheckLog(content);
  INFO("check: " << check.error << " at " << check.error_offset);
  CHECK(check.result == aof::LogReader::Result::kEnd);
  ParsedLog log = ParseLog(content);
  INFO("log:\n" << Dump(log));
  CHECK(Find(log, fmt::format("LOCK.GRANT k2 h {} ", IntegerOf(t2))).size() == 1);
  CHECK(Find(log, fmt::format("LOCK.GRANT k3 h {} ", IntegerOf(t3))).size() == 1);
  CHECK(server.Stop() == 0);
}

// Catches a server that replies although the log could not be written or
// synced under `always` (treating it as everysec, or flushing pending
// replies while it stops).
TEST_CASE("durability: a failing disk under always stops the server without a reply") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kAlways, &fs);
  REQUIRE(server.Start());
  Client c(server.port());
  Client other(server.port());
  CHECK(other.Call({"PING"}) == "+PONG");

  bool sync_fails = false;
  SUBCASE("the write fails") { fs.FailWrites(EIO); }
  SUBCASE("the sync fails") {
    sync_fails = true;
    fs.FailSyncs(EIO);
  }

  c.SendCommand({"LOCK.ACQUIRE", "k", "h", "10000"});
  std::string received;
  CHECK(c.WaitClosed(&received));
  CHECK(received == "");
  CHECK(server.WaitExit(3000) == 1);
  std::string ignored;
  CHECK(other.WaitClosed(&ignored));

  ParsedLog log = ParseLog(fs.Content(server.aof_path()));
  // The write that failed left nothing; the sync that failed left the
  // record written but never acknowledged.
  CHECK(Find(log, "LOCK.GRANT k h ").size() == (sync_fails ? 1u : 0u));
  CHECK(server.ServerLog().find(sync_fails ? "fdatasync" : "Error writing to the append only file") !=
        std::string::npos);
}

// Catches a grant revealed under everysec before its reservation is synced
// (a crash would then reissue the token or cut the lease short), a
// reservation that does not cover the token or the deadline, and
// reservations written under `always`, where every grant is synced anyway.
TEST_CASE("durability: reservations under everysec, none under always") {
  FakeFileSystem fs;

  SUBCASE("everysec") {
    TestServer server(AppendFsync::kEverySec, &fs);
    REQUIRE(server.Start());
    Client c(server.port());
    std::vector<std::string> seen;
    c.on_recv = [&] { seen.push_back(fs.Mark("reply", server.aof_path())); };
    fs.DelaySyncs(150);
    fs.ClearEvents();
    std::string t = c.Call({"LOCK.ACQUIRE", "k", "h", "10000"});
    REQUIRE(IsInteger(t));
    std::vector<std::string> events = fs.Events();
    INFO("events:\n" << Dump(events));
    std::vector<size_t> replies = Positions(events, "reply");
    REQUIRE(replies.size() == 1);
    CHECK(SyncedBefore(events, replies[0]));

    REQUIRE(seen.size() == 1);
    ParsedLog log = ParseLog(seen[0]);
    INFO("log:\n" << Dump(log));
    std::vector<const LoggedRecord*> grants = Find(log, fmt::format("LOCK.GRANT k h {} ", IntegerOf(t)));
    std::vector<const LoggedRecord*> reserves = Find(log, "LOCK.RESERVE ");
    REQUIRE(grants.size() == 1);
    REQUIRE(reserves.size() >= 1);
    const LoggedRecord& reserve = *reserves.back();
    CHECK(reserve.token >= IntegerOf(t) + aof::kTokenBlock);
    CHECK(reserve.unix_ms >= grants[0]->unix_ms);
    fs.DelaySyncs(0);
    CHECK(server.Stop() == 0);
  }

  SUBCASE("always") {
    TestServer server(AppendFsync::kAlways, &fs);
    REQUIRE(server.Start());
    Client c(server.port());
    for (int i = 0; i < 3; ++i) {
      REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", fmt::format("k{}", i), "h", "10000"})));
    }
    REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", "long", "h", "3600000"})));
    ParsedLog log = ParseLog(fs.Content(server.aof_path()));
    INFO("log:\n" << Dump(log));
    CHECK(Find(log, "LOCK.GRANT ").size() == 4);
    CHECK(Find(log, "LOCK.RESERVE").empty());
    CHECK(server.Stop() == 0);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  REQUIRE(out.good());
}

// Catches a replay that skips records (FREE, a MULTI unit, EXTEND), keeps a
// lease whose deadline passed while the server was down or frees it without
// logging it, resumes tokens below a reservation, or appends after a torn
// tail instead of cutting it.
TEST_CASE("durability: a hand-written log is replayed through the real file") {
  TestServer server(AppendFsync::kAlways, nullptr);
  const int64_t now = WallMillis();
  std::string log;
  aof::AppendGrant(&log, ChangeKind::kGrant, "a", "h1", 10, now + 60'000);
  aof::AppendGrant(&log, ChangeKind::kExtend, "a", "h1", 10, now + 90'000);
  aof::AppendGrant(&log, ChangeKind::kGrant, "b", "h2", 11, now - 5'000);
  aof::AppendGrant(&log, ChangeKind::kGrant, "c", "h3", 12, now + 60'000);
  aof::AppendFree(&log, "c", FreeCause::kRelease);
  aof::AppendGrant(&log, ChangeKind::kGrant, "d", "h4", 13, now + 60'000);
  aof::AppendMulti(&log);
  aof::AppendFree(&log, "d", FreeCause::kRelease);
  aof::AppendGrant(&log, ChangeKind::kGrant, "d", "h5", 14, now + 60'000);
  aof::AppendExec(&log);
  aof::AppendReserve(&log, 500, 0);
  const size_t valid_end = log.size();
  std::string torn;
  aof::AppendGrant(&torn, ChangeKind::kGrant, "e", "h6", 15, now + 60'000);
  log += torn.substr(0, torn.size() / 2);
  REQUIRE(aof::CheckLog(log).result == aof::LogReader::Result::kTruncated);
  REQUIRE(aof::CheckLog(log).valid_end == valid_end);
  WriteFile(server.aof_path(), log);

  REQUIRE(server.Start());
  Client c(server.port());
  std::string a = c.Call({"LOCK.INFO", "a"});
  CHECK(a.starts_with("[holder, h1, token, :10, ttl_ms, :"));
  CHECK(a.ends_with(", waiters, :0]"));
  int64_t ttl = std::atoll(a.substr(a.find("ttl_ms, :") + 9).c_str());
  CHECK(ttl > 60'000);  // the EXTEND was applied
  CHECK(ttl <= 90'000);
  CHECK(c.Call({"LOCK.FENCE", "b"}) == "(nil)");
  CHECK(c.Call({"LOCK.FENCE", "c"}) == "(nil)");
  CHECK(c.Call({"LOCK.INFO", "d"}).starts_with("[holder, h5, token, :14, "));
  CHECK(InfoField(c, "persistence", "lock_restart_delay_ms") == "0");
  CHECK(c.Call({"LOCK.ACQUIRE", "e", "h6", "10000"}) == ":501");

  // The torn half record was cut before anything was appended: the file is
  // the valid part followed by whole new records.
  std::string content = ReadFile(server.aof_path());
  CHECK(content.substr(0, valid_end) == log.substr(0, valid_end));
  aof::LogCheck check = aof::CheckLog(content);
  INFO("check: " << check.error << " at " << check.error_offset);
  CHECK(check.result == aof::LogReader::Result::kEnd);
  ParsedLog appended = ParseLog(std::string_view(content).substr(valid_end));
  INFO("appended:\n" << Dump(appended));
  CHECK(Find(appended, "LOCK.FREE b expire").size() == 1);
  CHECK(Find(appended, "LOCK.GRANT e h6 501 ").size() == 1);
  CHECK(Find(appended, "LOCK.FREE a").empty());
  CHECK(Find(appended, "LOCK.FREE d").empty());
  // The writer counts from the cut, not from the torn size.
  CHECK(InfoField(c, "persistence", "aof_current_size") == std::to_string(content.size()));

  CHECK(server.Stop() == 0);
  ParsedLog after = ParseLog(ReadFile(server.aof_path()));
  REQUIRE_FALSE(after.records.empty());
  CHECK(after.records.back().text == "LOCK.SHUTDOWN 0");
}

// Catches a restart that grants at once after an unclean stop (a lease lost
// with the unsynced tail could still run), or that delays a clean restart.
TEST_CASE("durability: the restart lock-delay follows an unclean stop only") {
  TestServer server(AppendFsync::kAlways, nullptr);
  const int64_t now = WallMillis();
  std::string log;
  aof::AppendGrant(&log, ChangeKind::kGrant, "x", "hx", 20, now + 60'000);
  aof::AppendReserve(&log, 600, now + 3'000);
  bool clean = false;
  SUBCASE("unclean") {}
  SUBCASE("clean") {
    clean = true;
    aof::AppendShutdown(&log, 0);
  }
  WriteFile(server.aof_path(), log);

  REQUIRE(server.Start());
  Client c(server.port());
  CHECK(c.Call({"LOCK.FENCE", "x"}) == ":20");
  std::string delay = InfoField(c, "persistence", "lock_restart_delay_ms");
  std::string fresh = c.Call({"LOCK.ACQUIRE", "fresh", "anyone", "1000"});
  if (clean) {
    CHECK(delay == "0");
    CHECK(fresh == ":601");
  } else {
    CHECK(std::atoll(delay.c_str()) > 0);
    CHECK(std::atoll(delay.c_str()) <= 3'000);
    CHECK(fresh == "(nil)");
  }
  CHECK(server.Stop() == 0);
}

}  // namespace
}  // namespace lockd

namespace lockd {
namespace {

// Catches a lease without a deadline (SET without EX/PX, PERSIST) revealed
// under everysec before its record is synced: no reserved horizon covers
// such a lease, so a crash could lose it while the restart's lock-delay
// ends, and its key would be granted again. A lease with a deadline inside
// the reserved horizon needs no sync.
TEST_CASE("durability: a lease without a deadline is synced before its reply (everysec)") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kEverySec, &fs);
  REQUIRE(server.Start());
  Client c(server.port());
  // The first grant reserves tokens and a horizon, out of the way.
  REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", "warm", "h", "60000"})));
  c.on_recv = [&] { fs.Mark("reply", server.aof_path()); };
  fs.DelaySyncs(150);
  auto synced_before_reply = [&](const std::vector<std::string>& command,
                                 const std::string& expected) {
    fs.ClearEvents();
    CHECK(c.Call(command) == expected);
    std::vector<std::string> events = fs.Events();
    INFO("events:\n" << Dump(events));
    std::vector<size_t> replies = Positions(events, "reply");
    REQUIRE(replies.size() == 1);
    return SyncedBefore(events, replies[0]);
  };
  CHECK(synced_before_reply({"SET", "k", "v"}, "+OK"));
  CHECK_FALSE(synced_before_reply({"SET", "k2", "v", "PX", "1000"}, "+OK"));
  CHECK(synced_before_reply({"PERSIST", "k2"}, ":1"));
  CHECK(synced_before_reply({"SETNX", "k3", "v"}, ":1"));
  fs.DelaySyncs(0);
  CHECK(server.Stop() == 0);
}

}  // namespace
}  // namespace lockd

namespace lockd {
namespace {

// LATENCY's "aof-fsync-always": a sync of 30 ms under a 10 ms threshold is
// an event, whether the loop or the sync thread ran it; with the log's syncs
// quick, no such event appears.
TEST_CASE("durability: slow syncs under always are LATENCY events") {
  FakeFileSystem fs;
  TestServer server(AppendFsync::kAlways, &fs);
  REQUIRE(server.Start());
  Client c(server.port());
  REQUIRE(c.connected());
  REQUIRE(c.Call({"CONFIG", "SET", "latency-monitor-threshold", "10"}) == "+OK");
  REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", "quick", "h", "10000"})));
  CHECK(c.Call({"LATENCY", "HISTORY", "aof-fsync-always"}) == "[]");

  fs.DelaySyncs(30);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", fmt::format("slow{}", i), "h", "10000"})));
  }
  fs.DelaySyncs(0);
  // The event is noted at the commit after the sync ended.
  REQUIRE(IsInteger(c.Call({"LOCK.ACQUIRE", "after", "h", "10000"})));
  std::string latest = c.Call({"LATENCY", "LATEST"});
  INFO("LATENCY LATEST: " << latest);
  CHECK(latest.find("aof-fsync-always") != std::string::npos);
  std::string history = c.Call({"LATENCY", "HISTORY", "aof-fsync-always"});
  CHECK(history != "[]");
  CHECK(server.Stop() == 0);
}

}  // namespace
}  // namespace lockd
