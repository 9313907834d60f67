// Durability: everything between the engine's state changes and the disk
// (DESIGN.md §9). It turns engine changes into log records, writes
// and syncs them once per loop iteration before any reply leaves (group
// commit), replays the log at start, compacts it, keeps tokens from ever
// repeating across crashes, and decides what a failing disk means.
//
// The command layer owns it and passes it to the engine as ChangeListener;
// the network layer calls Commit() in the step before the loop sleeps.
#pragma once

#include <cstdint>
#include <memory>
#include <functional>
#include <string>

#include "aof/background_sync.h"
#include "aof/loader.h"
#include "aof/log_file.h"
#include "aof/log_writer.h"
#include "aof/rewrite_tail.h"
#include "aof/rewriter.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "lockd/engine.h"
#include "lockd/status.h"

namespace lockd::aof {

// Tokens reserved at a time under appendfsync everysec/no (and appendonly
// no): a crash skips at most this many, and a reservation costs one
// synchronous sync per this many grants.
inline constexpr uint64_t kTokenBlock = 65536;

// A sync that replies wait for runs on the loop while the last one took less
// than this; otherwise on the sync thread (see Commit).
inline constexpr int64_t kLoopSyncMaxMicros = 2000;

// What one Commit tells replication besides the records: the reservation
// they carry, and the most the iteration's replies may reveal (leases
// changed or looked up). With min-replicas-to-write set, replication holds
// replies that reveal a token or deadline past what the replicas have
// acknowledged (lock-replica-ack, DESIGN.md §10).
struct CommitFacts {
  // The records hold a LOCK.RESERVE of (reserved_tokens, reserved_horizon_ms).
  bool reserved = false;
  uint64_t reserved_tokens = 0;
  int64_t reserved_horizon_ms = 0;
  // They grant or extend a lease without a deadline, which no horizon covers.
  bool no_deadline_change = false;
  // They change a lease (grant, extend or free): records beyond the
  // reservation, which a reply may reveal (lock-replica-ack always waits for
  // them; a promotion's reservation alone is no change anyone can see).
  bool changed_leases = false;
  // Leases the iteration changed or looked up: whether any, the largest
  // token, the latest deadline (Unix ms), whether one had no deadline.
  bool revealed_any = false;
  uint64_t revealed_token = 0;
  int64_t revealed_deadline_ms = 0;
  bool revealed_no_deadline = false;
};

// Replication's view of the log (src/repl/): the records of each iteration,
// in the order they are appended to the log, handed over at Commit before
// they are written. A unit (MULTI ... EXEC) is never split between calls.
class RecordTap {
 public:
  virtual ~RecordTap() = default;
  virtual void OnRecords(std::string_view records, const CommitFacts& facts) = 0;
  // Whether records are wanted at all. With the log off they are encoded
  // only for the tap, so a tap that would drop them (a primary no replica
  // ever connected to) saves each change its encoding.
  virtual bool WantsRecords() const { return true; }
};

class Durability final : public ChangeListener {
 public:
  // `fs` null: the real file system.
  Durability(const Config* config, const Clock* clock, FileSystem* fs);
  ~Durability() override;
  Durability(const Durability&) = delete;
  Durability& operator=(const Durability&) = delete;

  void set_engine(Engine* engine) { engine_ = engine; }

  // ---- Start-up. BeginLoad, then LoadSome until it returns true, then
  // FinishLoad. Errors stop the server (exit code 1).
  Status BeginLoad();
  bool loading() const { return loader_ != nullptr; }
  // Applies up to `max_records`; true once the whole file has been read.
  bool LoadSome(size_t max_records);
  Status FinishLoad();

  // ---- Before the replies of a loop iteration leave: writes the records
  // of the iteration and syncs as appendfsync says; finishes a rewrite
  // whose child is done. False when the server must stop rather than reply
  // (a failed write or sync under `always`, or a token reservation that
  // could not reach the disk).
  bool Commit(MonoTime now);
  // Replies produced up to now may leave once durable_lsn() reaches
  // reply_lsn() (log sequence numbers, see LogWriter); the sync that gets
  // there runs off the loop, and its end calls the wake hook (from the sync
  // thread: it must only wake the loop).
  uint64_t reply_lsn() const { return reply_lsn_; }
  uint64_t durable_lsn() const { return writer_.durable_lsn(); }
  void set_sync_wake(std::function<void()> wake) { writer_.set_wake(std::move(wake)); }
  // A child process exited (SIGCHLD): Commit reaps the rewrite child.
  void ChildExited() { child_exited_ = true; }

  // MISCONF: changes are refused while the log cannot be written (everysec
  // and no; under always the server stops instead).
  bool refusing_writes() const;
  std::string misconf_error() const;

  // BGREWRITEAOF.
  Status StartRewrite(MonoTime now);
  bool rewriting() const { return rewriter_.running() || tail_ != nullptr; }
  const Rewriter& rewriter() const { return rewriter_; }

  // SHUTDOWN / SIGTERM: writes what is pending and a LOCK.SHUTDOWN record,
  // and syncs. Stops a running rewrite. False when the log could not be
  // written or synced (the exit code then says so).
  bool Shutdown(MonoTime now);

  // INFO persistence.
  void WriteInfo(std::string* out, MonoTime now) const;
  // For /metrics.
  uint64_t log_size() const { return writer_.size(); }
  uint64_t rewrites() const { return rewrites_; }
  const SyncLatency& sync_latency() const { return writer_.sync_latency(); }
  // Where the log reports slow steps for LATENCY (event name, microseconds):
  // "aof-fsync-always", "fork" and "aof-rename". Called on the loop only.
  using LatencySink = std::function<void(std::string_view event, int64_t micros)>;
  void set_latency_sink(LatencySink sink) { latency_sink_ = std::move(sink); }
  // Remaining restart lock-delay in ms (0: none).
  int64_t restart_delay_ms(MonoTime now) const;

  // ---- Replication (src/repl/).
  // Receives every record at Commit, also with appendonly no (then the
  // records are encoded for it alone).
  void set_tap(RecordTap* tap) { tap_ = tap; }
  // Bytes of records the next Commit hands to the tap.
  size_t untapped_bytes() const { return writer_.buffer().size() - tapped_; }
  // A full resync's snapshot: the records a rewrite writes (the token and
  // horizon reservation, then one LOCK.GRANT per lease), as of `now`.
  // `tokens` and `horizon_ms`, when given, receive its reservation.
  std::string Snapshot(MonoTime now, uint64_t* tokens = nullptr, int64_t* horizon_ms = nullptr);
  // A replica: records its primary sent, already applied to the engine, go
  // to the log as they are (written by the next Commit).
  void AppendReplicated(std::string_view records);
  // A replica becomes a primary: tokens resume above `token_floor` and no
  // key is granted to a new holder before `gate_ms` (Unix ms), as after an
  // unclean restart; both are reserved in the log.
  void Promote(uint64_t token_floor, int64_t gate_ms, MonoTime now);

  // ChangeListener.
  void OnChange(const Change& change) override;
  void OnUnitBegin() override;
  void OnUnitEnd() override;

 private:
  bool log_on() const;
  void RefreshTime(MonoTime now);
  int64_t WallMillisNow() const { return wall_now_.millis(); }
  // The token and horizon reservation (see DESIGN.md): appends a
  // LOCK.RESERVE to the buffer when the iteration issued a token or a
  // deadline beyond what is reserved; returns true when it did.
  bool Reserve();
  // Moves a reservation (*tokens, *horizon_ms) past the last token and the
  // latest deadline, if either passed it; true when it moved.
  bool AdvanceReservation(uint64_t* tokens, int64_t* horizon_ms) const;
  // The stream's own reservation, where the log carries none (appendfsync
  // always, appendonly no): appends a LOCK.RESERVE for the tap alone when
  // one is due (or a promotion asked for one); true when it did. The caller
  // takes it out of the log's buffer once the tap has it.
  bool ReserveForStream();
  bool ReserveTokenFile();
  // appendonly no: moves a log left by an earlier run aside (see .cc).
  Status SupersedeLog(uint64_t token_file_limit);
  void MaybeFinishRewrite(MonoTime now);
  void FailRewrite(const std::string& why, MonoTime now);
  void MaybeStartAutoRewrite(MonoTime now);
  std::string TokenFilePath() const;

  const Config* config_;
  const Clock* clock_;
  FileSystem* fs_;
  Engine* engine_ = nullptr;
  BackgroundSync background_;  // closes replaced files, runs the rewrite's rounds
  BackgroundSync syncer_;      // the log's syncs, never queued behind a rewrite round
  LogWriter writer_;
  uint64_t reply_lsn_ = 0;
  std::unique_ptr<LogLoader> loader_;
  Rewriter rewriter_;

  // Wall and monotonic time of the last Commit: deadlines are converted
  // with this pair during the iteration that follows.
  MonoTime mono_now_;
  WallTime wall_now_;

  int unit_depth_ = 0;
  bool unit_written_ = false;  // the open unit's MULTI is in the buffer
  // Reservations that are on disk (see Reserve()).
  uint64_t reserved_tokens_ = 0;
  int64_t reserved_horizon_ms_ = 0;
  int64_t max_deadline_ms_ = 0;  // the latest deadline ever logged
  int64_t gate_ms_ = 0;          // restart lock-delay end, Unix ms; 0: none
  // The iteration logged a lease without a deadline: under everysec/no its
  // Commit syncs before the replies leave, as for a reservation.
  bool sync_due_ = false;

  RecordTap* tap_ = nullptr;
  size_t tapped_ = 0;  // bytes of writer_.buffer() already handed to tap_
  // Hands the iteration's records to the tap; `reserved` says which
  // reservation they carry, if any.
  void FeedTap(bool reserved, uint64_t tokens, int64_t horizon_ms);
  // The reservation replicas received where the log has none of its own
  // (see ReserveForStream): a promoted replica resumes above it.
  uint64_t stream_tokens_ = 0;
  int64_t stream_horizon_ms_ = 0;
  // A promotion: the next Commit streams this node's reservation.
  bool stream_reserve_due_ = false;
  // Leases the iteration changed (see CommitFacts), reset at each Commit.
  bool changed_any_ = false;
  bool changed_leases_ = false;  // any OnChange, frees included (CommitFacts)
  uint64_t changed_token_ = 0;
  int64_t changed_deadline_ms_ = 0;

  // Failure state: the last write error (0: writes work) and whether it
  // was already reported in the server log.
  int write_error_ = 0;
  int64_t last_write_error_log_us_ = 0;
  MonoTime last_background_sync_;
  int64_t fsync_delayed_ = 0;

  // The end of a rewrite: the child's exit, then the capture moved into
  // the new file (tail_, mostly on the background thread), then the rename.
  bool child_exited_ = false;
  MonoTime last_child_poll_;
  std::unique_ptr<RewriteTail> tail_;
  MonoTime rewrite_started_;
  int64_t last_rewrite_secs_ = -1;
  bool last_rewrite_ok_ = true;
  uint64_t rewrites_ = 0;
  uint64_t base_size_ = 0;
  MonoTime next_auto_rewrite_;
  LatencySink latency_sink_;

  void NoteLatency(std::string_view event, int64_t micros) {
    if (latency_sink_) latency_sink_(event, micros);
  }
};

}  // namespace lockd::aof
