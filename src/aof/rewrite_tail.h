// RewriteTail: the end of a rewrite. Once the child has written the
// snapshot, everything the parent logged since the fork (LogWriter's
// capture) must be appended to the new file before it replaces the log.
//
// The loop must not pay for that: the capture can be tens of megabytes when
// large records are logged during the rewrite. So the background thread
// appends and syncs it in rounds, each taking what was captured so far,
// while the loop goes on writing (and capturing) the old log. When a round
// ends with at most kMaxLoopBytes captured, the loop appends that small rest
// itself, syncs, and lets the caller rename.
//
// Rounds need not converge: when the write rate matches what the disk
// takes, each round ends with as much captured as it started with. After
// kMaxRounds the loop chases instead: each iteration it appends the head of
// the capture, at most kMaxLoopBytes more than the iteration itself logged,
// so the backlog shrinks by kMaxLoopBytes an iteration however fast records
// come (the background thread keeps the new file's dirty data small by
// syncing it meanwhile). Either way the loop never writes more than
// kMaxLoopBytes of backlog in one iteration beyond its own records.
//
// Until the rename the old log receives every record, so a crash at any
// moment leaves the old complete log or the new complete (synced) one.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "aof/background_sync.h"
#include "aof/log_file.h"
#include "aof/log_writer.h"

namespace lockd::aof {

class RewriteTail {
 public:
  // The most captured bytes the loop appends itself, in the final step.
  static constexpr size_t kMaxLoopBytes = size_t{1} << 20;
  // Background rounds before the loop chases the backlog itself.
  static constexpr int kMaxRounds = 4;

  RewriteTail(FileSystem* fs, BackgroundSync* background, std::string temp_path);
  RewriteTail(const RewriteTail&) = delete;
  RewriteTail& operator=(const RewriteTail&) = delete;

  enum class Step {
    kRunning,  // a background round runs, or was just started
    kReady,    // the file holds the snapshot and all of the capture, synced
    kFailed,   // error() says why
  };
  // Called by the loop once per iteration, after the iteration's records
  // are written (nothing pending in `writer`), so that the capture holds
  // everything the old log holds beyond the snapshot.
  Step Advance(LogWriter* writer);

  const std::string& error() const { return error_; }
  // After kReady: the new log file, open for appending, and its size.
  std::shared_ptr<LogFile> TakeFile() { return std::move(file_); }
  uint64_t size() const { return size_; }
  // Captured bytes appended by the background rounds and by the loop.
  uint64_t background_bytes() const { return background_bytes_; }
  uint64_t loop_bytes() const { return loop_bytes_; }
  int rounds() const { return rounds_; }

 private:
  // One background round. Written by the background thread until `done`.
  struct Round {
    CaptureBuffer data;
    std::shared_ptr<LogFile> file;  // null on the first round: it opens the file
    uint64_t size = 0;              // the file's size after the round
    std::string error;              // empty: appended and synced
    std::atomic<bool> done{false};
  };
  void StartRound(LogWriter* writer);
  // Chase mode: appends the capture's head within this iteration's budget.
  // False on a write error (error_ is set).
  bool Chase(LogWriter* writer, uint64_t own);
  Step Finish(LogWriter* writer);

  FileSystem* fs_;
  BackgroundSync* background_;
  std::string temp_path_;
  std::shared_ptr<Round> round_;  // the round in progress, if any
  std::shared_ptr<LogFile> file_;
  uint64_t size_ = 0;
  std::string error_;
  uint64_t background_bytes_ = 0;
  uint64_t loop_bytes_ = 0;
  int rounds_ = 0;
  // Chase mode (what the capture holds is not yet in the file), the
  // capture total seen at the last Advance (what the loop logged since is
  // its own budget), and whether a background sync of the file runs.
  bool chasing_ = false;
  uint64_t seen_total_ = 0;
  std::shared_ptr<std::atomic<bool>> syncing_;
};

}  // namespace lockd::aof
