// ReplicaLink: see replica_link.h, and DESIGN.md for the stream.
#include "repl/replica_link.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "aof/log_reader.h"
#include "aof/record.h"
#include "cmd/commands.h"
#include "net/tls_stream.h"
#include "util/errors.h"
#include "util/log.h"
#include "util/strings.h"

namespace lockd::repl {

namespace {

// Handshake lines and record headers are short; a primary that sends a
// longer line is not a lockd primary.
constexpr size_t kMaxLine = 64 * 1024;
// Arguments of one record: LOCK.GRANT has the most, five.
constexpr int64_t kMaxArgs = 16;

// One RESP array of bulk strings at the start of `in`. Returns its length,
// 0 when incomplete, -1 when malformed or past the bounds.
int64_t ParseArray(std::string_view in, int64_t max_bulk, std::vector<std::string_view>* argv) {
  argv->clear();
  size_t pos = 0;
  auto line = [&](std::string_view* out) -> int {
    size_t end = in.find("\r\n", pos);
    if (end == std::string_view::npos) return in.size() - pos > kMaxLine ? -1 : 0;
    if (end - pos > kMaxLine) return -1;
    *out = in.substr(pos, end - pos);
    pos = end + 2;
    return 1;
  };
  std::string_view header;
  int r = line(&header);
  if (r <= 0) return r;
  int64_t n;
  if (header.size() < 2 || header[0] != '*' || !ParseInt64(header.substr(1), &n) || n < 1 ||
      n > kMaxArgs) {
    return -1;
  }
  for (int64_t i = 0; i < n; ++i) {
    r = line(&header);
    if (r <= 0) return r;
    int64_t len;
    if (header.size() < 2 || header[0] != '$' || !ParseInt64(header.substr(1), &len) || len < 0 ||
        len > max_bulk) {
      return -1;
    }
    if (in.size() - pos < static_cast<size_t>(len) + 2) return 0;
    if (in.substr(pos + len, 2) != "\r\n") return -1;
    argv->push_back(in.substr(pos, len));
    pos += len + 2;
  }
  return static_cast<int64_t>(pos);
}

}  // namespace

static std::string Multibulk(std::initializer_list<std::string_view> args) {
  std::string out = fmt::format("*{}\r\n", args.size());
  for (std::string_view a : args) fmt::format_to(std::back_inserter(out), "${}\r\n{}\r\n", a.size(), a);
  return out;
}

// One connection attempt. Freed in its close callback; `link` is null once
// the link gave it up, so late callbacks do nothing.
struct ReplicaLink::Conn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  ReplicaLink* link = nullptr;
  // With tls-replication: the TLS session, and the plaintext written before
  // its handshake finished (sent, encrypted, once it has).
  std::unique_ptr<TlsStream> tls;
  std::string early;
  char buf[64 * 1024];
};

ReplicaLink::ReplicaLink(uv_loop_t* loop, Commands* commands, const Config* config,
                         const Clock* clock)
    : loop_(loop),
      commands_(commands),
      config_(config),
      clock_(clock),
      applier_(&commands->engine()) {}

ReplicaLink::~ReplicaLink() = default;

void ReplicaLink::Start() {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  // 10 Hz: reconnects (once a second), acks (once a second), WAIT
  // timeouts and the primary's keep-alive PING. The timer does not keep the
  // loop alive on its own.
  uv_timer_start(&timer_, OnTimer, 100, 100);
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  timer_started_ = true;
  auto it = config_->compat.find("replicaof");
  if (it != config_->compat.end() && !it->second.empty()) {
    std::string_view v = it->second;
    size_t space = v.find(' ');
    int64_t port = 0;
    if (space != std::string_view::npos && ParseInt64(v.substr(space + 1), &port)) {
      Follow(std::string(v.substr(0, space)), static_cast<int>(port));
    }
  }
}

void ReplicaLink::Close() {
  if (conn_ != nullptr) Drop("shutting down");
  if (timer_started_) {
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    timer_started_ = false;
  }
}

// ---- Following and promotion ----

void ReplicaLink::Follow(const std::string& host, int port) {
  Engine& engine = commands_->engine();
  if (conn_ != nullptr) Drop("following another primary");
  if (!following_) {
    // This node stops deciding anything: waits end (as Redis unblocks its
    // blocked clients), and leases change only by the primary's records.
    std::vector<Session*> blocked;
    commands_->server().ForEachSession([&](Session& s) {
      if (s.waiter != nullptr) blocked.push_back(&s);
    });
    for (Session* s : blocked) commands_->Unblock(*s, /*with_error=*/true);
    engine.set_passive(true);
  }
  following_ = true;
  host_ = host;
  port_ = port;
  state_ = State::kConnect;
  down_since_ = clock_->Now();
  // Our replicas follow our history, which is about to change.
  commands_->replication().DisconnectReplicas();
  Log(LogLevel::kNotice, "Connecting to MASTER {}:{}", host_, port_);
  Connect();
}

void ReplicaLink::Unfollow() {
  if (!following_) return;
  if (conn_ != nullptr) Drop("promoted to primary");
  following_ = false;
  state_ = State::kConnect;
  Engine& engine = commands_->engine();
  MonoTime now = clock_->Now();
  // A failover is an unclean restart on another machine: tokens resume
  // above every token and reservation received, and no key goes to a new
  // holder before the latest horizon or deadline received has passed.
  uint64_t token_floor = std::max<uint64_t>(engine.last_token(), applier_.max_token());
  int64_t gate = std::max(applier_.max_horizon_ms(), applier_.max_deadline_ms());
  int64_t wall_now = clock_->WallNow().millis();
  engine.ForEachLease([&](const LeaseView& lease) {
    if (lease.deadline) {
      gate = std::max(gate, wall_now + (lease.deadline->us - now.us + 999) / 1000);
    }
  });
  engine.set_passive(false);
  commands_->replication().Promote();
  commands_->durability().Promote(token_floor, gate, now);
  Log(LogLevel::kNotice, "MASTER MODE enabled; tokens resume above {}", token_floor);
}

LinkStatus ReplicaLink::status() const {
  LinkStatus s;
  s.host = host_;
  s.port = port_;
  switch (state_) {
    case State::kConnect: s.state = "connect"; break;
    case State::kConnecting: s.state = "connecting"; break;
    case State::kHandshake: s.state = "handshake"; break;
    case State::kTransfer: s.state = "sync"; break;
    case State::kConnected: s.state = "connected"; break;
  }
  MonoTime now = clock_->Now();
  s.up = state_ == State::kConnected;
  s.last_io_seconds = conn_ != nullptr ? (now.us - last_io_.us) / 1'000'000 : -1;
  s.down_since_seconds = s.up ? -1 : (now.us - down_since_.us) / 1'000'000;
  s.sync_in_progress = state_ == State::kTransfer;
  s.sync_total_bytes = snapshot_len_;
  s.sync_read_bytes = state_ == State::kTransfer ? static_cast<int64_t>(in_.size()) : 0;
  s.offset = ever_synced_ ? static_cast<int64_t>(commands_->replication().offset()) : -1;
  return s;
}

// ---- The connection ----

void ReplicaLink::OnTimer(uv_timer_t* timer) { static_cast<ReplicaLink*>(timer->data)->Cron(); }

void ReplicaLink::Cron() {
  MonoTime now = clock_->Now();
  commands_->replication().Cron(now);
  if (!following_) return;
  if (conn_ == nullptr) {
    // Redis retries once a second.
    if (now.us - down_since_.us >= 1'000'000 && now.us - last_io_.us >= 1'000'000) {
      last_io_ = now;
      Connect();
    }
    return;
  }
  auto it = config_->compat.find("repl-timeout");
  int64_t timeout_s = 60;
  if (it != config_->compat.end()) ParseInt64(it->second, &timeout_s);
  if (now.us - last_io_.us > timeout_s * 1'000'000) {
    Drop("MASTER timeout: no data nor PING received...");
    return;
  }
  if (state_ == State::kConnected && now.us - last_ack_.us >= 1'000'000) SendAck();
}

void ReplicaLink::Connect() {
  sockaddr_storage ss;
  std::memset(&ss, 0, sizeof(ss));
  // Numeric addresses only (and localhost): a name lookup would block the
  // loop.
  std::string host = host_ == "localhost" ? "127.0.0.1" : host_;
  int r = uv_ip4_addr(host.c_str(), port_, reinterpret_cast<sockaddr_in*>(&ss));
  if (r != 0) r = uv_ip6_addr(host.c_str(), port_, reinterpret_cast<sockaddr_in6*>(&ss));
  if (r != 0) {
    Log(LogLevel::kWarning, "Unable to connect to MASTER: '{}' is not a numeric address", host_);
    down_since_ = clock_->Now();
    return;
  }
  Conn* c = new Conn();
  c->link = this;
  uv_tcp_init(loop_, &c->tcp);
  c->tcp.data = c;
  c->connect.data = c;
  conn_ = c;
  state_ = State::kConnecting;
  last_io_ = clock_->Now();
  r = uv_tcp_connect(&c->connect, &c->tcp, reinterpret_cast<sockaddr*>(&ss), OnConnect);
  if (r != 0) Drop(fmt::format("Error condition on socket for SYNC: {}", uv_strerror(r)));
}

void ReplicaLink::OnConnect(uv_connect_t* req, int status) {
  Conn* c = static_cast<Conn*>(req->data);
  ReplicaLink* self = c->link;
  if (self == nullptr || status == UV_ECANCELED) return;
  if (status != 0) {
    self->Drop(fmt::format("Error condition on socket for SYNC: {}", uv_strerror(status)));
    return;
  }
  Log(LogLevel::kNotice, "MASTER <-> REPLICA sync started");
  uv_tcp_nodelay(&c->tcp, 1);
  if (self->config_->tls_replication) {
    // Read at connect time, as Redis does: a CONFIG SET applies to the next
    // connection, never to one that is up.
    SSL_CTX* ctx = self->commands_->server().TlsClientContext();
    c->tls = ctx != nullptr ? TlsStream::CreateClient(ctx) : nullptr;
    if (!c->tls) {
      self->Drop("Error condition on socket for SYNC: TLS is not configured");
      return;
    }
    self->WriteRaw(std::move(c->tls->Output()));
    c->tls->Sent(std::string::npos);
    if (self->conn_ == nullptr) return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), OnAlloc, OnRead);
  self->state_ = State::kHandshake;
  self->in_.clear();
  self->expected_.clear();
  // Redis's handshake, sent at once: each reply is checked in order below.
  std::string out = Multibulk({"PING"});
  self->expected_.push_back("ping");
  // The port our own replicas (and Sentinel) reach us on, as Redis announces
  // it: the TLS one when replication runs over TLS.
  const Config& config = *self->config_;
  const int listening_port =
      config.tls_replication && config.tls_port != 0 ? config.tls_port : config.port;
  auto auth = self->config_->compat.find("masterauth");
  if (auth != self->config_->compat.end() && !auth->second.empty()) {
    out += Multibulk({"AUTH", auth->second});
    self->expected_.push_back("auth");
  }
  out += Multibulk({"REPLCONF", "listening-port", std::to_string(listening_port)});
  self->expected_.push_back("replconf");
  out += Multibulk({"REPLCONF", "capa", "eof", "capa", "psync2"});
  self->expected_.push_back("replconf");
  // PSYNC <replid> <offset+1> continues our history; "? -1" asks for all.
  ReplicationSource& source = self->commands_->replication();
  if (self->ever_synced_) {
    self->psync_replid_ = source.replid();
    self->psync_offset_ = source.offset() + 1;
    out += Multibulk({"PSYNC", source.replid(), std::to_string(source.offset() + 1)});
  } else {
    out += Multibulk({"PSYNC", "?", "-1"});
  }
  self->expected_.push_back("psync");
  self->Send(std::move(out));
}

void ReplicaLink::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  Conn* c = static_cast<Conn*>(handle->data);
  *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

void ReplicaLink::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  Conn* c = static_cast<Conn*>(stream->data);
  ReplicaLink* self = c->link;
  if (self == nullptr || nread == 0) return;
  if (nread < 0) {
    self->Drop(nread == UV_EOF ? "Connection with master lost." : uv_strerror(static_cast<int>(nread)));
    return;
  }
  self->last_io_ = self->clock_->Now();
  if (c->tls) {
    if (!self->ReceiveTls(buf->base, static_cast<size_t>(nread))) return;
  } else {
    self->in_.append(buf->base, static_cast<size_t>(nread));
  }
  self->Process();
}

bool ReplicaLink::ReceiveTls(const char* data, size_t n) {
  TlsStream& tls = *conn_->tls;
  const bool handshaking = !tls.handshake_done();
  TlsStream::Result result = tls.Receive(data, n, &in_);
  // Handshake messages, an alert, a key update: sent before anything else.
  if (tls.HasOutput()) {
    WriteRaw(std::move(tls.Output()));
    tls.Sent(std::string::npos);
    if (conn_ == nullptr) return false;
  }
  if (result == TlsStream::Result::kError) {
    // A primary whose certificate the CA did not sign lands here; the
    // link retries from the timer, as after any failed connection.
    Drop(fmt::format("Error condition on socket for SYNC: {}", tls.error()));
    return false;
  }
  if (handshaking && tls.handshake_done()) {
    Log(LogLevel::kVerbose, "TLS handshake with MASTER done ({})", tls.version());
    std::string early;
    early.swap(conn_->early);
    if (!early.empty()) Send(std::move(early));
    if (conn_ == nullptr) return false;
  }
  if (result == TlsStream::Result::kClosed) {
    Drop("Connection with master lost.");
    return false;
  }
  return true;
}

void ReplicaLink::Send(std::string bytes) {
  if (conn_ == nullptr) return;
  if (conn_->tls) {
    TlsStream& tls = *conn_->tls;
    if (!tls.handshake_done()) {
      conn_->early += bytes;
      return;
    }
    if (!tls.Encrypt(bytes.data(), bytes.size())) {
      Drop(fmt::format("Error writing to MASTER: {}", tls.error()));
      return;
    }
    bytes = std::move(tls.Output());
    tls.Sent(std::string::npos);
  }
  WriteRaw(std::move(bytes));
}

void ReplicaLink::WriteRaw(std::string bytes) {
  if (conn_ == nullptr || bytes.empty()) return;
  struct WriteReq {
    uv_write_t req;
    std::string data;
  };
  auto* w = new WriteReq{uv_write_t{}, std::move(bytes)};
  uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int r = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&conn_->tcp), &b, 1,
                   [](uv_write_t* req, int) { delete reinterpret_cast<WriteReq*>(req); });
  if (r != 0) {
    delete w;
    Drop(fmt::format("Error writing to MASTER: {}", uv_strerror(r)));
  }
}

void ReplicaLink::Drop(const std::string& why) {
  if (conn_ == nullptr) return;
  Log(LogLevel::kWarning, "{}", why);
  Conn* c = conn_;
  conn_ = nullptr;
  c->link = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
           [](uv_handle_t* h) { delete static_cast<Conn*>(h->data); });
  applier_.DropUnit();
  in_.clear();
  in_.shrink_to_fit();
  snapshot_len_ = -1;
  state_ = State::kConnect;
  down_since_ = clock_->Now();
}

// ---- What the primary sends ----

bool ReplicaLink::Process() {
  if (state_ == State::kHandshake && !ProcessHandshake()) return false;
  if (state_ == State::kTransfer && !ProcessSnapshot()) return false;
  if (state_ == State::kConnected && !ProcessStream()) return false;
  return true;
}

bool ReplicaLink::ProcessHandshake() {
  while (!expected_.empty()) {
    size_t end = in_.find("\r\n");
    if (end == std::string::npos) {
      if (in_.size() > kMaxLine) {
        Drop("Protocol error: the primary's handshake reply is too long");
        return false;
      }
      return true;
    }
    std::string line = in_.substr(0, end);
    in_.erase(0, end + 2);
    std::string what = expected_.front();
    expected_.erase(expected_.begin());
    if (what == "ping") {
      // Redis accepts an error that only says authentication is due.
      if (line != "+PONG" && line.rfind("-NOAUTH", 0) != 0) {
        Drop(fmt::format("Error reply to PING from master: '{}'", line));
        return false;
      }
    } else if (what == "auth") {
      if (line.empty() || line[0] == '-') {
        Drop(fmt::format("Unable to AUTH to MASTER: {}", line));
        return false;
      }
    } else if (what == "replconf") {
      if (!line.empty() && line[0] == '-') {
        Log(LogLevel::kNotice, "(Non critical) Master does not understand REPLCONF: {}", line);
      }
    } else {  // psync
      if (line.rfind("+FULLRESYNC ", 0) == 0) {
        std::string_view rest = std::string_view(line).substr(12);
        size_t space = rest.find(' ');
        int64_t offset;
        if (space != 40 || !ParseInt64(rest.substr(space + 1), &offset) || offset < 0) {
          Drop(fmt::format("Bad FULLRESYNC reply from master: '{}'", line));
          return false;
        }
        psync_replid_ = std::string(rest.substr(0, space));
        psync_offset_ = static_cast<uint64_t>(offset);
        Log(LogLevel::kNotice, "Full resync from master: {}:{}", psync_replid_, psync_offset_);
        state_ = State::kTransfer;
        snapshot_len_ = -1;
        return true;
      }
      if (line.rfind("+CONTINUE", 0) == 0) {
        std::string id = line.size() > 10 ? line.substr(10) : psync_replid_;
        if (id.size() != 40) {
          Drop(fmt::format("Bad CONTINUE reply from master: '{}'", line));
          return false;
        }
        commands_->replication().ContinueWith(id);
        Log(LogLevel::kNotice, "Successful partial resynchronization with master.");
        Log(LogLevel::kNotice, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        state_ = State::kConnected;
        last_ack_ = MonoTime{0};
        return true;
      }
      Drop(fmt::format("Unexpected reply to PSYNC from master: '{}'", line.substr(0, 128)));
      return false;
    }
  }
  return true;
}

bool ReplicaLink::ProcessSnapshot() {
  if (snapshot_len_ < 0) {
    size_t end = in_.find("\r\n");
    if (end == std::string::npos) {
      if (in_.size() > kMaxLine) {
        Drop("Protocol error: bad snapshot header from master");
        return false;
      }
      return true;
    }
    int64_t len;
    // Redis's keep-alive newlines before the payload are skipped.
    if (end == 0) {
      in_.erase(0, 2);
      return ProcessSnapshot();
    }
    if (in_[0] != '$' || !ParseInt64(std::string_view(in_).substr(1, end - 1), &len) || len < 0) {
      Drop(fmt::format("Bad protocol from MASTER, the first byte is not '$' (we received '{}')",
                       in_.substr(0, std::min<size_t>(end, 64))));
      return false;
    }
    snapshot_len_ = len;
    in_.erase(0, end + 2);
    Log(LogLevel::kNotice, "MASTER <-> REPLICA sync: receiving {} bytes from master to memory",
        snapshot_len_);
  }
  // The snapshot is kept in memory as it arrives: it costs what the
  // primary sends, never what its header announced.
  if (in_.size() < static_cast<size_t>(snapshot_len_)) return true;
  if (!LoadSnapshot(std::string_view(in_).substr(0, snapshot_len_))) return false;
  in_.erase(0, snapshot_len_);
  snapshot_len_ = -1;
  state_ = State::kConnected;
  last_ack_ = MonoTime{0};
  return true;
}

bool ReplicaLink::LoadSnapshot(std::string_view snapshot) {
  // Checked whole before anything changes: a snapshot that does not read
  // as records leaves the state as it was.
  std::vector<aof::Record> records;
  aof::LogReader reader(snapshot);
  aof::Record r;
  aof::LogReader::Result result;
  while ((result = reader.Next(&r)) == aof::LogReader::Result::kRecord) records.push_back(r);
  if (result != aof::LogReader::Result::kEnd) {
    Drop(fmt::format("MASTER <-> REPLICA sync: the snapshot is not valid at byte {}: {}",
                     reader.error_offset(), reader.error()));
    return false;
  }
  Log(LogLevel::kNotice, "MASTER <-> REPLICA sync: Flushing old data");
  Engine& engine = commands_->engine();
  std::vector<std::string> old_keys;
  engine.ForEachLease([&](const LeaseView& lease) { old_keys.emplace_back(lease.key); });
  // The log gets one unit: every old key freed, then the snapshot, so a
  // restart replays to the same state, or to the one before if the unit
  // is torn.
  std::string log;
  aof::AppendMulti(&log);
  for (const std::string& key : old_keys) {
    engine.Remove(key);
    aof::AppendFree(&log, key, FreeCause::kDelete);
  }
  Log(LogLevel::kNotice, "MASTER <-> REPLICA sync: Loading DB in memory");
  applier_.SetTime(clock_->Now(), clock_->WallNow());
  for (const aof::Record& rec : records) applier_.Take(rec);
  applier_.DropUnit();
  log.append(snapshot);
  aof::AppendExec(&log);
  commands_->durability().AppendReplicated(log);
  commands_->replication().AdoptPrimary(psync_replid_, psync_offset_);
  ever_synced_ = true;
  Log(LogLevel::kNotice, "MASTER <-> REPLICA sync: Finished with success ({} records)",
      records.size());
  return true;
}

bool ReplicaLink::ProcessStream() {
  std::string_view in = in_;
  size_t pos = 0;   // processed: everything before it, and no open unit
  size_t fed = 0;   // counted in this node's offset and backlog
  std::vector<std::string_view> argv;
  // The records processed, for this node's log; those of a unit whose EXEC
  // has not arrived are dropped and read again, whole, later.
  std::vector<std::string_view> logged;
  size_t logged_done = 0;
  aof::Record record;
  std::string error;
  applier_.SetTime(clock_->Now(), clock_->WallNow());
  ReplicationSource& source = commands_->replication();
  size_t scan = 0;
  std::string garbage;  // why the rest of the stream cannot be believed
  while (scan < in.size()) {
    int64_t n = ParseArray(in.substr(scan), config_->proto_max_bulk_len, &argv);
    if (n == 0) break;
    if (n < 0) {
      garbage = "Protocol error from MASTER: the stream is not RESP arrays";
      break;
    }
    if (EqualsIgnoreCase(argv[0], "PING")) {
      // Keep-alive: counted in the offset, not applied.
    } else if (EqualsIgnoreCase(argv[0], "REPLCONF")) {
      if (argv.size() >= 2 && EqualsIgnoreCase(argv[1], "GETACK") && !applier_.in_unit()) {
        // The ack names what was processed before this request, as Redis's.
        source.FeedFromPrimary(in.substr(fed, scan - fed));
        fed = scan;
        SendAck();
      }
    } else if (!aof::DecodeRecord(argv, &record, &error)) {
      garbage = fmt::format("Protocol error from MASTER: {}", error);
      break;
    } else {
      applier_.Take(record);
      logged.push_back(in.substr(scan, n));
    }
    scan += n;
    if (!applier_.in_unit()) {
      pos = scan;
      logged_done = logged.size();
    }
  }
  // A unit whose EXEC has not arrived is read again, whole, later.
  if (applier_.in_unit()) applier_.DropUnit();
  std::string log;
  for (size_t i = 0; i < logged_done; ++i) log.append(logged[i]);
  if (!log.empty()) commands_->durability().AppendReplicated(log);
  // What was applied is logged and counted even when garbage follows it.
  source.FeedFromPrimary(in.substr(fed, pos - fed));
  if (!garbage.empty()) {
    Drop(garbage);
    return false;
  }
  in_.erase(0, pos);
  return true;
}

void ReplicaLink::SendAck() {
  if (conn_ == nullptr) return;
  last_ack_ = clock_->Now();
  Send(Multibulk(
      {"REPLCONF", "ACK", std::to_string(commands_->replication().offset())}));
}

}  // namespace lockd::repl
