// LogLoader: replays a log file into the engine at start, a slice at a time
// so that the loop can answer -LOADING meanwhile.
//
// Records set state rather than repeat commands: a GRANT or EXTEND restores
// the lease exactly (holder, token, absolute deadline), a FREE removes it.
// Nothing expires while loading; leases whose deadline passed while the
// server was down are freed by the timer right after the load, and those
// frees are logged. A MULTI unit is applied only once its EXEC is read, so a
// unit torn by a crash is dropped whole.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aof/log_reader.h"
#include "aof/mapped_file.h"
#include "aof/record.h"
#include "aof/record_applier.h"
#include "lockd/clock.h"
#include "lockd/engine.h"
#include "lockd/status.h"

namespace lockd::aof {

class LogLoader {
 public:
  LogLoader(std::string path, Engine* engine, const Clock* clock);
  LogLoader(const LogLoader&) = delete;
  LogLoader& operator=(const LogLoader&) = delete;

  // Maps the file. A missing file is an empty log.
  Status Open();

  enum class Step { kMore, kDone };
  // Applies up to `max_records` records. kDone once the verdict is known
  // (see verdict()).
  Step Run(size_t max_records);

  // kEnd, kTruncated or kDamaged, once Run returned kDone.
  LogReader::Result verdict() const { return verdict_; }
  const LogReader& reader() const { return reader_; }
  // Unmaps the file (before it is cut or opened for appending).
  void Close();

  uint64_t records() const { return applier_.records(); }
  // The file's size while it is mapped (0 after Close).
  size_t total_bytes() const { return file_.data().size(); }
  // When Open() ran: the load's start, and the time pair that turns the
  // records' wall-clock deadlines into monotonic ones.
  MonoTime started() const { return mono_start_; }
  WallTime started_wall() const { return wall_start_; }
  size_t loaded_bytes() const { return reader_.offset(); }
  // The largest token any record names (grants and reservations).
  uint64_t max_token() const { return applier_.max_token(); }
  // The latest lease horizon reserved (LOCK.RESERVE), Unix ms; 0: none.
  int64_t max_horizon_ms() const { return applier_.max_horizon_ms(); }
  // Whether the last record is LOCK.SHUTDOWN (a clean stop), and its gate.
  bool clean_shutdown() const { return applier_.clean_shutdown(); }
  int64_t shutdown_gate_ms() const { return applier_.shutdown_gate_ms(); }

 private:
  std::string path_;
  Engine* engine_;
  const Clock* clock_;
  MonoTime mono_start_;
  WallTime wall_start_;
  MappedFile file_;
  LogReader reader_{std::string_view()};
  LogReader::Result verdict_ = LogReader::Result::kRecord;
  RecordApplier applier_;
};

}  // namespace lockd::aof
