// The integration-test harness: runs the real build/lockd-server on a free
// port in a temporary directory and talks to it with hiredis (RESP2) or with a
// raw socket (RESP3, malformed input, exact bytes).
//
// Every wait here is bounded: helpers take a timeout and report failure
// instead of blocking, so that a broken server fails a test rather than
// hanging the suite. Tests run from the repository root (the server binary is
// build/lockd-server, or $LOCKD_SERVER when set).
#pragma once

#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockd_test {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// Milliseconds elapsed since `start`.
int64_t ElapsedMs(Clock::time_point start);

// Calls `done` every `step_ms` until it returns true or `timeout_ms` passes;
// returns its last result.
bool WaitFor(const std::function<bool()>& done, int timeout_ms, int step_ms = 10);

// A port that was free a moment ago (bound to 0 on 127.0.0.1, read, closed).
int FreePort();

// A blocking TCP connection to 127.0.0.1:`port` with TCP_NODELAY, or -1.
int ConnectLoopback(int port);

// One HTTP request on a fresh connection to 127.0.0.1:`port` (the request
// should say Connection: close); the whole response, or "" when the
// connection failed. Reads time out after 5 s.
std::string HttpOnce(int port, const std::string& request);

// The server binary, relative to the repository root.
std::string ServerBinary();

// Whether that binary is a sanitized build (ASan or TSan): it carries shadow
// memory and a quarantine of freed blocks (ASan keeps up to 256 MB), and runs
// several times slower.
bool ServerIsSanitized();
// Slack for memory bounds on top of what a plain server may use: 512 MiB for
// a sanitized server, 0 otherwise.
int64_t SanitizerRssSlack();

// ---- Replies ----

// An owned hiredis reply. Null when the connection failed (see Client::error).
class Reply {
 public:
  Reply() = default;
  explicit Reply(redisReply* r) : r_(r, freeReplyObject) {}

  explicit operator bool() const { return r_ != nullptr; }
  const redisReply* get() const { return r_.get(); }
  const redisReply* operator->() const { return r_.get(); }

  bool is_nil() const { return r_ && r_->type == REDIS_REPLY_NIL; }
  bool is_int() const { return r_ && r_->type == REDIS_REPLY_INTEGER; }
  bool is_error() const { return r_ && r_->type == REDIS_REPLY_ERROR; }
  bool is_status() const { return r_ && r_->type == REDIS_REPLY_STATUS; }
  bool is_string() const { return r_ && r_->type == REDIS_REPLY_STRING; }
  bool is_array() const { return r_ && r_->type == REDIS_REPLY_ARRAY; }
  int64_t integer() const { return is_int() ? r_->integer : INT64_MIN; }
  // The text of a bulk string, status or error; "" for other types.
  std::string str() const;
  size_t size() const { return is_array() ? r_->elements : 0; }
  const redisReply* at(size_t i) const { return i < size() ? r_->element[i] : nullptr; }

  // A short description, for failure messages: "int 5", "nil", "err ...".
  std::string Describe() const;

 private:
  std::shared_ptr<redisReply> r_;
};

// Description of a raw hiredis element (for nested arrays).
std::string DescribeElement(const redisReply* r);
std::string ElementString(const redisReply* r);

// ---- A hiredis connection ----

class Client {
 public:
  // Connects with the given connect and read/write timeout. Check ok().
  explicit Client(int port, int timeout_ms = 5000);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool ok() const { return c_ != nullptr && c_->err == 0; }
  std::string error() const;
  redisContext* context() { return c_; }
  int fd() const { return c_ ? c_->fd : -1; }

  // Sends one command and waits for its reply (bounded by the timeout).
  Reply Cmd(const std::vector<std::string>& args);
  // Only queues the command in hiredis's output buffer.
  void Append(const std::vector<std::string>& args);
  // Writes everything queued by Append to the socket (bounded by the timeout).
  bool Flush();
  // Reads the next reply (bounded by the timeout).
  Reply GetReply();
  // Changes the socket's read/write timeout.
  void SetTimeout(int timeout_ms);
  // True when a reply (or EOF) is ready to read within `wait_ms`, without
  // consuming it.
  bool ReplyReady(int wait_ms);
  // Closes the connection now.
  void Close();

 private:
  redisContext* c_ = nullptr;
};

// ---- A raw socket, for exact bytes ----

class RawConn {
 public:
  explicit RawConn(int port);
  ~RawConn();
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends all bytes (blocking, bounded by `timeout_ms`); false on error.
  bool Send(std::string_view bytes, int timeout_ms = 5000);
  // Reads until `n` bytes have arrived in total (buffered), EOF or timeout;
  // returns and consumes up to n bytes.
  std::string Read(size_t n, int timeout_ms = 5000);
  // Reads and consumes one line including its CRLF ("" on timeout/EOF).
  std::string ReadLine(int timeout_ms = 5000);
  // Reads one complete RESP2/RESP3 value and returns its bytes ("" on
  // timeout, EOF or malformed input).
  std::string ReadValue(int timeout_ms = 5000);
  // Reads everything until the peer closes; `closed` tells whether EOF (or a
  // reset) came before the timeout.
  std::string ReadUntilClosed(int timeout_ms, bool* closed);
  // Whether any byte (or EOF) arrives within `wait_ms` (not consumed).
  bool Readable(int wait_ms);
  // Sends a command as a multibulk array and reads one RESP value.
  std::string Command(const std::vector<std::string>& args, int timeout_ms = 5000);
  void SetNonBlocking();
  void Close();

 private:
  // Reads what is available into buf_ within `timeout_ms`; false on
  // timeout, EOF or error (eof_ set on EOF or error).
  bool Fill(int timeout_ms);
  // Length of one complete RESP value at buf_[pos], or 0 if incomplete,
  // -1 if malformed.
  int64_t ValueLength(size_t pos) const;

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// RESP encodings, for building expected bytes.
std::string Multibulk(const std::vector<std::string>& args);
std::string BulkBytes(std::string_view s);

// ---- The server ----

struct RunResult {
  int exit_code = -1;  // -1: killed or did not exit in time
  bool timed_out = false;
  std::string output;  // stdout and stderr
};

// Runs the server binary with exactly `args` and waits (bounded) for it to
// exit, capturing its output. For start-up failures and --version.
RunResult RunServerOnce(const std::vector<std::string>& args, int timeout_ms = 10000);

// How a TestServer starts. The defaults are those of TestServer(extra): a
// fresh temporary directory and the log off.
struct ServerOptions {
  // Directives after the harness's own ("--name", "value", ...); later ones
  // win, so these may override the harness's.
  std::vector<std::string> extra;
  // The --dir. Empty: a fresh temporary directory, removed with the server.
  // A given directory is kept, so that a later server can restart in it; each
  // server then writes its own lockd-<n>.log there.
  std::string dir;
  // Leaves out the harness's "--appendonly no", so the default (yes) applies.
  bool appendonly = false;
  // RLIMIT_FSIZE of the server process in bytes (set before exec); 0: none.
  int64_t file_size_limit = 0;
  // Whether the start waits for the log to be loaded (PING answers PONG)
  // or only for the server to answer at all (-LOADING counts).
  bool wait_until_loaded = true;
  // The port; 0: a free one (and another one if it was taken meanwhile).
  int port = 0;
};

class TestServer {
 public:
  // Starts the server with the harness's directives plus `extra`
  // ("--name", "value", ...). Check started().
  explicit TestServer(std::vector<std::string> extra = {});
  explicit TestServer(const ServerOptions& options);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  bool started() const { return started_; }
  const std::string& start_error() const { return start_error_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return log_path_; }
  std::string ReadLog() const;
  // Resident set size of the server process, in bytes (/proc/<pid>/statm).
  int64_t RssBytes() const;
  // Whether the process is still running (reaps it if it exited).
  bool Running();

  // Sends `sig` and waits (bounded) for the exit; returns the exit code, or
  // -1 when it was killed by a signal or did not exit in time.
  int StopWith(int sig, int timeout_ms = 5000);
  // Waits (bounded) for an exit that something else caused (SHUTDOWN).
  std::optional<int> WaitExit(int timeout_ms);
  // SIGKILL, the unclean stop, and reaps the process.
  void Kill();

  // One field of `INFO section`, asked on a new connection ("" on failure).
  std::string Info(const std::string& section, const std::string& field) const;

  std::unique_ptr<Client> Connect(int timeout_ms = 5000) const;
  std::unique_ptr<RawConn> ConnectRaw() const;

 private:
  bool Start(const std::vector<std::string>& extra);
  void Reap(int status);

  std::string dir_;
  bool owns_dir_ = true;
  bool appendonly_ = false;
  int64_t file_size_limit_ = 0;
  bool wait_until_loaded_ = true;
  std::string log_path_;
  std::string output_path_;
  int port_ = 0;
  int fixed_port_ = 0;
  pid_t pid_ = -1;
  bool started_ = false;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string start_error_;
};

// A temporary directory removed at the end of the scope (for servers that
// restart in the same directory). `path` is empty when it could not be made.
struct ScratchDir {
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path;
};

// The whole content of a file ("" when it cannot be read).
std::string ReadWholeFile(const std::string& path);

// ---- Small helpers over replies ----

// Splits an INFO reply into "field" → "value".
std::string InfoField(const std::string& info, const std::string& field);

// LOCK.INFO's waiters count for `key` (RESP2 flat array), or -1.
int64_t WaitersOf(Client& c, const std::string& key);

// LOCK.INFO's RESP2 reply, checked field by field: names and types in the
// order LOCK.INFO replies in. Empty when the reply has another shape.
struct LockInfo {
  std::string holder;
  int64_t token = 0;
  int64_t ttl_ms = 0;
  int64_t waiters = 0;
};
std::optional<LockInfo> ParseLockInfo(const Reply& r);

// Every key a full SCAN iteration returns, with extra arguments (MATCH,
// COUNT, TYPE); sorted, duplicates kept. Empty and *ok false on an error
// reply or when the scan does not end within 10,000 calls.
std::vector<std::string> ScanAll(Client& c, const std::vector<std::string>& extra, bool* ok);

// A decoded RESP2/RESP3 value, for raw-socket tests.
struct RespValue {
  char type = 0;             // '+', '-', ':', '$', '*', '%', '_', ...
  std::string str;           // simple, error and bulk text; the number's digits
  int64_t integer = 0;       // ':'
  bool null = false;         // '_', "$-1", "*-1"
  std::vector<RespValue> elems;  // arrays, sets; maps as key, value, key, value
};
// Decodes exactly one value from `bytes`; empty when malformed or when bytes
// remain after it.
std::optional<RespValue> ParseResp(std::string_view bytes);
// Decodes values one after another from the start of `bytes` (an append-only
// log, say) up to the first incomplete or malformed one; *consumed is the
// length of the complete values, and `offsets`, when given, receives where
// each value starts.
std::vector<RespValue> ParseRespSequence(std::string_view bytes, size_t* consumed,
                                         std::vector<size_t>* offsets = nullptr);

}  // namespace lockd_test

// Starts a TestServer named `name` with extra directives, failing the test
// case at once when it does not come up.
#define START_SERVER(name, ...)                                        \
  ::lockd_test::TestServer name{std::vector<std::string>{__VA_ARGS__}}; \
  REQUIRE_MESSAGE(name.started(), name.start_error())

namespace lockd_test {

}  // namespace lockd_test
