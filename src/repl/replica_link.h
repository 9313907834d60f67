// ReplicaLink: the replica side of replication. It keeps one outgoing
// connection to the primary (REPLICAOF host port, or the replicaof
// directive), does Redis's handshake (PING, AUTH when masterauth is set,
// REPLCONF listening-port, REPLCONF capa eof capa psync2, PSYNC), loads the
// snapshot of a full resync, then applies the stream, record by record,
// through the log loader's code (aof::RecordApplier) and appends the same
// records to this node's own log. It acks its offset every second and
// answers REPLCONF GETACK. With tls-replication the connection runs over
// TLS (a client-side TlsStream on the same memory BIOs as the server's
// connections), verifying the primary's certificate against the CA.
//
// Everything a primary sends is checked before it is believed: a line or
// bulk past its bound, a record that does not decode, or a snapshot that
// does not read as records ends the link (and a later attempt starts
// over); the state stays the last one a whole unit left, one the primary
// had. Ownership: the link owns its socket (a heap Conn freed in its close
// callback) and its timer; Close() must run before the loop ends.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aof/record_applier.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "repl/replication_source.h"

namespace lockd {
class Commands;
}

namespace lockd::repl {

class ReplicaLink final : public PrimaryLink {
 public:
  ReplicaLink(uv_loop_t* loop, Commands* commands, const Config* config, const Clock* clock);
  ~ReplicaLink() override;
  ReplicaLink(const ReplicaLink&) = delete;
  ReplicaLink& operator=(const ReplicaLink&) = delete;

  // Starts the link's timer, and follows the replicaof directive's primary.
  void Start();
  // Closes the connection and the timer (the loop is ending).
  void Close();

  // PrimaryLink.
  void Follow(const std::string& host, int port) override;
  void Unfollow() override;
  bool following() const override { return following_; }
  LinkStatus status() const override;

 private:
  // Redis's repl_state, as ROLE names it.
  enum class State { kConnect, kConnecting, kHandshake, kTransfer, kConnected };
  struct Conn;

  static void OnTimer(uv_timer_t* timer);
  void Cron();
  void Connect();
  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  // Sends `bytes` of the protocol: encrypted on a TLS link (held until its
  // handshake is done).
  void Send(std::string bytes);
  // Writes `bytes` to the socket as they are.
  void WriteRaw(std::string bytes);
  // A TLS link's ciphertext read from the socket: drives the handshake,
  // decrypts onto in_. False when the link was dropped.
  bool ReceiveTls(const char* data, size_t n);
  // Ends the connection; `why` goes to the server log. A follower
  // reconnects from the timer.
  void Drop(const std::string& why);
  // Works through the received bytes as far as they go; false when the
  // link was dropped.
  bool Process();
  bool ProcessHandshake();
  bool ProcessSnapshot();
  bool ProcessStream();
  // A full resync's snapshot: replaces the engine's state and logs it.
  bool LoadSnapshot(std::string_view snapshot);
  void SendAck();

  uv_loop_t* loop_;
  Commands* commands_;
  const Config* config_;
  const Clock* clock_;
  uv_timer_t timer_;
  bool timer_started_ = false;
  Conn* conn_ = nullptr;

  bool following_ = false;
  std::string host_;
  int port_ = 0;
  State state_ = State::kConnect;
  std::string in_;
  // Handshake replies still expected, in order ("ping", "auth", "replconf",
  // "psync").
  std::vector<std::string> expected_;
  std::string psync_replid_;
  uint64_t psync_offset_ = 0;
  int64_t snapshot_len_ = -1;
  MonoTime last_io_;
  MonoTime last_ack_;
  MonoTime down_since_;
  bool ever_synced_ = false;
  aof::RecordApplier applier_;
};

}  // namespace lockd::repl
