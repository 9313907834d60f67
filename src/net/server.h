// Server: the libuv event loop and everything it owns — listeners, client
// connections, the wheel timer, signals — and the one step before the loop
// sleeps (OnBeforeSleep) where replies leave. Implements ServerHooks for the
// command layer.
//
// Ownership: Server owns every Connection (see net/connection.h) and every
// libuv handle it starts; all are closed before Run() returns.
#pragma once

#include <uv.h>

#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "cmd/commands.h"
#include "cmd/server_hooks.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "lockd/server.h"
#include "lockd/status.h"
#include "net/connection.h"
#include "net/tls_context.h"
#include "repl/replica_link.h"

namespace lockd {

class Server final : public ServerHooks {
 public:
  Server(const Config& config, const ServerOptions& options);
  ~Server() override;

  // Listens, serves until shutdown, closes everything. Returns the exit code.
  int Run();

  // ServerHooks.
  void ForEachSession(const std::function<void(Session&)>& visit) override;
  Session* FindSession(uint64_t id) override;
  void KillSession(Session& session) override;
  void SessionUnblocked(Session& session) override;
  void SessionHasOutput(Session& session) override;
  void RequestShutdown() override;
  ServerStatus Stats() override;
  void ResetStats() override;
  Status ApplyTlsConfig(const Config& updated) override;
  SSL_CTX* TlsClientContext() override;

 private:
  // A client whose unsent output passes this stops being read (and its
  // buffered commands stop running) until the output drains to half of it,
  // so a client that never reads cannot grow the server's memory.
  static constexpr size_t kOutputPauseBytes = 1024 * 1024;
  // Connections accepted per loop iteration; more wait for the next one, so
  // that a burst of thousands cannot hold the loop (Redis: 1000 per call).
  static constexpr int kMaxAcceptsPerIteration = 64;
  // Bytes of commands read from one client per loop iteration. libuv reads
  // up to 32 full buffers per callback, so a pipelining client would run
  // ~1 MB of commands (tens of milliseconds) before anyone else is served;
  // past this share it waits for the next iteration. Reads that only fill
  // a large argument's reserved room run no command and are not counted.
  static constexpr size_t kReadBudgetPerIteration = 64 * 1024;
  // Clients whose replies are sent per loop iteration. Each send costs a
  // system call that, on loopback, also runs the receiver's network stack
  // (tens of microseconds): thousands of clients answered at once would
  // hold the loop for ~100 ms. Past the budget they are sent in the next
  // iterations, half of each budget going to those waiting longest.
  static constexpr int kMaxFlushesPerIteration = 256;
  // Client sockets closed per loop iteration. Closing a TCP socket costs
  // tens of microseconds in the kernel (on loopback the peer's side of the
  // teardown runs inline too): thousands of clients that disconnect at once
  // would hold the loop for ~150 ms. Past the budget the client is gone at
  // once for everything else (its session ended, its waits left, its slot
  // free) and only its socket waits for a later iteration to be closed.
  static constexpr int kMaxClosesPerIteration = 128;
  // Time one loop iteration may spend running commands. Commands normally
  // cost a microsecond or two, so this only binds when they are slow as a
  // whole: thousands of clients sending at once, or the copy-on-write page
  // faults that follow the rewrite's fork. Past it, clients' buffered
  // commands run in the next iterations, so that others are answered
  // between them. Checked every kCommandsPerClockCheck commands.
  // Reads count against the same budget: each is a system call (and, on
  // loopback, the sender's side of the network stack), so thousands of
  // clients becoming readable at once (a disconnect storm's end-of-file
  // reads, a fleet sending together) would hold the loop for all of them.
  // Past it a client's read waits for a later iteration (WaitForReadTurn).
  static constexpr int64_t kCommandBudgetMicros = 8000;
  // One client's share of it at a time: a pipelining client yields after
  // this long, so the budget is not all spent on it.
  static constexpr int64_t kCommandSliceMicros = 2000;
  static constexpr int kCommandsPerClockCheck = 32;
  // Clients refused a read are read again, first refused first, this many
  // per iteration; their turn is not refused again, so none waits forever.
  static constexpr int kReadTurnsPerIteration = 128;

  Status Listen();
  Status ListenTcp(const std::string& address, bool optional, int port);
  // The HTTP/JSON listener (http-port), on http-bind or else bind.
  Status ListenHttp();
  bool IsHttpListener(uv_stream_t* listener) const;
  Status ListenUnix();
  void RaiseOpenFileLimit();

  static void OnConnection(uv_stream_t* listener, int status);
  void Accept(uv_stream_t* listener);
  void ResumeAccepts();
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void ProcessInput(Connection* c);
  // ProcessInput for a connection to the HTTP listener: one request at a
  // time through its HttpExchange.
  void ProcessHttpInput(Connection* c);
  // Whether c's input loop may take its next command. It stops when c
  // closes, blocks or is to close after its reply, at shutdown, when the
  // command must wait its turn (DeferInput) and when c has too much unsent
  // output (PauseForOutput).
  bool MayTakeNextCommand(Connection* c, MonoTime slice_start);
  // What follows an input loop: the query buffer figures, the output
  // limits, and the flush of whatever the commands replied.
  void AfterInput(Connection* c, MonoTime now);
  // Too much unsent output: stops reading c (see AfterOutputDrained).
  void PauseForOutput(Connection* c);
  // Whether the command now due must wait for a later turn: this
  // iteration's time for commands is used, or this client's slice (from
  // `slice_start`) is (see kCommandBudgetMicros). Counts one command.
  bool MustYield(MonoTime slice_start);
  // Starts this iteration's budget if it is the first to use it.
  void StartBudget();
  // Whether the iteration's budget is used, checked as one more read is
  // about to happen (counted like a command).
  bool ReadMustWait();
  // c was refused a read: it stops reading and waits in line for a turn.
  void WaitForReadTurn(Connection* c);
  void GrantReadTurns();
  // Leaves c's buffered commands for a later turn, at the back of the line.
  void DeferInput(Connection* c);
  // Runs deferred commands, first in line first, while the budget lasts.
  void RunDeferredInput();
  void ScheduleFlush(Connection* c);
  void ScheduleReady(Connection* c);
  void Flush(Connection* c);
  // Flush within the iteration's budget; past it, in a later iteration.
  void FlushOrDefer(Connection* c);
  void FlushDeferred();
  // After the iteration's commit: the output of a client whose replies may
  // reveal what the log has not synced yet waits for that sync, and for the
  // replicas' acks that lock-replica-ack asks for.
  void HoldForSync(Connection* c);
  // Drops c's holds that have ended: the log is durable up to their lsn and
  // the replicas acknowledged their offset (`acked`: see
  // ReplicationSource::acked_offset). A replica's own stream never waits
  // for its acks.
  void DropEndedHolds(Connection* c, uint64_t durable, uint64_t acked);
  // Flushes held clients whose sync is done.
  void ReleaseHolds();
  static void OnSyncDone(uv_async_t* async);
  static void OnWrite(uv_write_t* req, int status);
  void AfterOutputDrained(Connection* c);
  // Counts n bytes read from c in this iteration; past the budget, stops
  // reading from it until BeforeSleep.
  void ChargeRead(Connection* c, size_t n);
  void ResumeThrottledReads();
  // Closes a client whose unparsed input passed client-query-buffer-limit.
  void CheckQueryBufferLimit(Connection* c);
  bool OverOutputLimits(Connection* c, MonoTime now);
  void Close(Connection* c);
  static void OnClosed(uv_handle_t* handle);
  // Closes sockets left over from earlier iterations' close budgets.
  void CloseDeferredSockets();
  // Frees connections whose close finished, after taking them out of the
  // work lists.
  void RemoveClosed();

  static void OnBeforeSleep(uv_prepare_t* prepare);
  void BeforeSleep();
  static void OnWheelTimer(uv_timer_t* timer);
  void ArmWheelTimer();
  static void OnCron(uv_timer_t* timer);
  void UpdateCron();
  static void OnSignal(uv_signal_t* handle, int signum);
  static void OnChildSignal(uv_signal_t* handle, int signum);
  static void OnLoadStep(uv_idle_t* idle);
  void LoadFinished();
  // Stops serving: closes every handle and connection. `clean`: a
  // requested shutdown (the log is synced and marked); otherwise the log
  // could not be written and pending replies are dropped, not sent.
  void Shutdown(bool clean = true);
  void CloseHandles();

  // ---- TLS (net/server_tls.cc) ----
  // A client that has not finished its TLS handshake this long after it
  // connected is closed (see CloseOverdueHandshakes).
  static constexpr int64_t kTlsHandshakeTimeoutMicros = 10'000'000;
  // Ciphertext read per socket read of a TLS client: one read share.
  static constexpr size_t kTlsReadBytes = kReadBudgetPerIteration;
  // Plaintext encrypted per write: bounds the ciphertext one client holds
  // beside its output (which stays counted in session.out until written).
  static constexpr size_t kTlsEncryptBytes = 256 * 1024;
  // Builds the TLS context at start when a TLS listener (or TLS
  // replication) needs it.
  Status SetUpTls();
  // Opens the TLS listeners for `port` on the `bind` addresses into
  // `opened` (also in listeners_); on failure those opened are closed.
  Status ListenTls(int port, std::vector<uv_stream_t*>* opened);
  // CONFIG SET tls-port: the new listeners open before the old ones close,
  // so a port that cannot be bound leaves the old one serving.
  Status ChangeTlsPort(int port);
  // Closes `listener` (and forgets it everywhere); accepted connections stay.
  void CloseListener(uv_stream_t* listener);
  // Whether connections accepted on `listener` speak TLS.
  bool IsTlsListener(uv_stream_t* listener) const;
  // Gives c its TlsStream; false (c is closed) when none could be made.
  bool StartTls(Connection* c);
  // OnRead for a TLS client: `n` bytes of ciphertext at `data`.
  void OnTlsRead(Connection* c, const char* data, size_t n);
  // Flush for a TLS client: handshake bytes, then the sendable output
  // encrypted; called with no write in flight.
  void FlushTls(Connection* c);
  // A handshake step's CPU (milliseconds for the key exchange) is real:
  // it counts against the iteration's budget like commands do.
  void ChargeHandshake();
  // Closes clients whose handshake passed kTlsHandshakeTimeoutMicros.
  void CloseOverdueHandshakes(MonoTime now);
  std::unique_ptr<TlsContext> tls_;
  std::vector<uv_stream_t*> tls_listeners_;  // those of listeners_ that speak TLS
  std::unique_ptr<char[]> tls_read_buffer_;  // every TLS read lands here first

  Config config_;
  ServerOptions options_;
  SystemClock clock_;
  uv_loop_t loop_;
  std::unique_ptr<Commands> commands_;
  // The replica side of replication: the connection to a primary, when
  // this server follows one (src/repl/). Destroyed before commands_.
  std::unique_ptr<repl::ReplicaLink> replica_link_;

  std::vector<uv_stream_t*> listeners_;
  std::vector<uv_stream_t*> http_listeners_;  // those of listeners_ that speak HTTP
  std::string unix_path_;
  std::map<uint64_t, Connection*> clients_;  // ordered by id, for CLIENT LIST
  std::vector<Connection*> flush_list_;      // have output to send
  std::vector<Connection*> ready_list_;      // were unblocked or resumed: run their input
  std::vector<Connection*> scratch_;         // the list being worked through right now
  std::vector<Connection*> held_;            // output waits for a log sync (Connection::holds)
  std::deque<Connection*> deferred_flushes_;  // past an iteration's flush budget
  std::deque<Connection*> deferred_input_;     // buffered commands wait for their turn
  std::vector<Connection*> closed_;            // closed by libuv, to be freed
  std::deque<Connection*> deferred_closes_;    // ended; socket not closed yet
  std::deque<Connection*> read_turns_;         // refused a read: wait to read again
  int closes_this_iteration_ = 0;
  uint64_t budget_iteration_ = 0;  // the iteration the command budget counts for
  MonoTime budget_start_;          // when that iteration first read or ran a command
  int commands_since_clock_check_ = 0;  // commands and reads
  bool budget_used_ = false;
  int flushes_this_iteration_ = 0;
  uint64_t next_client_id_ = 1;
  Connection* executing_ = nullptr;  // whose command is running right now
  int accepts_this_iteration_ = 0;
  uint64_t iteration_ = 1;                // counts BeforeSleep calls
  std::vector<Connection*> throttled_;    // stopped reading for this iteration
  std::vector<uv_stream_t*> deferred_accepts_;  // listeners with a connection held back

  uv_prepare_t before_sleep_;
  uv_timer_t wheel_timer_;
  int64_t wheel_armed_for_us_ = -1;  // the MonoTime the timer is armed for; -1: stopped
  uv_timer_t cron_;
  bool cron_active_ = false;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_signal_t sigchld_;
  uv_idle_t load_idle_;  // runs the log load a slice per loop iteration
  uv_idle_t rerun_;      // keeps the loop from sleeping while clients are ready
  uv_async_t sync_done_;  // the log's sync thread wakes the loop through it

  bool shutdown_requested_ = false;
  bool shut_down_ = false;
  int exit_code_ = 0;

  ServerStatus counters_;
};

}  // namespace lockd
