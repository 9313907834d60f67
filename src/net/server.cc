// The event loop: accept, read, parse, run, and — in the one step before the
// loop sleeps — send every reply produced during the iteration with as few
// write calls as possible.
//
// Flow of one command: OnRead → InputBuffer → RequestParser → Commands::Execute
// (dispatcher → handler → engine) → Session::out → [BeforeSleep: (the log is
// written here first, once it exists) → Flush → uv_try_write / uv_write].
#include "net/server.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "net/client_limits.h"
#include "util/check.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/split_args.h"

namespace lockd {

namespace {

Connection* ConnectionOf(uv_handle_t* handle) { return static_cast<Connection*>(handle->data); }

std::string FormatAddress(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(in, ip, sizeof(ip));
    port = ntohs(in->sin_port);
    return fmt::format("{}:{}", ip, port);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(in6, ip, sizeof(ip));
    port = ntohs(in6->sin6_port);
    return fmt::format("{}:{}", ip, port);
  }
  return "?:0";
}

// Logs a message that may span lines as one log line per line, so that
// every line a reader greps carries the pid, time and level prefix.
void LogLines(LogLevel level, std::string_view message) {
  while (!message.empty()) {
    size_t nl = message.find('\n');
    std::string_view line = message.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) Log(level, "{}", line);
    if (nl == std::string_view::npos) break;
    message.remove_prefix(nl + 1);
  }
}

}  // namespace

Server::Server(const Config& config, const ServerOptions& options)
    : config_(config), options_(options) {
  LOCKD_CHECK(uv_loop_init(&loop_) == 0);
  commands_ = std::make_unique<Commands>(&config_, this, &clock_, options.files);
  replica_link_ = std::make_unique<repl::ReplicaLink>(&loop_, commands_.get(), &config_, &clock_);
  commands_->replication().set_link(replica_link_.get());
}

Server::~Server() {
  // Run() closed every handle; the loop has nothing left.
  RemoveClosed();
  uv_loop_close(&loop_);
}

int Server::Run() {
  // Users from `user` lines and the aclfile: a bad one stops the start.
  if (!commands_->acl_status().ok()) {
    LogLines(LogLevel::kWarning, commands_->acl_status().message());
    return 1;
  }
  RaiseOpenFileLimit();
  Status listening = Listen();
  if (!listening.ok()) {
    LogLines(LogLevel::kWarning, listening.message());
    for (uv_stream_t* l : listeners_) {
      uv_close(reinterpret_cast<uv_handle_t*>(l), [](uv_handle_t* h) { std::free(h); });
    }
    listeners_.clear();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return 1;
  }
  if (options_.on_listening) options_.on_listening();

  uv_prepare_init(&loop_, &before_sleep_);
  before_sleep_.data = this;
  uv_prepare_start(&before_sleep_, OnBeforeSleep);
  uv_timer_init(&loop_, &wheel_timer_);
  wheel_timer_.data = this;
  uv_timer_init(&loop_, &cron_);
  cron_.data = this;
  uv_signal_init(&loop_, &sigterm_);
  sigterm_.data = this;
  uv_signal_start(&sigterm_, OnSignal, SIGTERM);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(&sigint_, OnSignal, SIGINT);
  uv_signal_init(&loop_, &sigchld_);
  sigchld_.data = this;
  uv_signal_start(&sigchld_, OnChildSignal, SIGCHLD);
  uv_idle_init(&loop_, &load_idle_);
  load_idle_.data = this;
  uv_idle_init(&loop_, &rerun_);
  rerun_.data = this;
  uv_async_init(&loop_, &sync_done_, OnSyncDone);
  sync_done_.data = this;
  // Called on the log's sync thread: only wakes the loop, whose next
  // BeforeSleep releases the replies the sync covered.
  commands_->durability().set_sync_wake([this] { uv_async_send(&sync_done_); });
  UpdateCron();

  Log(LogLevel::kNotice, "Server initialized");
  commands_->replication().LogFailoverContract();
  // Clients may connect while the log loads; they get -LOADING until then.
  Status loading = commands_->durability().BeginLoad();
  if (!loading.ok()) {
    LogLines(LogLevel::kWarning, loading.message());
    Shutdown(false);
  } else if (commands_->durability().loading()) {
    uv_idle_start(&load_idle_, OnLoadStep);
  } else {
    LoadFinished();
  }

  uv_run(&loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

void Server::OnLoadStep(uv_idle_t* idle) {
  auto* self = static_cast<Server*>(idle->data);
  // A slice of a few milliseconds, so that -LOADING replies stay prompt.
  constexpr size_t kRecordsPerSlice = 16384;
  aof::Durability& durability = self->commands_->durability();
  if (!durability.LoadSome(kRecordsPerSlice)) return;
  uv_idle_stop(idle);
  Status s = durability.FinishLoad();
  if (!s.ok()) {
    LogLines(LogLevel::kWarning, s.message());
    self->Shutdown(false);
    return;
  }
  self->LoadFinished();
}

void Server::LoadFinished() {
  std::string kinds = config_.port != 0 ? "tcp" : "";
  if (!config_.unixsocket.empty()) kinds += kinds.empty() ? "unix" : " unix";
  if (config_.tls_port != 0) kinds += kinds.empty() ? "tls" : " tls";
  Log(LogLevel::kNotice, "Ready to accept connections {}", kinds);
  // A replica (the replicaof directive) connects to its primary once its
  // own log is loaded.
  replica_link_->Start();
  ArmWheelTimer();
}

// ---- Listening ----

void Server::RaiseOpenFileLimit() {
  // Each client is a descriptor; keep 32 for listeners, logs and the like.
  rlim_t wanted = static_cast<rlim_t>(config_.maxclients) + 32;
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  rlim_t old = limit.rlim_cur;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    int64_t reduced = static_cast<int64_t>(limit.rlim_cur) - 32;
    if (reduced < 1) reduced = 1;
    Log(LogLevel::kWarning,
        "You requested maxclients of {} requiring at least {} max file descriptors. Server can't "
        "set maximum open files to {} because of OS error; maxclients reduced to {} (open files "
        "limit was {}).",
        config_.maxclients, wanted, wanted, reduced, old);
    config_.maxclients = reduced;
  }
}

Status Server::Listen() {
  if (Status tls = SetUpTls(); !tls.ok()) return tls;
  if (config_.port != 0) {
    size_t bound = 0;
    for (const std::string& entry : config_.bind) {
      bool optional = !entry.empty() && entry[0] == '-';
      std::string address = optional ? entry.substr(1) : entry;
      size_t before = listeners_.size();
      Status s = ListenTcp(address, optional, config_.port);
      if (!s.ok()) {
        // Two log lines, as Redis writes them: the cause, then the verdict.
        Log(LogLevel::kWarning, "{}", s.message());
        return Status::Error(
            fmt::format("Failed listening on port {} (tcp), aborting.", config_.port));
      }
      bound += listeners_.size() - before;
    }
    if (bound == 0) {
      return Status::Error(fmt::format("Failed listening on port {} (tcp), aborting.", config_.port));
    }
  }
  if (!config_.unixsocket.empty()) {
    Status s = ListenUnix();
    if (!s.ok()) return s;
  }
  if (config_.http_port != 0) {
    Status s = ListenHttp();
    if (!s.ok()) return s;
  }
  if (config_.tls_port != 0) {
    Status s = ListenTls(config_.tls_port, &tls_listeners_);
    if (!s.ok()) return s;
  }
  if (listeners_.empty()) {
    return Status::Error("Configured to not listen anywhere (port 0 and no unixsocket), exiting.");
  }
  return Status::Ok();
}

// ---- The HTTP listener ----

Status Server::ListenHttp() {
  const std::vector<std::string>& binds = config_.http_bind.empty() ? config_.bind : config_.http_bind;
  // As for `bind`: an address without '-' that cannot be bound is fatal,
  // one with '-' may be missing on this host.
  for (const std::string& entry : binds) {
    bool optional = !entry.empty() && entry[0] == '-';
    size_t before = listeners_.size();
    Status s = ListenTcp(optional ? entry.substr(1) : entry, optional, config_.http_port);
    if (!s.ok()) {
      Log(LogLevel::kWarning, "{}", s.message());
      return Status::Error(
          fmt::format("Failed listening on port {} (http), aborting.", config_.http_port));
    }
    if (listeners_.size() > before) http_listeners_.push_back(listeners_.back());
  }
  if (http_listeners_.empty()) {
    return Status::Error(
        fmt::format("Failed listening on port {} (http), aborting.", config_.http_port));
  }
  Log(LogLevel::kNotice, "HTTP/JSON API on port {}", config_.http_port);
  return Status::Ok();
}

bool Server::IsHttpListener(uv_stream_t* listener) const {
  return std::find(http_listeners_.begin(), http_listeners_.end(), listener) !=
         http_listeners_.end();
}

void Server::ProcessHttpInput(Connection* c) {
  Session& s = c->session;
  MonoTime now = clock_.Now();
  http::HttpExchange& http = *c->http;
  // A wait that ended during this iteration: its response comes first.
  http.FinishPending(now);
  auto execute = [this, c, now](const std::vector<std::string_view>& argv) {
    executing_ = c;
    commands_->Execute(c->session, argv, now);
    executing_ = nullptr;
  };
  while (MayTakeNextCommand(c, now)) {
    std::string_view pending = c->input.Pending();
    if (pending.empty()) break;
    size_t consumed = 0;
    bool more = http.Step(pending, now, execute, &consumed);
    c->input.Consume(consumed);
    if (!more) break;
  }
  // After a refused request nothing more of the connection is read.
  if (s.close_after_reply) c->input.Clear();
  AfterInput(c, now);
}

Status Server::ListenTcp(const std::string& address, bool optional, int port) {
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof(ss));
  bool v6 = address.find(':') != std::string::npos;
  int r = v6 ? uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&ss))
             : uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&ss));
  if (r != 0) {
    return Status::Error(fmt::format("Invalid bind address '{}': {}", address, uv_strerror(r)));
  }
  auto* tcp = static_cast<uv_tcp_t*>(std::malloc(sizeof(uv_tcp_t)));
  uv_tcp_init(&loop_, tcp);
  tcp->data = this;
  r = uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&ss), v6 ? UV_TCP_IPV6ONLY : 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 511, OnConnection);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp), [](uv_handle_t* h) { std::free(h); });
    // As in Redis, a '-' address may be skipped when this host lacks it, but
    // a port in use is always fatal.
    bool unavailable = r == UV_EADDRNOTAVAIL || r == UV_EAFNOSUPPORT || r == UV_EPROTONOSUPPORT ||
                       r == UV_ENOPROTOOPT;
    if (optional && unavailable) {
      Log(LogLevel::kVerbose, "Skipping optional bind address {}: {}", address, uv_strerror(r));
      return Status::Ok();
    }
    // strerror, not uv_strerror: Redis's text ("Address already in use").
    return Status::Error(fmt::format("Warning: Could not create server TCP listening socket {}:{}: "
                                     "bind: {}",
                                     v6 ? "[" + address + "]" : address, port,
                                     std::strerror(-r)));
  }
  listeners_.push_back(reinterpret_cast<uv_stream_t*>(tcp));
  return Status::Ok();
}

Status Server::ListenUnix() {
  auto* pipe = static_cast<uv_pipe_t*>(std::malloc(sizeof(uv_pipe_t)));
  uv_pipe_init(&loop_, pipe, 0);
  pipe->data = this;
  unlink(config_.unixsocket.c_str());  // a stale socket from an earlier run, as Redis does
  int r = uv_pipe_bind(pipe, config_.unixsocket.c_str());
  if (r == 0 && config_.unixsocketperm != 0) {
    chmod(config_.unixsocket.c_str(), static_cast<mode_t>(config_.unixsocketperm));
  }
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(pipe), 511, OnConnection);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(pipe), [](uv_handle_t* h) { std::free(h); });
    return Status::Error(fmt::format("Failed opening Unix socket {}: {}", config_.unixsocket,
                                     uv_strerror(r)));
  }
  unix_path_ = config_.unixsocket;
  listeners_.push_back(reinterpret_cast<uv_stream_t*>(pipe));
  return Status::Ok();
}

// ---- Accepting ----

void Server::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status < 0) {
    Log(LogLevel::kWarning, "Accepting client connection: {}", uv_strerror(status));
    return;
  }
  // libuv accepts every queued connection in one go; thousands arriving at
  // once would hold the loop for all of them. Past the budget, the queued
  // connection is left with libuv, which stops watching the listener until
  // the next iteration takes it (ResumeAccepts).
  if (self->accepts_this_iteration_ >= kMaxAcceptsPerIteration) {
    if (std::find(self->deferred_accepts_.begin(), self->deferred_accepts_.end(), listener) ==
        self->deferred_accepts_.end()) {
      self->deferred_accepts_.push_back(listener);
    }
    return;
  }
  ++self->accepts_this_iteration_;
  self->Accept(listener);
}

void Server::ResumeAccepts() {
  std::vector<uv_stream_t*> listeners;
  listeners.swap(deferred_accepts_);
  // uv_accept takes the connection libuv held back and watches the
  // listener again.
  for (uv_stream_t* l : listeners) {
    ++accepts_this_iteration_;
    Accept(l);
  }
}

void Server::Accept(uv_stream_t* listener) {
  bool is_unix = listener->type == UV_NAMED_PIPE;
  auto* c = new Connection(this, next_client_id_++);
  if (is_unix) {
    uv_pipe_init(&loop_, &c->handle.pipe, 0);
  } else {
    uv_tcp_init(&loop_, &c->handle.tcp);
  }
  c->handle.tcp.data = c;
  if (uv_accept(listener, c->stream()) != 0) {
    c->closing = true;
    uv_close(c->as_handle(), OnClosed);
    return;
  }
  ++counters_.total_connections_received;
  MonoTime now = clock_.Now();
  Session& s = c->session;
  s.created = s.last_interaction = now;
  s.authenticated = commands_->DefaultUserOpen();
  s.unix_socket = is_unix;
  uv_os_fd_t fd;
  if (uv_fileno(c->as_handle(), &fd) == 0) s.fd = fd;
  if (is_unix) {
    s.addr = unix_path_ + ":0";
    s.laddr = unix_path_ + ":0";
  } else {
    sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->handle.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      s.addr = FormatAddress(ss);
    }
    len = sizeof(ss);
    if (uv_tcp_getsockname(&c->handle.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      s.laddr = FormatAddress(ss);
    }
    uv_tcp_nodelay(&c->handle.tcp, 1);
    if (config_.tcp_keepalive > 0) {
      uv_tcp_keepalive(&c->handle.tcp, 1, static_cast<unsigned>(config_.tcp_keepalive));
    }
  }

  bool is_http = !is_unix && IsHttpListener(listener);
  if (clients_.size() >= static_cast<size_t>(config_.maxclients)) {
    // Redis answers before closing, so the client sees why.
    ++counters_.rejected_connections;
    std::string msg = fmt::format("-{}\r\n", errors::kMaxClients);
    if (is_http) {
      OutputBuffer response;
      http::RenderError(&response, 503, errors::kMaxClients, false);
      msg.clear();
      response.ForEachRun(4, [&](const char* data, size_t len) { msg.append(data, len); });
    }
    uv_buf_t buf = uv_buf_init(msg.data(), static_cast<unsigned>(msg.size()));
    // A TLS client could not read plain text before its handshake.
    if (!IsTlsListener(listener)) uv_try_write(c->stream(), &buf, 1);
    c->closing = true;
    uv_close(c->as_handle(), OnClosed);
    return;
  }
  if (is_http) {
    // The session speaks RESP3 to a buffer of the exchange, which turns
    // each reply into an HTTP response in session.out.
    c->http = std::make_unique<http::HttpExchange>(commands_.get(), &s);
    s.reply.set_out(c->http->replies());
    s.reply.set_protocol(3);
  }
  clients_.emplace(s.id, c);
  Log(LogLevel::kVerbose, "Accepted {}", s.addr);
  if (IsTlsListener(listener) && !StartTls(c)) return;
  uv_read_start(c->stream(), OnAlloc, OnRead);
  c->reading = true;
}

// ---- Reading and running commands ----

void Server::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  Connection* c = ConnectionOf(handle);
  Server* self = c->server;
  if (c->read_turn != self->iteration_ && self->ReadMustWait()) {
    // No buffer: libuv does not read, and OnRead hears UV_ENOBUFS.
    c->read_refused = true;
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  if (c->tls) {
    // Ciphertext lands in one shared buffer: OnTlsRead decrypts it into
    // c->input before the next read can happen.
    *buf = uv_buf_init(self->tls_read_buffer_.get(), static_cast<unsigned>(kTlsReadBytes));
    return;
  }
  size_t available = 0;
  // Null when no memory could be had: libuv then reports UV_ENOBUFS to
  // OnRead, which closes this client.
  char* p = c->input.PrepareRead(&available);
  // One read holds at most a read share of commands (see ChargeRead); a
  // large argument's reserved room is filled as fast as the socket gives.
  size_t limit = c->input.filling() ? size_t{1} << 30 : kReadBudgetPerIteration;
  *buf = uv_buf_init(p, static_cast<unsigned>(std::min(available, limit)));
}

void Server::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Connection* c = ConnectionOf(reinterpret_cast<uv_handle_t*>(stream));
  Server* self = c->server;
  if (nread > 0 && c->tls) {
    self->OnTlsRead(c, buf->base, static_cast<size_t>(nread));
  } else if (nread > 0) {
    bool filling = c->input.filling();
    c->input.Commit(static_cast<size_t>(nread));
    self->counters_.total_net_input_bytes += static_cast<uint64_t>(nread);
    self->ProcessInput(c);
    // Whatever stopped the commands from running (a partial command, a
    // blocked LOCK.ACQUIRE ... WAIT, a pending close), what is left unparsed
    // may not pass the limit: only reading adds to it, so checking here
    // bounds it at all times.
    if (!c->closing) self->CheckQueryBufferLimit(c);
    if (!c->closing && !filling) self->ChargeRead(c, static_cast<size_t>(nread));
  } else if (nread == UV_ENOBUFS && c->read_refused) {
    c->read_refused = false;
    self->WaitForReadTurn(c);
  } else if (nread < 0) {
    if (nread == UV_ENOBUFS) {
      Log(LogLevel::kWarning, "Closing client id={} addr={}: no memory for its input ({} bytes)",
          c->session.id, c->session.addr, c->input.size());
    } else if (nread != UV_EOF) {
      Log(LogLevel::kVerbose, "Reading from client: {}", uv_strerror(static_cast<int>(nread)));
    } else {
      Log(LogLevel::kVerbose, "Client closed connection id={} addr={}", c->session.id,
          c->session.addr);
    }
    self->Close(c);
  }
}

void Server::PauseForOutput(Connection* c) {
  // Stop reading until the client reads its replies (see AfterOutputDrained).
  if (c->paused_for_output) return;
  c->paused_for_output = true;
  ++counters_.paused_reading_clients;
  if (c->reading) {
    uv_read_stop(c->stream());
    c->reading = false;
  }
}

void Server::ProcessInput(Connection* c) {
  if (c->http) {
    ProcessHttpInput(c);
    return;
  }
  Session& s = c->session;
  MonoTime now = clock_.Now();
  ParserLimits limits;
  limits.max_bulk_len = config_.proto_max_bulk_len;
  while (MayTakeNextCommand(c, now)) {
    std::string_view pending = c->input.Pending();
    if (pending.empty()) break;
    limits.authenticated = !commands_->AuthRequired(s);
    ParseStatus status = c->parser.Parse(pending, limits, &c->args);
    if (status == ParseStatus::kNeedMore) {
      // A large argument is read straight into room for all of it, made
      // once, instead of into a buffer that doubles and copies as it fills.
      if (size_t needed = c->parser.big_bulk_end(); needed > pending.size()) {
        c->input.Reserve(needed);  // on failure, reads grow the buffer as usual
      }
      break;
    }
    if (status == ParseStatus::kError) {
      Log(LogLevel::kVerbose, "Protocol error ({}) from client: id={} addr={}", c->parser.error(),
          s.id, s.addr);
      commands_->NoteErrorReply();
      s.reply.Error(c->parser.error());
      s.close_after_reply = true;
      c->input.Clear();
      c->parser.Reset();
      break;
    }
    if (!c->args.empty()) {
      executing_ = c;
      commands_->Execute(s, c->args, now);
      executing_ = nullptr;
    }
    c->input.Consume(c->parser.consumed());
    // A command with a huge argument count must not pin its argv array.
    if (c->args.capacity() > 4096) std::vector<std::string_view>().swap(c->args);
  }
  AfterInput(c, now);
}

bool Server::MayTakeNextCommand(Connection* c, MonoTime slice_start) {
  const Session& s = c->session;
  if (c->closing || s.blocked() || s.close_after_reply || shutdown_requested_) return false;
  if (MustYield(slice_start)) {
    DeferInput(c);
    return false;
  }
  if (s.out.size() >= kOutputPauseBytes) {
    PauseForOutput(c);
    return false;
  }
  return true;
}

void Server::AfterInput(Connection* c, MonoTime now) {
  Session& s = c->session;
  s.query_buffer_bytes = c->input.size();
  s.query_buffer_capacity = c->input.capacity();
  if (c->closing) return;
  if (OverOutputLimits(c, now)) return;
  if (!s.out.empty() || s.close_after_reply) ScheduleFlush(c);
}

void Server::StartBudget() {
  if (budget_iteration_ == iteration_) return;
  budget_iteration_ = iteration_;
  budget_start_ = clock_.Now();
  commands_since_clock_check_ = 0;
  budget_used_ = false;
}

bool Server::ReadMustWait() {
  StartBudget();
  if (budget_used_) return true;
  if (++commands_since_clock_check_ < kCommandsPerClockCheck) return false;
  commands_since_clock_check_ = 0;
  budget_used_ = clock_.Now().us - budget_start_.us >= kCommandBudgetMicros;
  return budget_used_;
}

void Server::WaitForReadTurn(Connection* c) {
  if (c->reading) {
    uv_read_stop(c->stream());
    c->reading = false;
  }
  if (c->awaiting_read_turn) return;
  c->awaiting_read_turn = true;
  read_turns_.push_back(c);
}

void Server::GrantReadTurns() {
  for (int n = 0; n < kReadTurnsPerIteration && !read_turns_.empty(); ++n) {
    Connection* c = read_turns_.front();
    read_turns_.pop_front();
    c->awaiting_read_turn = false;
    if (c->closing) continue;
    c->read_turn = iteration_;
    // Something else may have started or paused its reading meanwhile.
    if (c->reading || c->paused_for_output || c->in_deferred_input) continue;
    uv_read_start(c->stream(), OnAlloc, OnRead);
    c->reading = true;
  }
}

bool Server::MustYield(MonoTime slice_start) {
  StartBudget();
  if (budget_used_) return true;
  if (++commands_since_clock_check_ < kCommandsPerClockCheck) return false;
  commands_since_clock_check_ = 0;
  MonoTime now = clock_.Now();
  budget_used_ = now.us - budget_start_.us >= kCommandBudgetMicros;
  return budget_used_ || now.us - slice_start.us >= kCommandSliceMicros;
}

void Server::DeferInput(Connection* c) {
  if (c->in_deferred_input || c->closing) return;
  // Only what is already buffered waits; nothing is parsed twice, since a
  // command is consumed once it ran.
  c->in_deferred_input = true;
  deferred_input_.push_back(c);
  // Nor is more read meanwhile: TCP pushes back on the client instead of
  // its input growing here.
  if (c->reading) {
    uv_read_stop(c->stream());
    c->reading = false;
  }
  if (!c->read_throttled) {
    c->read_throttled = true;
    throttled_.push_back(c);
  }
}

void Server::RunDeferredInput() {
  // Fresh clients first: one that yields again goes to the back, and the
  // rest keep their places for the next turn once the budget is used.
  for (size_t n = deferred_input_.size(); n > 0 && !deferred_input_.empty(); --n) {
    if (budget_iteration_ == iteration_ && budget_used_) return;
    Connection* c = deferred_input_.front();
    deferred_input_.pop_front();
    c->in_deferred_input = false;
    if (!c->closing) ProcessInput(c);
  }
}

void Server::ChargeRead(Connection* c, size_t n) {
  if (c->read_iteration != iteration_) {
    c->read_iteration = iteration_;
    c->read_bytes = 0;
  }
  c->read_bytes += n;
  if (c->read_bytes < kReadBudgetPerIteration || !c->reading) return;
  // Its share of this iteration is used: the rest waits in the socket (TCP
  // pushes back on the client) until BeforeSleep starts reading again.
  uv_read_stop(c->stream());
  c->reading = false;
  c->read_throttled = true;
  throttled_.push_back(c);
}

void Server::ResumeThrottledReads() {
  size_t kept = 0;
  for (Connection* c : throttled_) {
    // A client whose buffered commands wait for the next iteration reads
    // again once they ran.
    if (c->in_deferred_input && !c->closing) {
      throttled_[kept++] = c;
      continue;
    }
    c->read_throttled = false;
    if (c->closing || c->paused_for_output || c->reading) continue;
    uv_read_start(c->stream(), OnAlloc, OnRead);
    c->reading = true;
  }
  throttled_.resize(kept);
}

void Server::CheckQueryBufferLimit(Connection* c) {
  std::string_view pending = c->input.Pending();
  if (pending.size() <= static_cast<size_t>(config_.client_query_buffer_limit)) return;
  Log(LogLevel::kWarning,
      "Closing client that reached max query buffer length: id={} addr={} (qbuf initial bytes: "
      "{})",
      c->session.id, c->session.addr, QuoteArg(pending.substr(0, 64)));
  Close(c);
}

bool Server::OverOutputLimits(Connection* c, MonoTime now) {
  // Subscribers and MONITOR clients get output they did not ask for, so
  // pausing their reads bounds nothing: the pubsub class bounds them (for
  // monitors this is lockd's choice; Redis counts them as normal clients,
  // unbounded by default).
  // A replica that stops reading its stream is cut off by the replica
  // class, as in Redis; it resyncs when it comes back.
  const OutputLimit& limit = c->session.replica            ? config_.output_limit_replica
                             : c->session.receives_pushes() ? config_.output_limit_pubsub
                                                            : config_.output_limit_normal;
  size_t pending = c->session.out.size();
  bool hard = limit.hard_bytes > 0 && pending >= static_cast<size_t>(limit.hard_bytes);
  bool soft = false;
  if (limit.soft_bytes > 0 && pending >= static_cast<size_t>(limit.soft_bytes)) {
    if (c->soft_limit_since.us == 0) c->soft_limit_since = now;
    soft = SoftLimitTimeReached(now.us - c->soft_limit_since.us, limit.soft_seconds);
  } else {
    c->soft_limit_since = MonoTime{0};
  }
  if (!hard && !soft) return false;
  Log(LogLevel::kWarning,
      "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
      c->session.id, c->session.addr);
  Close(c);
  return true;
}

void Server::ScheduleFlush(Connection* c) {
  if (c->in_flush_list || c->closing) return;
  c->in_flush_list = true;
  flush_list_.push_back(c);
}

void Server::ScheduleReady(Connection* c) {
  if (c->in_ready_list || c->closing) return;
  c->in_ready_list = true;
  ready_list_.push_back(c);
}

// ---- Writing ----

void Server::Flush(Connection* c) {
  if (c->closing) return;
  // A subscriber or monitor that does not read is closed at its output
  // limit before the loop sleeps, even while a write to it is pending.
  if ((c->session.receives_pushes() || c->session.replica) && OverOutputLimits(c, clock_.Now())) {
    return;
  }
  if (c->write_in_flight) return;
  if (c->tls) {
    FlushTls(c);
    return;
  }
  OutputBuffer& out = c->session.out;
  if (out.empty()) {
    AfterOutputDrained(c);
    return;
  }
  // Only what no hold covers may leave.
  if (!c->holds.empty()) {
    DropEndedHolds(c, commands_->durability().durable_lsn(),
                   commands_->replication().acked_offset());
  }
  size_t sendable = out.size();
  if (!c->holds.empty()) {
    uint64_t from = c->holds.front().from;
    sendable = from <= out.consumed_total() ? 0 : std::min<uint64_t>(from - out.consumed_total(), sendable);
  }
  if (sendable == 0) return;
  constexpr size_t kMaxRuns = 64;
  uv_buf_t bufs[kMaxRuns];
  // Gathers up to `sendable` bytes from the head of the output.
  auto gather = [&](size_t* total) {
    unsigned n = 0;
    size_t left = sendable;
    out.ForEachRun(kMaxRuns, [&](const char* data, size_t len) {
      if (left == 0) return;
      len = std::min(len, left);
      left -= len;
      bufs[n++] = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    });
    *total = sendable - left;
    return n;
  };
  size_t total = 0;
  unsigned n = gather(&total);
  int written = uv_try_write(c->stream(), bufs, n);
  if (written < 0 && written != UV_EAGAIN) {
    Log(LogLevel::kVerbose, "Error writing to client: {}", uv_strerror(written));
    Close(c);
    return;
  }
  if (written > 0) {
    out.Consume(static_cast<size_t>(written));
    sendable -= static_cast<size_t>(written);
    counters_.total_net_output_bytes += static_cast<uint64_t>(written);
    // As in Redis, a reply is interaction: a client that just got the token
    // it waited for is not idle.
    c->session.last_interaction = clock_.Now();
  }
  if (out.empty()) {
    AfterOutputDrained(c);
    return;
  }
  if (sendable == 0) return;  // the rest waits for its sync
  // The socket is full: hand the rest to libuv, which writes it when the
  // socket is writable. The bytes stay in `out` until OnWrite.
  n = gather(&total);
  int r = uv_write(&c->write_req, c->stream(), bufs, n, OnWrite);
  if (r != 0) {
    Close(c);
    return;
  }
  c->write_in_flight = true;
  c->write_bytes = total;
}

void Server::FlushOrDefer(Connection* c) {
  if (flushes_this_iteration_ < kMaxFlushesPerIteration) {
    ++flushes_this_iteration_;
    Flush(c);
  } else if (!c->in_deferred_flushes && !c->closing) {
    c->in_deferred_flushes = true;
    deferred_flushes_.push_back(c);
  }
}

void Server::FlushDeferred() {
  int budget = kMaxFlushesPerIteration / 2;
  while (budget-- > 0 && !deferred_flushes_.empty()) {
    Connection* c = deferred_flushes_.front();
    deferred_flushes_.pop_front();
    c->in_deferred_flushes = false;
    // Output added since (not yet committed) leaves after the commit; the
    // client is in the flush list for it.
    if (c->session.awaits_commit) continue;
    ++flushes_this_iteration_;
    Flush(c);
  }
}

void Server::HoldForSync(Connection* c) {
  const aof::Durability& log = commands_->durability();
  const repl::ReplicationSource& repl = commands_->replication();
  uint64_t lsn = log.reply_lsn();
  // A replica's stream must not wait for that replica's own acks; replies
  // to anyone else never leave before the replicas that count have what
  // they may reveal (lock-replica-ack).
  uint64_t ack_offset = c->session.replica ? 0 : repl.reply_ack_offset();
  bool wait_sync = lsn > log.durable_lsn();
  bool wait_acks = ack_offset > 0 && ack_offset > repl.acked_offset();
  if (!wait_sync && !wait_acks) return;
  if (!c->holds.empty() && c->holds.back().lsn >= lsn &&
      c->holds.back().ack_offset >= ack_offset) {
    return;  // already held as long
  }
  // Everything not yet handed to the socket waits, so that the client's
  // replies leave in order.
  uint64_t from = c->session.out.consumed_total() + (c->write_in_flight ? c->write_bytes : 0);
  c->holds.push_back(Connection::Hold{from, lsn, ack_offset});
  if (!c->in_held_list) {
    c->in_held_list = true;
    held_.push_back(c);
  }
}

void Server::DropEndedHolds(Connection* c, uint64_t durable, uint64_t acked) {
  // A connection that became a replica after its hold was taken (a
  // handshake's replies) must not wait for its own acks either.
  if (c->session.replica) acked = UINT64_MAX;
  while (!c->holds.empty() && c->holds.front().lsn <= durable &&
         c->holds.front().ack_offset <= acked) {
    c->holds.pop_front();
  }
}

void Server::ReleaseHolds() {
  if (held_.empty()) return;
  uint64_t durable = commands_->durability().durable_lsn();
  uint64_t acked = commands_->replication().acked_offset();
  size_t kept = 0;
  for (size_t i = 0; i < held_.size(); ++i) {
    Connection* c = held_[i];
    DropEndedHolds(c, durable, acked);
    if (c->holds.empty()) {
      c->in_held_list = false;
      // Output of this iteration not yet committed leaves after the commit.
      if (c->session.awaits_commit) {
        ScheduleFlush(c);
      } else {
        FlushOrDefer(c);
      }
    } else {
      held_[kept++] = c;
    }
  }
  held_.resize(kept);
}

void Server::OnSyncDone(uv_async_t*) {
  // Nothing to do here: BeforeSleep, which runs next, releases the holds.
}

void Server::OnWrite(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  Server* self = c->server;
  c->write_in_flight = false;
  if (c->tls) c->tls->WriteDone();
  if (c->closing) return;
  if (status < 0) {
    Log(LogLevel::kVerbose, "Error writing to client: {}", uv_strerror(status));
    self->Close(c);
    return;
  }
  c->session.out.Consume(c->write_bytes);
  self->counters_.total_net_output_bytes += c->write_bytes;
  c->session.last_interaction = self->clock_.Now();
  c->write_bytes = 0;
  // The rest of the output may hold replies of this very iteration, whose
  // log records are not on disk yet: it leaves in BeforeSleep, after them.
  self->ScheduleFlush(c);
}

void Server::AfterOutputDrained(Connection* c) {
  Session& s = c->session;
  if (s.out.empty() && s.close_after_reply) {
    Close(c);
    return;
  }
  if (c->paused_for_output && s.out.size() < kOutputPauseBytes / 2) {
    c->paused_for_output = false;
    --counters_.paused_reading_clients;
    if (!c->reading) {
      uv_read_start(c->stream(), OnAlloc, OnRead);
      c->reading = true;
    }
    ScheduleReady(c);  // run the commands that were already buffered
  }
}

// ---- Closing ----

void Server::Close(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  commands_->SessionClosed(c->session);
  clients_.erase(c->session.id);
  // The work lists still name it: every user of them skips closing
  // connections, and RemoveClosed takes them out (and frees them) in one
  // pass per iteration. Taking each out here would cost a scan of each
  // list per connection: thousands of clients that close at once would
  // hold the loop for a quadratic number of steps.
  if (c->paused_for_output) --counters_.paused_reading_clients;
  if (closes_this_iteration_ < kMaxClosesPerIteration || shut_down_) {
    ++closes_this_iteration_;
    uv_close(c->as_handle(), OnClosed);
    return;
  }
  // Nothing more is read from it meanwhile; a write in flight may finish
  // (OnWrite ignores a closing connection) or is cancelled by the close.
  if (c->reading) {
    uv_read_stop(c->stream());
    c->reading = false;
  }
  deferred_closes_.push_back(c);
}

void Server::CloseDeferredSockets() {
  while (!deferred_closes_.empty() &&
         (closes_this_iteration_ < kMaxClosesPerIteration || shut_down_)) {
    Connection* c = deferred_closes_.front();
    deferred_closes_.pop_front();
    ++closes_this_iteration_;
    uv_close(c->as_handle(), OnClosed);
  }
}

void Server::OnClosed(uv_handle_t* handle) {
  Connection* c = ConnectionOf(handle);
  c->server->closed_.push_back(c);
}

void Server::RemoveClosed() {
  if (closed_.empty()) return;
  auto closing = [](Connection* c) { return c->closing; };
  std::erase_if(flush_list_, closing);
  std::erase_if(ready_list_, closing);
  std::erase_if(throttled_, closing);
  std::erase_if(held_, closing);
  std::erase_if(deferred_flushes_, closing);
  std::erase_if(deferred_input_, closing);
  std::erase_if(read_turns_, closing);
  for (Connection* c : closed_) delete c;
  closed_.clear();
}

// ---- Before sleep, timers, signals ----

void Server::OnBeforeSleep(uv_prepare_t* prepare) {
  static_cast<Server*>(prepare->data)->BeforeSleep();
}

void Server::BeforeSleep() {
  // Connections whose close finished in the last iteration leave the work
  // lists, all at once.
  RemoveClosed();
  // Clients unblocked during this iteration (a grant, a timeout, CLIENT
  // UNBLOCK) or resumed after their output drained run their pipelined
  // commands now; that may unblock others, so repeat until none is left.
  // The lists swap with scratch vectors that keep their capacity, so a busy
  // loop iteration allocates nothing here.
  while (!ready_list_.empty()) {
    scratch_.swap(ready_list_);
    for (Connection* c : scratch_) {
      c->in_ready_list = false;
      if (!c->closing) ProcessInput(c);
    }
    scratch_.clear();
  }
  // Replies left over from earlier iterations, then those whose log sync
  // has finished.
  flushes_this_iteration_ = 0;
  FlushDeferred();
  ReleaseHolds();
  // Replies that reveal no lock state (PING, ECHO, TIME, and anything left
  // from iterations already committed) leave first: they must not wait for
  // other clients' fdatasync.
  scratch_.swap(flush_list_);
  for (Connection* c : scratch_) {
    if (c->session.awaits_commit) {
      flush_list_.push_back(c);
    } else {
      c->in_flush_list = false;
      FlushOrDefer(c);
    }
  }
  scratch_.clear();
  // Group commit: the log records of this whole iteration are written
  // before any other reply leaves; replies that need them synced (all of
  // them under appendfsync always) are held until the sync thread says so,
  // while the loop goes on serving.
  const MonoTime commit_start = clock_.Now();
  if (!shut_down_ && !commands_->durability().Commit(commit_start)) {
    Shutdown(false);
    return;
  }
  // LATENCY's "aof-write": the iteration's log write (its fdatasync runs on
  // the sync thread, off the loop).
  if (commands_->latency_monitor_on()) {
    commands_->NoteLatency("aof-write", clock_.Now().us - commit_start.us);
  }
  scratch_.swap(flush_list_);
  for (Connection* c : scratch_) {
    c->in_flush_list = false;
    // Everything in its output is now covered by the commit.
    c->session.awaits_commit = false;
    HoldForSync(c);
    FlushOrDefer(c);
  }
  scratch_.clear();
  // The commit may have made the log durable at once (a rewrite's switch).
  ReleaseHolds();
  if (shutdown_requested_ && !shut_down_) {
    Shutdown();
    return;
  }
  // A flush that drained a paused client made it ready again: its buffered
  // commands run in the next iteration, which must not wait for input.
  // Connections held back by the accept budget are taken next iteration;
  // clients that used their read share read again.
  accepts_this_iteration_ = 0;
  closes_this_iteration_ = 0;
  ++iteration_;
  ResumeThrottledReads();
  GrantReadTurns();
  // Sockets waiting to be closed go first on the new budget.
  CloseDeferredSockets();
  if (!ready_list_.empty() || !deferred_accepts_.empty() || !deferred_flushes_.empty() ||
      !deferred_input_.empty() || !deferred_closes_.empty() || !read_turns_.empty()) {
    // The next iteration starts with the deferred work, on a fresh budget,
    // before it polls for more input.
    uv_idle_start(&rerun_, [](uv_idle_t* idle) {
      uv_idle_stop(idle);
      auto* self = static_cast<Server*>(idle->data);
      self->ResumeAccepts();
      self->RunDeferredInput();
    });
  }
  ArmWheelTimer();
  UpdateCron();
}

void Server::OnWheelTimer(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  self->wheel_armed_for_us_ = -1;
  const MonoTime start = self->clock_.Now();
  self->commands_->engine().Advance(start);
  // LATENCY's "expire-cycle": the loop's time spent freeing leases and
  // ending waits, read only while the latency monitor is on.
  if (self->commands_->latency_monitor_on()) {
    self->commands_->NoteLatency("expire-cycle", self->clock_.Now().us - start.us);
  }
}

void Server::ArmWheelTimer() {
  // Nothing expires while the log loads.
  if (shut_down_ || commands_->durability().loading()) return;
  std::optional<MonoTime> next = commands_->engine().NextWakeup();
  if (!next) {
    if (wheel_armed_for_us_ != -1) {
      uv_timer_stop(&wheel_timer_);
      wheel_armed_for_us_ = -1;
    }
    return;
  }
  if (wheel_armed_for_us_ == next->us) return;
  // libuv counts timeouts from its cached loop time; refresh it so the timer
  // is not armed against a stale "now".
  uv_update_time(&loop_);
  int64_t now_us = clock_.Now().us;
  uint64_t delay_ms = next->us <= now_us ? 0 : static_cast<uint64_t>((next->us - now_us + 999) / 1000);
  uv_timer_start(&wheel_timer_, OnWheelTimer, delay_ms, 0);
  wheel_armed_for_us_ = next->us;
}

void Server::UpdateCron() {
  // With the log on, the cron also wakes an idle loop so that everysec
  // syncs and retries of failed writes happen without traffic.
  bool needed = !shut_down_ && (config_.timeout > 0 || config_.output_limit_normal.soft_bytes > 0 ||
                                config_.output_limit_pubsub.soft_bytes > 0 || config_.appendonly ||
                                config_.http_port != 0 || !tls_listeners_.empty());
  if (needed == cron_active_) return;
  if (needed) {
    uv_timer_start(&cron_, OnCron, 1000, 1000);
  } else {
    uv_timer_stop(&cron_);
  }
  cron_active_ = needed;
}

void Server::OnCron(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  MonoTime now = self->clock_.Now();
  std::vector<Connection*> idle;
  std::vector<Connection*> pending;
  for (auto& [id, c] : self->clients_) {
    // Blocked clients wait as long as they asked to, and subscribers and
    // monitors listen as long as they like, as in Redis.
    if (self->config_.timeout > 0 && !c->session.blocked() && !c->session.receives_pushes() && !c->session.replica &&
        IdleTimeoutReached(now.us - c->session.last_interaction.us, self->config_.timeout)) {
      idle.push_back(c);
    } else if (!c->session.out.empty()) {
      pending.push_back(c);
    }
  }
  // Checked after the walk: a close takes the client out of clients_.
  for (Connection* c : pending) self->OverOutputLimits(c, now);
  for (Connection* c : idle) {
    Log(LogLevel::kVerbose, "Closing idle client id={} addr={}", c->session.id, c->session.addr);
    self->Close(c);
  }
  self->CloseOverdueHandshakes(now);
  // HTTP clients whose request has been arriving for too long (slowloris).
  for (auto& [id, c] : self->clients_) {
    if (!c->http || c->closing || c->session.close_after_reply ||
        !c->http->RequestOverdue(now)) {
      continue;
    }
    Log(LogLevel::kVerbose, "Closing HTTP client id={} addr={}: request not complete in time",
        c->session.id, c->session.addr);
    c->http->TimeOut();
    c->input.Clear();
    self->ScheduleFlush(c);
  }
}

void Server::OnSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  Log(LogLevel::kWarning, "Received {} scheduling shutdown...", signum == SIGINT ? "SIGINT" : "SIGTERM");
  // The signal woke the loop; BeforeSleep of the next iteration shuts down.
  self->shutdown_requested_ = true;
}

void Server::OnChildSignal(uv_signal_t* handle, int) {
  auto* self = static_cast<Server*>(handle->data);
  // The rewrite child is reaped in the next BeforeSleep.
  self->commands_->durability().ChildExited();
}

void Server::Shutdown(bool clean) {
  shut_down_ = true;
  if (clean) {
    Log(LogLevel::kWarning, "User requested shutdown...");
    exit_code_ = commands_->durability().Shutdown(clock_.Now()) ? 0 : 1;
  } else {
    exit_code_ = 1;
  }
  CloseHandles();
  if (clean) Log(LogLevel::kWarning, "lockd is now ready to exit, bye bye...");
}

void Server::CloseHandles() {
  replica_link_->Close();
  deferred_accepts_.clear();  // their listeners close below, with what libuv held
  throttled_.clear();
  read_turns_.clear();
  for (uv_stream_t* l : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(l), [](uv_handle_t* h) { std::free(h); });
  }
  listeners_.clear();
  tls_listeners_.clear();
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
  std::vector<Connection*> all;
  for (auto& [id, c] : clients_) all.push_back(c);
  for (Connection* c : all) Close(c);
  CloseDeferredSockets();
  uv_prepare_stop(&before_sleep_);
  uv_close(reinterpret_cast<uv_handle_t*>(&before_sleep_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&wheel_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&cron_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigchld_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&load_idle_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&rerun_), nullptr);
  commands_->durability().set_sync_wake(nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sync_done_), nullptr);
}

// ---- ServerHooks ----

void Server::ForEachSession(const std::function<void(Session&)>& visit) {
  for (auto& [id, c] : clients_) visit(c->session);
}

Session* Server::FindSession(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second->session;
}

void Server::KillSession(Session& session) {
  auto it = clients_.find(session.id);
  if (it == clients_.end()) return;
  if (it->second == executing_) {
    // The caller's own connection: its reply to CLIENT KILL goes out first.
    session.close_after_reply = true;
    ScheduleFlush(it->second);
  } else {
    Close(it->second);
  }
}

void Server::SessionHasOutput(Session& session) {
  auto it = clients_.find(session.id);
  if (it == clients_.end()) return;
  // Not closed here even when over its limit: this runs while PUBLISH
  // walks the subscriber lists that closing would change. Flush checks.
  ScheduleFlush(it->second);
}

void Server::SessionUnblocked(Session& session) {
  auto it = clients_.find(session.id);
  if (it == clients_.end()) return;
  // The reply that ends the wait is interaction from now on, not only once
  // it is written: the idle check may run between the two (both are timers)
  // and must not close a client that just got its token.
  session.last_interaction = clock_.Now();
  ScheduleReady(it->second);
  ScheduleFlush(it->second);
}

void Server::RequestShutdown() { shutdown_requested_ = true; }

ServerStatus Server::Stats() {
  ServerStatus st = counters_;
  st.tcp_port = config_.port;
  st.executable = options_.executable;
  st.config_file = config_.config_file;
  st.connected_clients = clients_.size();
  return st;
}

void Server::ResetStats() {
  uint64_t paused = counters_.paused_reading_clients;
  counters_ = ServerStatus{};
  counters_.paused_reading_clients = paused;
}

int RunServer(const Config& config, const ServerOptions& options) {
  Server server(config, options);
  return server.Run();
}

}  // namespace lockd
