// The harness of harness.h, and doctest's main for build/integration-tests.
//
// Server processes are started with PR_SET_PDEATHSIG so that they die with
// the test binary even if it crashes, and a watchdog ends the whole run if it
// ever exceeds its time budget: no test can leave the suite hanging.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace lockd_test {

namespace {

// The whole suite must end well under this; a hang ends the run instead.
constexpr int kWatchdogSeconds = 300;

struct ProcessSetup {
  ProcessSetup() {
    // A server that closes a connection must fail a write, not kill us.
    signal(SIGPIPE, SIG_IGN);
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(kWatchdogSeconds));
      std::fprintf(stderr, "integration-tests: watchdog: still running after %d s, aborting\n",
                   kWatchdogSeconds);
      std::fflush(stderr);
      _exit(3);
    }).detach();
  }
};
ProcessSetup g_setup;

timeval ToTimeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Forks and execs the server with `args` (argv[1..]), stdout and stderr to
// `output_path`, under RLIMIT_FSIZE `file_size_limit` when it is not 0. The
// child dies with the thread that forked it.
pid_t Spawn(const std::vector<std::string>& args, const std::string& output_path,
            int64_t file_size_limit = 0) {
  std::string bin = ServerBinary();
  std::vector<char*> argv;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (file_size_limit > 0) {
    rlimit limit{static_cast<rlim_t>(file_size_limit), static_cast<rlim_t>(file_size_limit)};
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  int fd = open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    close(devnull);
  }
  execv(bin.c_str(), argv.data());
  std::fprintf(stderr, "exec %s: %s\n", bin.c_str(), std::strerror(errno));
  _exit(127);
}

// Waits up to `timeout_ms` for `pid`; true when it exited (status set).
bool WaitPid(pid_t pid, int timeout_ms, int* status) {
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not our child any more
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(5));
  }
}

int ExitCodeOf(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

}  // namespace

int64_t ElapsedMs(Clock::time_point start) {
  return std::chrono::duration_cast<Millis>(Clock::now() - start).count();
}

bool WaitFor(const std::function<bool()>& done, int timeout_ms, int step_ms) {
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (true) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(step_ms));
  }
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

std::string HttpOnce(int port, const std::string& request) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::string ServerBinary() {
  const char* env = std::getenv("LOCKD_SERVER");
  return env != nullptr && *env != '\0' ? env : "build/lockd-server";
}

bool ServerIsSanitized() {
  const std::string bin = ServerBinary();
  return bin.find("sanitize") != std::string::npos || bin.find("tsan") != std::string::npos;
}

int64_t SanitizerRssSlack() { return ServerIsSanitized() ? int64_t{512} * 1024 * 1024 : 0; }

// ---- Reply ----

std::string ElementString(const redisReply* r) {
  if (r == nullptr) return "";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    default:
      return "";
  }
}

std::string DescribeElement(const redisReply* r) {
  if (r == nullptr) return "(no reply)";
  switch (r->type) {
    case REDIS_REPLY_STRING: return "bulk \"" + ElementString(r) + "\"";
    case REDIS_REPLY_STATUS: return "status " + ElementString(r);
    case REDIS_REPLY_ERROR: return "error " + ElementString(r);
    case REDIS_REPLY_INTEGER: return "int " + std::to_string(r->integer);
    case REDIS_REPLY_NIL: return "nil";
    case REDIS_REPLY_ARRAY: {
      std::string out = "[";
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out += ", ";
        if (out.size() > 400) {
          out += "...";
          break;
        }
        out += DescribeElement(r->element[i]);
      }
      return out + "]";
    }
    default:
      return "type " + std::to_string(r->type);
  }
}

std::string Reply::str() const { return ElementString(r_.get()); }

std::string Reply::Describe() const { return DescribeElement(r_.get()); }

// ---- Client ----

Client::Client(int port, int timeout_ms) {
  c_ = redisConnectWithTimeout("127.0.0.1", port, ToTimeval(timeout_ms));
  if (c_ != nullptr && c_->err == 0) redisSetTimeout(c_, ToTimeval(timeout_ms));
}

Client::~Client() { Close(); }

void Client::Close() {
  if (c_ != nullptr) redisFree(c_);
  c_ = nullptr;
}

std::string Client::error() const {
  if (c_ == nullptr) return "no context";
  return c_->err ? std::string(c_->errstr) : "";
}

Reply Client::Cmd(const std::vector<std::string>& args) {
  if (!ok()) return Reply();
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* r = redisCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data());
  return Reply(static_cast<redisReply*>(r));
}

void Client::Append(const std::vector<std::string>& args) {
  if (!ok()) return;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c_, static_cast<int>(args.size()), argv.data(), lens.data());
}

bool Client::Flush() {
  if (!ok()) return false;
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c_, &done) != REDIS_OK) return false;
  }
  return true;
}

Reply Client::GetReply() {
  if (!ok()) return Reply();
  void* r = nullptr;
  if (redisGetReply(c_, &r) != REDIS_OK) return Reply();
  return Reply(static_cast<redisReply*>(r));
}

void Client::SetTimeout(int timeout_ms) {
  if (c_ != nullptr) redisSetTimeout(c_, ToTimeval(timeout_ms));
}

bool Client::ReplyReady(int wait_ms) {
  if (!ok()) return true;
  if (c_->reader != nullptr && c_->reader->len > c_->reader->pos) return true;
  pollfd p{c_->fd, POLLIN, 0};
  return poll(&p, 1, wait_ms) > 0;
}

// ---- RawConn ----

RawConn::RawConn(int port) : fd_(ConnectLoopback(port)) {}

RawConn::~RawConn() { Close(); }

void RawConn::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void RawConn::SetNonBlocking() {
  if (fd_ >= 0) fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

bool RawConn::Send(std::string_view bytes, int timeout_ms) {
  if (fd_ < 0) return false;
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (!bytes.empty()) {
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool RawConn::Fill(int timeout_ms) {
  if (fd_ < 0 || eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r <= 0) return false;
  char tmp[64 * 1024];
  ssize_t n = recv(fd_, tmp, sizeof(tmp), MSG_DONTWAIT);
  if (n > 0) {
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  eof_ = true;  // orderly close, or a reset
  return false;
}

std::string RawConn::Read(size_t n, int timeout_ms) {
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (buf_.size() < n && !eof_ && Clock::now() < deadline) Fill(RemainingMs(deadline));
  std::string out = buf_.substr(0, n);
  buf_.erase(0, out.size());
  return out;
}

std::string RawConn::ReadLine(int timeout_ms) {
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (true) {
    size_t at = buf_.find("\r\n");
    if (at != std::string::npos) {
      std::string line = buf_.substr(0, at + 2);
      buf_.erase(0, at + 2);
      return line;
    }
    if (eof_ || Clock::now() >= deadline) return "";
    Fill(RemainingMs(deadline));
  }
}

int64_t RawConn::ValueLength(size_t pos) const {
  if (pos >= buf_.size()) return 0;
  size_t eol = buf_.find("\r\n", pos);
  if (eol == std::string::npos) return 0;
  char type = buf_[pos];
  std::string header = buf_.substr(pos + 1, eol - pos - 1);
  size_t line = eol + 2 - pos;
  switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
      return static_cast<int64_t>(line);
    case '$': case '=': case '!': {
      long long len = std::atoll(header.c_str());
      if (len < 0) return static_cast<int64_t>(line);
      size_t total = line + static_cast<size_t>(len) + 2;
      return pos + total <= buf_.size() ? static_cast<int64_t>(total) : 0;
    }
    case '*': case '%': case '~': case '>': case '|': {
      long long count = std::atoll(header.c_str());
      if (count < 0) return static_cast<int64_t>(line);
      if (type == '%' || type == '|') count *= 2;
      size_t at = pos + line;
      for (long long i = 0; i < count; ++i) {
        int64_t l = ValueLength(at);
        if (l <= 0) return l;
        at += static_cast<size_t>(l);
      }
      // An attribute precedes the value it describes.
      if (type == '|') {
        int64_t l = ValueLength(at);
        if (l <= 0) return l;
        at += static_cast<size_t>(l);
      }
      return static_cast<int64_t>(at - pos);
    }
    default:
      return -1;
  }
}

std::string RawConn::ReadValue(int timeout_ms) {
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (true) {
    int64_t len = ValueLength(0);
    if (len < 0) return "";
    if (len > 0) {
      std::string out = buf_.substr(0, static_cast<size_t>(len));
      buf_.erase(0, static_cast<size_t>(len));
      return out;
    }
    if (eof_ || Clock::now() >= deadline) return "";
    Fill(RemainingMs(deadline));
  }
}

std::string RawConn::ReadUntilClosed(int timeout_ms, bool* closed) {
  auto deadline = Clock::now() + Millis(timeout_ms);
  while (!eof_ && Clock::now() < deadline) Fill(RemainingMs(deadline));
  if (closed != nullptr) *closed = eof_;
  std::string out;
  out.swap(buf_);
  return out;
}

bool RawConn::Readable(int wait_ms) {
  if (!buf_.empty() || eof_) return true;
  if (fd_ < 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, wait_ms) > 0;
}

std::string RawConn::Command(const std::vector<std::string>& args, int timeout_ms) {
  if (!Send(Multibulk(args), timeout_ms)) return "";
  return ReadValue(timeout_ms);
}

std::string BulkBytes(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += BulkBytes(a);
  return out;
}

// ---- Running the server ----

RunResult RunServerOnce(const std::vector<std::string>& args, int timeout_ms) {
  RunResult result;
  char path[] = "/tmp/lockd-run-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return result;
  close(fd);
  pid_t pid = Spawn(args, path);
  int status = 0;
  if (pid < 0) {
    unlink(path);
    return result;
  }
  if (WaitPid(pid, timeout_ms, &status)) {
    result.exit_code = ExitCodeOf(status);
  } else {
    result.timed_out = true;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.output = ReadFile(path);
  unlink(path);
  return result;
}

TestServer::TestServer(std::vector<std::string> extra) : TestServer(ServerOptions{extra}) {}

TestServer::TestServer(const ServerOptions& options)
    : appendonly_(options.appendonly),
      file_size_limit_(options.file_size_limit),
      wait_until_loaded_(options.wait_until_loaded) {
  if (options.dir.empty()) {
    char tmpl[] = "/tmp/lockd-it-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      start_error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    log_path_ = dir_ + "/lockd.log";
    output_path_ = dir_ + "/stdout.txt";
  } else {
    // Servers that take turns in one directory keep their own logs, so that
    // a test reads what this start said and nothing older.
    static std::atomic<int> serial{0};
    std::string n = std::to_string(++serial);
    dir_ = options.dir;
    owns_dir_ = false;
    log_path_ = dir_ + "/lockd-" + n + ".log";
    output_path_ = dir_ + "/stdout-" + n + ".txt";
  }
  fixed_port_ = options.port;
  started_ = Start(options.extra);
}

bool TestServer::Start(const std::vector<std::string>& extra) {
  // The free port may be taken between FreePort() and the server's bind;
  // try again on another port when that is why it failed.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = fixed_port_ != 0 ? fixed_port_ : FreePort();
    std::vector<std::string> args = {"--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--dir",  dir_,                  "--logfile", log_path()};
    if (!appendonly_) args.insert(args.end(), {"--appendonly", "no"});
    args.insert(args.end(), extra.begin(), extra.end());
    exited_ = false;
    pid_ = Spawn(args, output_path_, file_size_limit_);
    if (pid_ < 0) {
      start_error_ = "fork failed";
      return false;
    }
    auto deadline = Clock::now() + Millis(10000);
    while (Clock::now() < deadline) {
      if (!Running()) break;
      Client c(port_, 200);
      if (c.ok()) {
        Reply r = c.Cmd({"PING"});
        // With requirepass the answer is NOAUTH, which also means "up".
        if (r && (r.str() == "PONG" || r.str().rfind("NOAUTH", 0) == 0)) return true;
        if (!wait_until_loaded_ && r.str().rfind("LOADING", 0) == 0) return true;
      }
      std::this_thread::sleep_for(Millis(10));
    }
    if (Running()) {
      start_error_ = "server did not answer PING within 10 s";
      StopWith(SIGKILL, 2000);
      return false;
    }
    std::string out = ReadFile(output_path_) + ReadLog();
    start_error_ = "server exited with code " + std::to_string(exit_code_) + ": " + out;
    if (fixed_port_ != 0 || out.find("in use") == std::string::npos) return false;
  }
  return false;
}

void TestServer::Reap(int status) {
  exited_ = true;
  exit_code_ = ExitCodeOf(status);
}

bool TestServer::Running() {
  if (pid_ < 0 || exited_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reap(status);
    return false;
  }
  return r == 0;
}

int TestServer::StopWith(int sig, int timeout_ms) {
  if (!Running()) return exited_ ? exit_code_ : -1;
  kill(pid_, sig);
  int status = 0;
  if (WaitPid(pid_, timeout_ms, &status)) {
    Reap(status);
    return exit_code_;
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  exited_ = true;
  exit_code_ = -1;
  return -1;
}

std::optional<int> TestServer::WaitExit(int timeout_ms) {
  if (WaitFor([&] { return !Running(); }, timeout_ms, 5)) return exit_code_;
  return std::nullopt;
}

void TestServer::Kill() { StopWith(SIGKILL, 5000); }

std::string TestServer::Info(const std::string& section, const std::string& field) const {
  Client c(port_, 5000);
  if (!c.ok()) return "";
  return InfoField(c.Cmd({"INFO", section}).str(), field);
}

TestServer::~TestServer() {
  if (pid_ > 0 && Running()) StopWith(SIGTERM, 5000);
  if (owns_dir_ && !dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string TestServer::ReadLog() const { return ReadFile(log_path()); }

int64_t TestServer::RssBytes() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return -1;
  return resident * sysconf(_SC_PAGESIZE);
}

std::unique_ptr<Client> TestServer::Connect(int timeout_ms) const {
  return std::make_unique<Client>(port_, timeout_ms);
}

std::unique_ptr<RawConn> TestServer::ConnectRaw() const { return std::make_unique<RawConn>(port_); }

ScratchDir::ScratchDir() {
  char tmpl[] = "/tmp/lockd-it-dir-XXXXXX";
  if (mkdtemp(tmpl) != nullptr) path = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!path.empty()) std::filesystem::remove_all(path, ec);
}

std::string ReadWholeFile(const std::string& path) { return ReadFile(path); }

// ---- Helpers over replies ----

std::string InfoField(const std::string& info, const std::string& field) {
  std::string key = field + ":";
  size_t at = 0;
  while ((at = info.find(key, at)) != std::string::npos) {
    if (at == 0 || info[at - 1] == '\n') {
      size_t start = at + key.size();
      size_t end = info.find_first_of("\r\n", start);
      return info.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    at += key.size();
  }
  return "";
}

int64_t WaitersOf(Client& c, const std::string& key) {
  Reply r = c.Cmd({"LOCK.INFO", key});
  if (!r.is_array() || r.size() != 8) return -1;
  const redisReply* w = r.at(7);
  return w->type == REDIS_REPLY_INTEGER ? w->integer : -1;
}

std::optional<LockInfo> ParseLockInfo(const Reply& r) {
  if (!r.is_array() || r.size() != 8) return std::nullopt;
  static const char* const kNames[] = {"holder", "token", "ttl_ms", "waiters"};
  for (size_t i = 0; i < 4; ++i) {
    const redisReply* name = r.at(2 * i);
    if (name->type != REDIS_REPLY_STRING || ElementString(name) != kNames[i]) return std::nullopt;
  }
  if (r.at(1)->type != REDIS_REPLY_STRING) return std::nullopt;
  for (size_t i : {3, 5, 7}) {
    if (r.at(i)->type != REDIS_REPLY_INTEGER) return std::nullopt;
  }
  LockInfo info;
  info.holder = ElementString(r.at(1));
  info.token = r.at(3)->integer;
  info.ttl_ms = r.at(5)->integer;
  info.waiters = r.at(7)->integer;
  return info;
}

std::vector<std::string> ScanAll(Client& c, const std::vector<std::string>& extra, bool* ok) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  *ok = false;
  for (int calls = 0; calls < 10000; ++calls) {
    std::vector<std::string> args = {"SCAN", cursor};
    args.insert(args.end(), extra.begin(), extra.end());
    Reply r = c.Cmd(args);
    if (!r.is_array() || r.size() != 2 || r.at(0)->type != REDIS_REPLY_STRING ||
        r.at(1)->type != REDIS_REPLY_ARRAY) {
      return {};
    }
    const redisReply* batch = r.at(1);
    for (size_t i = 0; i < batch->elements; ++i) keys.push_back(ElementString(batch->element[i]));
    cursor = ElementString(r.at(0));
    if (cursor == "0") {
      std::sort(keys.begin(), keys.end());
      *ok = true;
      return keys;
    }
  }
  return {};
}

namespace {

// Decodes one value at `*pos`, advancing it; false when malformed or short.
bool DecodeResp(std::string_view b, size_t* pos, RespValue* out) {
  size_t eol = b.find("\r\n", *pos);
  if (*pos >= b.size() || eol == std::string_view::npos) return false;
  out->type = b[*pos];
  std::string header(b.substr(*pos + 1, eol - *pos - 1));
  *pos = eol + 2;
  switch (out->type) {
    case '+': case '-': case ',': case '#': case '(':
      out->str = header;
      return true;
    case ':':
      out->str = header;
      out->integer = std::atoll(header.c_str());
      return true;
    case '_':
      out->null = true;
      return header.empty();
    case '$': case '=': case '!': {
      long long len = std::atoll(header.c_str());
      if (len < 0) {
        out->null = true;
        return true;
      }
      if (*pos + static_cast<size_t>(len) + 2 > b.size()) return false;
      out->str = std::string(b.substr(*pos, static_cast<size_t>(len)));
      *pos += static_cast<size_t>(len);
      if (b.substr(*pos, 2) != "\r\n") return false;
      *pos += 2;
      return true;
    }
    case '*': case '~': case '%': case '>': {
      long long count = std::atoll(header.c_str());
      if (count < 0) {
        out->null = true;
        return true;
      }
      if (out->type == '%') count *= 2;
      for (long long i = 0; i < count; ++i) {
        RespValue v;
        if (!DecodeResp(b, pos, &v)) return false;
        out->elems.push_back(std::move(v));
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

std::optional<RespValue> ParseResp(std::string_view bytes) {
  RespValue v;
  size_t pos = 0;
  if (!DecodeResp(bytes, &pos, &v) || pos != bytes.size()) return std::nullopt;
  return v;
}

std::vector<RespValue> ParseRespSequence(std::string_view bytes, size_t* consumed,
                                         std::vector<size_t>* offsets) {
  std::vector<RespValue> values;
  size_t pos = 0;
  while (pos < bytes.size()) {
    RespValue v;
    size_t next = pos;
    if (!DecodeResp(bytes, &next, &v)) break;
    if (offsets != nullptr) offsets->push_back(pos);
    values.push_back(std::move(v));
    pos = next;
  }
  *consumed = pos;
  return values;
}

}  // namespace lockd_test
