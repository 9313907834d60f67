// The Server's TLS side: the context built from the tls-* directives (and
// rebuilt by CONFIG SET), the TLS listener, and the hooks by which a TLS
// client's reads and writes pass through its TlsStream. Above this layer a
// TLS client is a plain one: the same parser, budgets, output limits and
// replies held for the log's sync; what is encrypted is exactly what the
// plain path would write, when it would write it.
#include <fmt/format.h>

#include <algorithm>

#include "net/server.h"
#include "util/errors.h"
#include "util/log.h"

namespace lockd {

Status Server::SetUpTls() {
  if (!TlsWanted(config_)) return Status::Ok();
  Status s = TlsContext::Create(config_, &tls_);
  if (!s.ok()) {
    // Two log lines, as Redis writes them: the cause, then the verdict.
    Log(LogLevel::kWarning, "{}", s.message());
    return Status::Error("Failed to configure TLS. Check logs for more info.");
  }
  tls_read_buffer_ = std::make_unique<char[]>(kTlsReadBytes);
  return Status::Ok();
}

Status Server::ListenTls(int port, std::vector<uv_stream_t*>* opened) {
  // On the addresses of `bind`, as Redis's tls-port; '-' as there.
  auto fail = [&](const std::string& cause) {
    if (!cause.empty()) Log(LogLevel::kWarning, "{}", cause);
    for (uv_stream_t* l : *opened) CloseListener(l);
    opened->clear();
    return Status::Error(fmt::format("Failed listening on port {} (tls), aborting.", port));
  };
  for (const std::string& entry : config_.bind) {
    bool optional = !entry.empty() && entry[0] == '-';
    size_t before = listeners_.size();
    Status s = ListenTcp(optional ? entry.substr(1) : entry, optional, port);
    if (!s.ok()) return fail(s.message());
    if (listeners_.size() > before) opened->push_back(listeners_.back());
  }
  if (opened->empty()) return fail("");
  return Status::Ok();
}

void Server::CloseListener(uv_stream_t* listener) {
  auto forget = [listener](std::vector<uv_stream_t*>& v) {
    v.erase(std::remove(v.begin(), v.end(), listener), v.end());
  };
  forget(listeners_);
  forget(tls_listeners_);
  forget(http_listeners_);
  forget(deferred_accepts_);
  uv_close(reinterpret_cast<uv_handle_t*>(listener), [](uv_handle_t* h) { std::free(h); });
}

Status Server::ChangeTlsPort(int port) {
  std::vector<uv_stream_t*> opened;
  if (port != 0) {
    Status s = ListenTls(port, &opened);
    if (!s.ok()) {
      Log(LogLevel::kWarning, "Failed listening on port {} (tls)", port);
      return Status::Error(errors::kTlsPortListenFailed);
    }
  }
  std::vector<uv_stream_t*> old = tls_listeners_;
  for (uv_stream_t* l : old) CloseListener(l);
  tls_listeners_ = std::move(opened);
  if (port != 0) {
    Log(LogLevel::kNotice, "Listening for TLS connections on port {}", port);
  } else {
    Log(LogLevel::kNotice, "TLS listener closed");
  }
  return Status::Ok();
}

bool Server::IsTlsListener(uv_stream_t* listener) const {
  if (std::find(tls_listeners_.begin(), tls_listeners_.end(), listener) != tls_listeners_.end()) {
    return true;
  }
  return config_.http_tls && IsHttpListener(listener);
}

bool Server::StartTls(Connection* c) {
  // tls-auth-clients as it is now: a change applies to later connections.
  c->tls = TlsStream::Create(tls_->ctx(), config_.tls_auth_clients);
  if (c->tls) return true;
  Log(LogLevel::kWarning, "Closing client id={} addr={}: no memory for its TLS session",
      c->session.id, c->session.addr);
  Close(c);
  return false;
}

void Server::ChargeHandshake() {
  StartBudget();
  commands_since_clock_check_ = 0;
  if (!budget_used_) budget_used_ = clock_.Now().us - budget_start_.us >= kCommandBudgetMicros;
}

void Server::OnTlsRead(Connection* c, const char* data, size_t n) {
  TlsStream& tls = *c->tls;
  const bool handshaking = !tls.handshake_done();
  const bool filling = c->input.filling();
  size_t plain = 0;
  TlsStream::Result result = tls.Receive(data, n, &c->input, &plain);
  if (handshaking) ChargeHandshake();
  if (result == TlsStream::Result::kError) {
    // Redis's verbose line for a failed accept; the alert OpenSSL queued
    // (unknown CA, certificate required, ...) goes out if the socket takes
    // it at once, so the client can tell why.
    Log(LogLevel::kVerbose, "Error accepting a client connection: {} (addr={} laddr={})",
        tls.error(), c->session.addr, c->session.laddr);
    std::string& alert = tls.Output();
    if (!alert.empty() && !c->write_in_flight) {
      uv_buf_t b = uv_buf_init(alert.data(), static_cast<unsigned>(alert.size()));
      uv_try_write(c->stream(), &b, 1);
    }
    Close(c);
    return;
  }
  if (handshaking && tls.handshake_done()) {
    Log(LogLevel::kDebug, "TLS handshake done id={} addr={} ({})", c->session.id, c->session.addr,
        tls.version());
  }
  if (plain > 0) {
    counters_.total_net_input_bytes += plain;
    ProcessInput(c);
    if (!c->closing) CheckQueryBufferLimit(c);
  }
  if (c->closing) return;
  if (result == TlsStream::Result::kClosed) {
    Log(LogLevel::kVerbose, "Client closed connection id={} addr={}", c->session.id,
        c->session.addr);
    Close(c);
    return;
  }
  // Handshake messages, session tickets: they leave with the next flush.
  if (tls.HasOutput()) ScheduleFlush(c);
  if (!filling) ChargeRead(c, n);
}

void Server::FlushTls(Connection* c) {
  TlsStream& tls = *c->tls;
  OutputBuffer& out = c->session.out;
  // What the plain path would send: the output no hold covers.
  size_t sendable = 0;
  if (tls.handshake_done()) {
    DropEndedHolds(c, commands_->durability().durable_lsn(),
                   c->holds.empty() ? 0 : commands_->replication().acked_offset());
    sendable = out.size();
    if (!c->holds.empty()) {
      uint64_t from = c->holds.front().from;
      sendable = from <= out.consumed_total()
                     ? 0
                     : std::min<uint64_t>(from - out.consumed_total(), sendable);
    }
  }
  constexpr size_t kMaxRuns = 64;
  for (;;) {
    // The plaintext stays in `out` until its ciphertext is written, so the
    // output limits and the pause mark see it as on a plain connection.
    size_t chunk = std::min(sendable, kTlsEncryptBytes);
    size_t plain = 0;
    bool failed = false;
    if (chunk > 0) {
      out.ForEachRun(kMaxRuns, [&](const char* data, size_t len) {
        if (failed || plain >= chunk) return;
        len = std::min(len, chunk - plain);
        if (tls.Encrypt(data, len)) {
          plain += len;
        } else {
          failed = true;
        }
      });
    }
    if (failed) {
      Log(LogLevel::kVerbose, "Error writing to client: {}", tls.error());
      Close(c);
      return;
    }
    std::string& cipher = tls.Output();
    if (cipher.empty()) break;
    uv_buf_t b = uv_buf_init(cipher.data(), static_cast<unsigned>(cipher.size()));
    int written = uv_try_write(c->stream(), &b, 1);
    if (written < 0 && written != UV_EAGAIN) {
      Log(LogLevel::kVerbose, "Error writing to client: {}", uv_strerror(written));
      Close(c);
      return;
    }
    size_t done = written > 0 ? static_cast<size_t>(written) : 0;
    if (done < cipher.size()) {
      // The socket is full: libuv writes the rest when it can, and OnWrite
      // consumes the plaintext it carries (write_bytes).
      uv_buf_t rest = tls.StartWrite(done);
      if (uv_write(&c->write_req, c->stream(), &rest, 1, OnWrite) != 0) {
        Close(c);
        return;
      }
      c->write_in_flight = true;
      c->write_bytes = plain;
      return;
    }
    tls.Sent(done);
    if (plain > 0) {
      out.Consume(plain);
      sendable -= plain;
      counters_.total_net_output_bytes += plain;
      c->session.last_interaction = clock_.Now();
    }
    if (sendable == 0) break;
  }
  if (out.empty()) AfterOutputDrained(c);
}

void Server::CloseOverdueHandshakes(MonoTime now) {
  // Clients accepted on a TLS listener since closed still count.
  if (!tls_) return;
  std::vector<Connection*> overdue;
  for (auto& [id, c] : clients_) {
    if (c->tls && !c->tls->handshake_done() && !c->closing &&
        now.us - c->session.created.us >= kTlsHandshakeTimeoutMicros) {
      overdue.push_back(c);
    }
  }
  for (Connection* c : overdue) {
    Log(LogLevel::kVerbose, "Closing client id={} addr={}: TLS handshake not done in time",
        c->session.id, c->session.addr);
    Close(c);
  }
}

Status Server::ApplyTlsConfig(const Config& updated) {
  std::unique_ptr<TlsContext> fresh;
  // A context is needed when TLS turns on (a tls-port, tls-replication) or
  // a setting it is built from changed.
  if (TlsWanted(updated) && (!tls_ || TlsContextSettingsDiffer(config_, updated))) {
    Status s = TlsContext::Create(updated, &fresh);
    if (!s.ok()) {
      Log(LogLevel::kWarning, "{}", s.message());
      return Status::Error(errors::kTlsConfigUpdateFailed);
    }
  }
  if (updated.tls_port != config_.tls_port) {
    if (Status s = ChangeTlsPort(updated.tls_port); !s.ok()) return s;
  }
  if (!fresh) return Status::Ok();
  // Connections keep the SSL_CTX they were made from (each SSL holds a
  // reference), so the old context lives on for them.
  tls_ = std::move(fresh);
  if (!tls_read_buffer_) tls_read_buffer_ = std::make_unique<char[]>(kTlsReadBytes);
  Log(LogLevel::kNotice, "TLS configuration reloaded");
  return Status::Ok();
}

SSL_CTX* Server::TlsClientContext() { return tls_ ? tls_->client_ctx() : nullptr; }

}  // namespace lockd
