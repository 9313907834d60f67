// Durability: see durability.h, and DESIGN.md §9 for the contract.
#include "aof/durability.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "aof/log_reader.h"
#include "aof/mapped_file.h"
#include "aof/record.h"
#include "aof/time_convert.h"
#include "util/errors.h"
#include "util/log.h"

namespace lockd::aof {

namespace {

constexpr const char* kRewriteTempPrefix = "temp-rewriteaof-bg-";

std::string ErrorText(int negative_errno) { return strerror(-negative_errno); }

// Temporary files of rewrites that a crash interrupted; they hold nothing
// the log does not.
void RemoveStaleRewrites() {
  DIR* dir = opendir(".");
  if (dir == nullptr) return;
  while (struct dirent* e = readdir(dir)) {
    if (strncmp(e->d_name, kRewriteTempPrefix, strlen(kRewriteTempPrefix)) == 0) {
      Log(LogLevel::kNotice, "Removing the temporary file of an interrupted rewrite: {}", e->d_name);
      unlink(e->d_name);
    }
  }
  closedir(dir);
}

// The largest token a log names (grants, extensions and reservations),
// read without loading it: the token file, and with appendonly no the log
// an earlier run left. A missing file names none; one that exists but
// cannot be read is an error (open_error), since it may name any token.
struct TokenScan {
  bool exists = false;
  size_t size = 0;
  int open_error = 0;
  uint64_t max_token = 0;
  LogReader::Result result = LogReader::Result::kEnd;
  size_t error_offset = 0;
  std::string error;
};

TokenScan ScanTokens(const std::string& path) {
  TokenScan scan;
  MappedFile file;
  int e = file.Open(path);
  if (e == ENOENT) return scan;
  scan.exists = true;
  if (e != 0) {
    scan.open_error = e;
    return scan;
  }
  scan.size = file.data().size();
  LogReader reader(file.data());
  Record r;
  while ((scan.result = reader.Next(&r)) == LogReader::Result::kRecord) {
    if (r.type == RecordType::kGrant || r.type == RecordType::kExtend ||
        r.type == RecordType::kReserve) {
      scan.max_token = std::max(scan.max_token, r.token);
    }
  }
  scan.error_offset = reader.error_offset();
  scan.error = reader.error();
  return scan;
}

// A name beside `path` that no file has yet: path.superseded-<unix s>[-n].
std::string SupersededName(const std::string& path, int64_t unix_ms) {
  std::string base = fmt::format("{}.superseded-{}", path, unix_ms / 1000);
  std::string name = base;
  for (int n = 1; access(name.c_str(), F_OK) == 0; ++n) name = fmt::format("{}-{}", base, n);
  return name;
}

}  // namespace

Durability::Durability(const Config* config, const Clock* clock, FileSystem* fs)
    : config_(config),
      clock_(clock),
      fs_(fs != nullptr ? fs : &PosixFileSystem()),
      writer_(&background_, &syncer_) {
  RefreshTime(clock_->Now());
}

Durability::~Durability() = default;

bool Durability::log_on() const { return config_->appendonly && writer_.attached(); }

void Durability::RefreshTime(MonoTime now) {
  mono_now_ = now;
  wall_now_ = clock_->WallNow();
}

std::string Durability::TokenFilePath() const { return config_->appendfilename + ".tokens"; }

// ---- Start-up ----

Status Durability::BeginLoad() {
  RemoveStaleRewrites();
  // The token file of `appendonly no` runs: tokens never go backwards even
  // across a switch between appendonly no and yes.
  TokenScan tokens = ScanTokens(TokenFilePath());
  if (tokens.open_error != 0) {
    return Status::Error(fmt::format("Can't read the token file {}: {}", TokenFilePath(),
                                     strerror(tokens.open_error)));
  }
  // The token file is replaced atomically, so it is never torn: a file that
  // does not read to its end cannot say how high tokens went.
  if (tokens.result != LogReader::Result::kEnd) {
    return Status::Error(fmt::format(
        "Bad file format reading the token file {} at offset {}: {}", TokenFilePath(),
        tokens.result == LogReader::Result::kDamaged ? tokens.error_offset : tokens.size,
        tokens.result == LogReader::Result::kDamaged ? tokens.error : "unexpected end of file"));
  }
  engine_->RaiseLastToken(tokens.max_token);
  reserved_tokens_ = tokens.max_token;
  if (!config_->appendonly) return SupersedeLog(tokens.max_token);
  loader_ = std::make_unique<LogLoader>(config_->appendfilename, engine_, clock_);
  return loader_->Open();
}

// With appendonly no, leases are not kept and this run will change them, so
// a log left by an `appendonly yes` run stops describing the current state
// the moment this run grants, renews or releases anything. It must never be
// replayed as current later: its tokens are first made durable in the token
// file, then it is moved aside, and only then does the run serve. A crash
// before the move leaves the log where it was, still current (nothing was
// changed yet); a crash after it leaves no log, and a token file above it.
Status Durability::SupersedeLog(uint64_t token_file_limit) {
  const std::string& path = config_->appendfilename;
  TokenScan log = ScanTokens(path);
  if (!log.exists) return Status::Ok();
  if (log.open_error != 0) {
    return Status::Error(fmt::format(
        "Can't read the append only file {} left by an earlier run (its tokens must be known "
        "so that none is issued again): {}",
        path, strerror(log.open_error)));
  }
  if (log.result == LogReader::Result::kDamaged) {
    // Records past the damage may name any token: none can be issued
    // safely until the file is repaired or removed by hand.
    return Status::Error(fmt::format(
        "Bad file format reading the append only file {} at byte offset {}: {}. Tokens it names "
        "after that offset are unknown, so lockd does not start. Make a backup of the file, then "
        "check it with 'lockd-check-aof {}'",
        path, log.error_offset, log.error, path));
  }
  if (log.size == 0) return Status::Ok();  // says nothing, and stays empty
  // A torn tail was never acknowledged under `always`, and under
  // everysec/no its tokens are below a reservation; a block more is cheap.
  uint64_t floor = log.max_token;
  if (log.result != LogReader::Result::kEnd) floor = SaturatingAddTokens(floor, kTokenBlock);
  engine_->RaiseLastToken(floor);
  if (floor > token_file_limit) {
    std::string record;
    AppendReserve(&record, floor, 0);
    int r = ReplaceFileDurably(TokenFilePath(), record);
    if (r != 0) {
      return Status::Error(fmt::format("Can't write the token file {}: {}", TokenFilePath(),
                                       ErrorText(r)));
    }
  }
  reserved_tokens_ = std::max(reserved_tokens_, floor);
  std::string aside = SupersededName(path, clock_->WallNow().millis());
  int r = PosixFileSystem().RenameDurably(path, aside);
  if (r != 0) {
    return Status::Error(fmt::format("Can't move the superseded append only file {} to {}: {}",
                                     path, aside, ErrorText(r)));
  }
  Log(LogLevel::kWarning,
      "appendonly is no: the append only file {} left by an earlier run is superseded (this run "
      "keeps no leases across restarts, and what it changes would make that file stale). It was "
      "moved to {} so that a later start with appendonly yes cannot replay it as current; tokens "
      "resume above {}. Only if no lease changed since it was written may it be moved back.",
      path, aside, floor);
  return Status::Ok();
}

bool Durability::LoadSome(size_t max_records) {
  return loader_->Run(max_records) == LogLoader::Step::kDone;
}

Status Durability::FinishLoad() {
  std::unique_ptr<LogLoader> loader = std::move(loader_);
  const std::string& path = config_->appendfilename;
  const LogReader& reader = loader->reader();
  uint64_t size = loader->total_bytes();
  // Everything needed from the mapping is read; unmap before the file is
  // cut or opened for appending.
  loader->Close();
  if (loader->verdict() == LogReader::Result::kDamaged) {
    return Status::Error(fmt::format(
        "Bad file format reading the append only file {} at byte offset {}: {}. Make a backup of "
        "the file, then check it with 'lockd-check-aof {}'",
        path, reader.error_offset(), reader.error(), path));
  }
  if (loader->verdict() == LogReader::Result::kTruncated) {
    size_t cut = reader.valid_end();
    if (!config_->aof_load_truncated) {
      return Status::Error(fmt::format(
          "Unexpected end of file reading the append only file {}: the last record, at byte "
          "offset {}, is incomplete. Set 'aof-load-truncated yes' to cut it off at start, or run "
          "'lockd-check-aof --fix {}'",
          path, cut, path));
    }
    Log(LogLevel::kWarning, "!!! Warning: short read while loading the append only file {}!!!", path);
    Log(LogLevel::kWarning, "!!! Truncating the append only file {} at byte offset {} ({} bytes of a torn last record) !!!",
        path, cut, size - cut);
    if (truncate(path.c_str(), static_cast<off_t>(cut)) != 0) {
      return Status::Error(fmt::format("Error truncating the append only file {}: {}", path,
                                       strerror(errno)));
    }
    size = cut;
    Log(LogLevel::kWarning, "AOF loaded anyway because aof-load-truncated is enabled");
  }

  // Tokens resume above every token the log names or reserved.
  engine_->RaiseLastToken(loader->max_token());
  reserved_tokens_ = std::max(reserved_tokens_, loader->max_token());
  reserved_horizon_ms_ = loader->max_horizon_ms();
  max_deadline_ms_ = reserved_horizon_ms_;

  // The restart lock-delay: after an unclean stop, leases granted in the
  // unsynced tail may still run until the reserved horizon.
  RefreshTime(clock_->Now());
  int64_t gate = loader->clean_shutdown() ? loader->shutdown_gate_ms() : loader->max_horizon_ms();
  if (gate > WallMillisNow()) {
    int64_t delay_ms = gate - WallMillisNow();
    gate_ms_ = gate;
    engine_->CloseGrantsUntil(mono_now_.PlusMillis(delay_ms));
    Log(LogLevel::kWarning,
        "{}: no key is granted to a new holder for {} ms (restart lock-delay), so that no lease "
        "lost with the unsynced end of the log can overlap a new one",
        loader->clean_shutdown() ? "The last run stopped during a restart lock-delay"
                                 : "The last run did not stop cleanly",
        delay_ms);
  }

  std::string error;
  std::shared_ptr<LogFile> file = fs_->OpenForAppend(path, &error);
  if (file == nullptr) {
    return Status::Error(fmt::format("Can't open the append only file {}: {}", path, error));
  }
  writer_.Attach(std::move(file), size);
  base_size_ = size;
  double secs = static_cast<double>(clock_->Now().us - loader->started().us) / 1e6;
  if (loader->records() > 0) {
    Log(LogLevel::kNotice, "DB loaded from append only file: {} records in {:.3f} seconds",
        loader->records(), secs);
  }
  return Status::Ok();
}

// ---- Records ----

void Durability::OnChange(const Change& c) {
  if (!config_->appendonly && tap_ == nullptr) return;
  // What the iteration's replies may reveal, for replication (CommitFacts)
  // and the next reservation, whether or not a record is written.
  changed_leases_ = true;
  int64_t pxat = 0;
  if (c.kind != ChangeKind::kFree) {
    changed_any_ = true;
    changed_token_ = std::max<uint64_t>(changed_token_, c.token);
    pxat = UnixMillisOf(c.deadline, mono_now_, wall_now_);
    max_deadline_ms_ = std::max(max_deadline_ms_, pxat);
    changed_deadline_ms_ = std::max(changed_deadline_ms_, pxat);
    // A lease without a deadline has no horizon that a restart's lock-delay
    // could wait out: its record must be on disk before any reply reveals it.
    if (!c.deadline) sync_due_ = true;
  }
  // With the log off the records are for replication alone, which wants
  // none until a replica first connects (that one starts from a snapshot).
  if (!config_->appendonly && !tap_->WantsRecords()) return;
  std::string& out = writer_.buffer();
  // A unit's MULTI is written at its first change, so that a unit that
  // changed nothing (an EXEC of reads, a busy LOCK.ACQUIRE) leaves no empty
  // MULTI/EXEC pair in the log.
  if (unit_depth_ > 0 && !unit_written_) {
    AppendMulti(&out);
    unit_written_ = true;
  }
  if (c.kind == ChangeKind::kFree) {
    AppendFree(&out, c.key, c.cause);
  } else {
    AppendGrant(&out, c.kind, c.key, c.holder, c.token, pxat);
  }
}

// Depth is counted whatever appendonly says, so that a CONFIG SET inside an
// EXEC cannot unbalance it.
void Durability::OnUnitBegin() { ++unit_depth_; }

void Durability::OnUnitEnd() {
  if (--unit_depth_ > 0) return;
  if (unit_written_) AppendExec(&writer_.buffer());
  unit_written_ = false;
}

// ---- Commit ----

bool Durability::AdvanceReservation(uint64_t* tokens, int64_t* horizon_ms) const {
  bool token_passed = engine_->last_token() > *tokens;
  bool horizon_passed = max_deadline_ms_ > *horizon_ms;
  if (!token_passed && !horizon_passed) return false;
  if (token_passed) *tokens = SaturatingAddTokens(engine_->last_token(), kTokenBlock);
  if (horizon_passed) {
    // Reserve past the deadline by the lease length, at least 1 s and at
    // most 60 s: a stream of leases of one length then reserves at most
    // once a second (and once a minute for long leases), while the delay
    // after a crash stays within a lease length and a minute.
    int64_t now_ms = WallMillisNow();
    int64_t slack = std::clamp<int64_t>(max_deadline_ms_ - now_ms, 1000, 60'000);
    *horizon_ms = max_deadline_ms_ + slack;
  }
  return true;
}

bool Durability::Reserve() {
  if (!AdvanceReservation(&reserved_tokens_, &reserved_horizon_ms_)) return false;
  AppendReserve(&writer_.buffer(), reserved_tokens_, reserved_horizon_ms_);
  return true;
}

// Under appendfsync always the log needs no reservation (every record is
// synced before it is revealed, and a reservation in the log would give a
// restart a lock-delay it does not need), and with appendonly no there is no
// log. Replicas still need one: a promoted replica resumes tokens above the
// largest reservation it received and keeps keys from new holders until the
// latest horizon, and the primary reveals nothing past a reservation its
// replicas have not acknowledged (lock-replica-ack).
bool Durability::ReserveForStream() {
  if (tap_ == nullptr) return false;
  bool due = std::exchange(stream_reserve_due_, false);
  if (due) {
    // A promoted node streams the reservation it resumed above.
    stream_tokens_ = std::max({stream_tokens_, reserved_tokens_, engine_->last_token()});
    stream_horizon_ms_ = std::max(stream_horizon_ms_, reserved_horizon_ms_);
  }
  if (!AdvanceReservation(&stream_tokens_, &stream_horizon_ms_) && !due) return false;
  AppendReserve(&writer_.buffer(), stream_tokens_, stream_horizon_ms_);
  return true;
}

bool Durability::ReserveTokenFile() {
  if (engine_->last_token() <= reserved_tokens_) return true;
  uint64_t limit = SaturatingAddTokens(engine_->last_token(), kTokenBlock);
  std::string record;
  AppendReserve(&record, limit, 0);
  int r = ReplaceFileDurably(TokenFilePath(), record);
  if (r != 0) {
    Log(LogLevel::kWarning, "Can't write the token file {}: {}. Exiting rather than risk issuing a token twice.",
        TokenFilePath(), strerror(-r));
    return false;
  }
  reserved_tokens_ = limit;
  return true;
}

void Durability::FeedTap(bool reserved, uint64_t tokens, int64_t horizon_ms) {
  std::string& out = writer_.buffer();
  // Called even when there is nothing new: replication sends what it has
  // queued behind the iteration's records (an ack request).
  if (tap_ != nullptr) {
    CommitFacts facts{.reserved = reserved,
                      .reserved_tokens = tokens,
                      .reserved_horizon_ms = horizon_ms,
                      .no_deadline_change = sync_due_,
                      .changed_leases = changed_leases_};
    // What the iteration's replies may show: the leases it changed and
    // those its commands looked up.
    Engine::Views views = engine_ != nullptr ? engine_->TakeViews() : Engine::Views{};
    facts.revealed_any = changed_any_ || views.any;
    facts.revealed_token = std::max<uint64_t>(changed_token_, views.max_token);
    facts.revealed_deadline_ms = std::max(
        changed_deadline_ms_,
        views.max_deadline ? UnixMillisOf(views.max_deadline, mono_now_, wall_now_) : 0);
    facts.revealed_no_deadline = sync_due_ || views.no_deadline;
    tap_->OnRecords(std::string_view(out).substr(tapped_), facts);
  }
  changed_any_ = false;
  changed_leases_ = false;
  changed_token_ = 0;
  changed_deadline_ms_ = 0;
  tapped_ = out.size();
}

bool Durability::Commit(MonoTime now) {
  RefreshTime(now);
  if (loading()) return true;
  if (!config_->appendonly) {
    // The records were encoded for replication only, with the stream's own
    // reservation.
    bool reserved = ReserveForStream();
    FeedTap(reserved, stream_tokens_, stream_horizon_ms_);
    writer_.buffer().clear();
    tapped_ = 0;
    sync_due_ = false;
    return ReserveTokenFile();
  }
  if (!writer_.attached()) return true;

  const AppendFsync policy = config_->appendfsync;
  if (policy == AppendFsync::kAlways && latency_sink_) {
    // The syncs that ended since the last commit, whichever thread ran them.
    if (int64_t worst = writer_.TakeWorstSyncMicros(); worst > 0) {
      latency_sink_("aof-fsync-always", worst);
    }
  }
  // Under `always` every token and deadline reaches the disk before it is
  // revealed; otherwise a reservation must, and so must a lease without a
  // deadline.
  bool reserved = policy != AppendFsync::kAlways && Reserve();
  bool must_sync = policy != AppendFsync::kAlways && (reserved || sync_due_);
  // Replicas get the records as the log does, before the write (as Redis
  // feeds them before its fsync); their sockets are written after the
  // commit, with the other clients' replies. Under `always` the stream
  // carries a reservation the log does not: it is taken out of the buffer
  // once the tap has it.
  size_t log_end = writer_.buffer().size();
  bool stream_reserved = policy == AppendFsync::kAlways && ReserveForStream();
  if (policy != AppendFsync::kAlways && std::exchange(stream_reserve_due_, false)) {
    reserved = true;  // Promote put the log's reservation in the buffer
  }
  if (stream_reserved) {
    FeedTap(true, stream_tokens_, stream_horizon_ms_);
  } else {
    FeedTap(reserved, reserved_tokens_, reserved_horizon_ms_);
  }
  if (stream_reserved) {
    writer_.buffer().resize(log_end);
    tapped_ = log_end;
  }

  if (writer_.pending()) {
    int r = writer_.Write();
    tapped_ = std::min(tapped_, writer_.buffer().size());
    if (r != 0) {
      if (policy == AppendFsync::kAlways || must_sync) {
        Log(LogLevel::kWarning,
            "Error writing to the append only file: {}. Can't recover from a log write error "
            "when the AOF fsync policy is 'always' (or a token reservation or a lease without "
            "a deadline is due). Exiting...",
            ErrorText(r));
        return false;
      }
      if (write_error_ == 0 || now.us - last_write_error_log_us_ > 30'000'000) {
        Log(LogLevel::kWarning, "Error writing to the append only file: {}", ErrorText(r));
        last_write_error_log_us_ = now.us;
      }
      write_error_ = r;
      return true;
    }
    if (write_error_ != 0) {
      Log(LogLevel::kWarning, "AOF write error looks solved. Lockd can write again.");
      write_error_ = 0;
    }
  }

  // Replies wait for the sync that covers what they may reveal: under
  // `always`, everything written so far (a read may reveal a grant whose
  // sync is still in flight); otherwise the latest reservation. The loop
  // does not wait: the sync runs on its own thread, and Server holds those
  // replies until durable_lsn() reaches reply_lsn().
  if (policy == AppendFsync::kAlways || must_sync) {
    reply_lsn_ = std::max(reply_lsn_, writer_.written_lsn());
  }
  int sync_error = writer_.sync_error();
  if (reply_lsn_ > writer_.durable_lsn()) {
    if (sync_error != 0) {
      Log(LogLevel::kWarning,
          "Can't persist the append only file (fdatasync: {}). Exiting rather than acknowledge "
          "what is not on disk...",
          ErrorText(sync_error));
      return false;
    }
    // While syncs are quick and no rewrite is writing, the loop syncs
    // itself: handing a sync to the thread and back costs two wake-ups,
    // more than a fast fdatasync. Once one is slow (a busy disk), or while
    // a rewrite runs, syncs go to the thread, one at a time: the next starts
    // when this one is done and covers everything written meanwhile (group
    // commit), and the loop goes on serving.
    if (!writer_.sync_in_flight() && !rewriting() &&
        writer_.last_sync_micros() < kLoopSyncMaxMicros) {
      int r = writer_.SyncNow();
      if (r != 0) {
        Log(LogLevel::kWarning,
            "Can't persist the append only file (fdatasync: {}). Exiting rather than "
            "acknowledge what is not on disk...",
            ErrorText(r));
        return false;
      }
    } else if (!writer_.sync_in_flight()) {
      writer_.StartSync();
    }
  } else if ((writer_.unsynced() || sync_error != 0) &&
             (policy == AppendFsync::kEverySec || sync_error != 0) &&
             now.us - last_background_sync_.us >= 1'000'000) {
    // everysec, and the retry of a failed sync (once a second) even when
    // nothing new was written: the bytes it should have covered are not
    // known synced.
    if (writer_.StartSync()) {
      last_background_sync_ = now;
    } else {
      ++fsync_delayed_;
    }
  }

  sync_due_ = false;
  MaybeFinishRewrite(now);
  MaybeStartAutoRewrite(now);
  return true;
}

bool Durability::refusing_writes() const {
  return config_->appendonly && (write_error_ != 0 || writer_.sync_error() != 0);
}

std::string Durability::misconf_error() const {
  int e = write_error_ != 0 ? write_error_ : writer_.sync_error();
  return fmt::format("MISCONF Errors writing to the AOF file: {}", ErrorText(e));
}

// ---- Replication ----

std::string Durability::Snapshot(MonoTime now, uint64_t* tokens, int64_t* horizon_ms) {
  RefreshTime(now);
  uint64_t token_limit = std::max({engine_->last_token(), reserved_tokens_, stream_tokens_});
  int64_t horizon =
      std::max({reserved_horizon_ms_, stream_horizon_ms_, gate_ms_, max_deadline_ms_});
  std::string out;
  AppendReserve(&out, token_limit, horizon);
  if (tokens != nullptr) *tokens = token_limit;
  if (horizon_ms != nullptr) *horizon_ms = horizon;
  engine_->ForEachLease([&](const LeaseView& lease) {
    AppendGrant(&out, ChangeKind::kGrant, lease.key, lease.holder, lease.token,
                UnixMillisOf(lease.deadline, mono_now_, wall_now_));
  });
  return out;
}

void Durability::AppendReplicated(std::string_view records) {
  if (!config_->appendonly) return;
  writer_.buffer().append(records);
}

void Durability::Promote(uint64_t token_floor, int64_t gate_ms, MonoTime now) {
  RefreshTime(now);
  engine_->RaiseLastToken(token_floor);
  reserved_tokens_ = std::max(reserved_tokens_, token_floor);
  reserved_horizon_ms_ = std::max(reserved_horizon_ms_, gate_ms);
  max_deadline_ms_ = std::max(max_deadline_ms_, gate_ms);
  if (gate_ms > WallMillisNow()) {
    int64_t delay_ms = gate_ms - WallMillisNow();
    gate_ms_ = std::max(gate_ms_, gate_ms);
    engine_->CloseGrantsUntil(mono_now_.PlusMillis(delay_ms));
    Log(LogLevel::kWarning,
        "Promoted to primary: no key is granted to a new holder for {} ms (the lock-delay of a "
        "failover), so that no lease the old primary granted can overlap a new one",
        delay_ms);
  }
  // The promise outlives a restart of this node: a later unclean stop
  // replays this reservation and keeps the gate.
  if (config_->appendonly) AppendReserve(&writer_.buffer(), reserved_tokens_, reserved_horizon_ms_);
  // Its replicas get it too (or the stream's own, see ReserveForStream):
  // replies wait for an acknowledged reservation.
  stream_reserve_due_ = true;
}

// ---- Rewrite ----

Status Durability::StartRewrite(MonoTime now) {
  if (rewriting()) {
    return Status::Error("ERR Background append only file rewriting already in progress");
  }
  if (!config_->appendonly) {
    // A log written now would be replayed by a later `appendonly yes` start
    // as current, although leases changed after it (see SupersedeLog).
    return Status::Error(errors::kRewriteNeedsAppendOnly);
  }
  if (!log_on()) return Status::Error("ERR Background append only file rewriting needs the log open");
  RefreshTime(now);
  uint64_t token_limit = std::max(engine_->last_token(), reserved_tokens_);
  int64_t horizon = std::max(reserved_horizon_ms_, gate_ms_);
  std::string temp = fmt::format("{}{}.aof", kRewriteTempPrefix, getpid());
  // Capture starts before the fork: records of this iteration not yet
  // written are in the child's snapshot and are written (and captured)
  // after it; replaying them twice sets the same state twice.
  writer_.StartCapture();
  Status s = rewriter_.Start(*engine_, temp, token_limit, horizon, mono_now_, wall_now_);
  if (!s.ok()) {
    writer_.StopCapture();
    last_rewrite_ok_ = false;
    Log(LogLevel::kWarning, "{}", s.message());
    return Status::Error("ERR " + s.message());
  }
  rewrite_started_ = now;
  child_exited_ = false;
  NoteLatency("fork", rewriter_.latest_fork_usec());
  Log(LogLevel::kNotice, "Background append only file rewriting started by pid {}", rewriter_.child());
  return Status::Ok();
}

void Durability::MaybeFinishRewrite(MonoTime now) {
  // SIGCHLD says when the child is done; polling a few times a second
  // covers a signal that went to another handler.
  if (rewriter_.running() && now.us - last_child_poll_.us > 200'000) child_exited_ = true;
  if (child_exited_ && rewriter_.running()) {
    last_child_poll_ = now;
    child_exited_ = false;
    std::optional<bool> ok = rewriter_.Poll();
    if (ok && !*ok) return FailRewrite("the child could not write the snapshot", now);
    if (ok) tail_ = std::make_unique<RewriteTail>(fs_, &background_, rewriter_.temp_path());
  }
  // The capture must hold everything the old log has beyond the snapshot:
  // only once this iteration's records are written.
  if (tail_ == nullptr || writer_.pending() || write_error_ != 0) return;
  RewriteTail::Step step = tail_->Advance(&writer_);
  if (step == RewriteTail::Step::kRunning) return;
  std::unique_ptr<RewriteTail> tail = std::move(tail_);
  if (step == RewriteTail::Step::kFailed) return FailRewrite(tail->error(), now);
  MonoTime rename_start = clock_->Now();
  int r = fs_->RenameDurably(rewriter_.temp_path(), config_->appendfilename);
  NoteLatency("aof-rename", clock_->Now().us - rename_start.us);
  if (r != 0) return FailRewrite("rename: " + ErrorText(r), now);
  uint64_t size = tail->size();
  Log(LogLevel::kNotice,
      "Residual parent diff successfully flushed to the rewritten AOF ({:.2f} MB in {} background "
      "rounds, {} bytes of them by the loop, at most {} KB an iteration beyond its own records)",
      static_cast<double>(tail->background_bytes() + tail->loop_bytes()) / (1024 * 1024),
      tail->rounds(), tail->loop_bytes(), RewriteTail::kMaxLoopBytes / 1024);
  writer_.StopCapture();
  writer_.Attach(tail->TakeFile(), size);
  base_size_ = size;
  ++rewrites_;
  last_rewrite_ok_ = true;
  last_rewrite_secs_ = (now.us - rewrite_started_.us) / 1'000'000;
  Log(LogLevel::kNotice, "Background AOF rewrite finished successfully");
}

void Durability::FailRewrite(const std::string& why, MonoTime now) {
  Log(LogLevel::kWarning, "Background AOF rewrite failed: {}", why);
  unlink(rewriter_.temp_path().c_str());
  writer_.StopCapture();
  tail_.reset();
  last_rewrite_ok_ = false;
  last_rewrite_secs_ = (now.us - rewrite_started_.us) / 1'000'000;
  next_auto_rewrite_ = now.PlusMillis(5000);  // do not retry in a tight loop
}

void Durability::MaybeStartAutoRewrite(MonoTime now) {
  int64_t pct = config_->auto_aof_rewrite_percentage;
  if (pct <= 0 || rewriting() || now < next_auto_rewrite_) return;
  uint64_t size = writer_.size();
  if (size < static_cast<uint64_t>(config_->auto_aof_rewrite_min_size)) return;
  uint64_t base = base_size_ == 0 ? 1 : base_size_;
  if (size <= base || (size - base) * 100 / base < static_cast<uint64_t>(pct)) return;
  Log(LogLevel::kNotice, "Starting automatic rewriting of AOF on {}% growth", (size - base) * 100 / base);
  if (!StartRewrite(now).ok()) next_auto_rewrite_ = now.PlusMillis(5000);
}

// ---- Shutdown ----

bool Durability::Shutdown(MonoTime now) {
  rewriter_.Abort();
  if (tail_ != nullptr) unlink(rewriter_.temp_path().c_str());
  tail_.reset();
  writer_.StopCapture();
  if (!log_on()) {
    if (!config_->appendonly && engine_ != nullptr) return ReserveTokenFile();
    return true;
  }
  RefreshTime(now);
  if (config_->appendfsync != AppendFsync::kAlways) Reserve();
  AppendShutdown(&writer_.buffer(), gate_ms_ > WallMillisNow() ? gate_ms_ : 0);
  int r = writer_.Write();
  if (r == 0) r = writer_.SyncNow();
  if (r != 0) {
    Log(LogLevel::kWarning, "Error writing the append only file at shutdown: {}", ErrorText(r));
    return false;
  }
  Log(LogLevel::kNotice, "Calling fsync() on the AOF file.");
  return true;
}

// ---- INFO ----

int64_t Durability::restart_delay_ms(MonoTime now) const {
  std::optional<MonoTime> until = engine_->grants_closed_until();
  if (!until || now >= *until) return 0;
  return (until->us - now.us + 999) / 1000;
}

void Durability::WriteInfo(std::string* out, MonoTime now) const {
  auto add = [out](std::string_view name, auto value) {
    fmt::format_to(std::back_inserter(*out), "{}:{}\r\n", name, value);
  };
  add("loading", loading() ? 1 : 0);
  add("async_loading", 0);
  if (loading()) {
    int64_t elapsed = (now.us - loader_->started().us) / 1'000'000;
    size_t total = loader_->total_bytes();
    size_t done = loader_->loaded_bytes();
    add("loading_start_time", loader_->started_wall().us / 1'000'000);
    add("loading_total_bytes", total);
    add("loading_loaded_bytes", done);
    add("loading_loaded_perc", fmt::format("{:.2f}", total == 0 ? 100.0 : 100.0 * done / total));
    add("loading_eta_seconds", done == 0 ? 1 : static_cast<int64_t>(elapsed * (total - done) / done));
  }
  add("rdb_changes_since_last_save", 0);
  add("rdb_bgsave_in_progress", 0);
  add("rdb_last_bgsave_status", "ok");
  add("aof_enabled", config_->appendonly ? 1 : 0);
  add("aof_rewrite_in_progress", rewriting() ? 1 : 0);
  add("aof_rewrite_scheduled", 0);
  add("aof_last_rewrite_time_sec", last_rewrite_secs_);
  add("aof_current_rewrite_time_sec",
      rewriting() ? (now.us - rewrite_started_.us) / 1'000'000 : int64_t{-1});
  add("aof_last_bgrewrite_status", last_rewrite_ok_ ? "ok" : "err");
  add("aof_rewrites", rewrites_);
  add("aof_last_write_status", refusing_writes() ? "err" : "ok");
  add("aof_last_cow_size", 0);
  if (config_->appendonly) {
    add("aof_current_size", writer_.size());
    add("aof_base_size", base_size_);
    add("aof_pending_rewrite", 0);
    add("aof_buffer_length", writer_.buffer().size());
    add("aof_rewrite_buffer_length", writer_.capture().size());
    add("aof_pending_bio_fsync", writer_.sync_in_flight() ? 1 : 0);
    add("aof_delayed_fsync", fsync_delayed_);
  }
  add("lock_restart_delay_ms", restart_delay_ms(now));
  add("lock_reserved_tokens", reserved_tokens_);
}

}  // namespace lockd::aof
