// RecordApplier: sets the engine's state as log records say. One code path
// for the two readers of records: the loader replaying the log at start, and
// a replica applying its primary's stream (src/repl/replica_link.cc).
//
// A MULTI unit is kept until its EXEC and then applied whole, so a unit
// that never ends (a torn log, a cut link) changes nothing. Applying is
// silent: the engine tells no ChangeListener, checks no deadline, expires
// nothing. The largest token, horizon and deadline seen are kept for
// whoever resumes issuing tokens or granting keys afterwards.
#pragma once

#include <cstdint>
#include <vector>

#include "aof/record.h"
#include "lockd/clock.h"
#include "lockd/engine.h"

namespace lockd::aof {

class RecordApplier {
 public:
  explicit RecordApplier(Engine* engine) : engine_(engine) {}

  // The wall/monotonic pair that turns records' wall-clock deadlines into
  // the engine's monotonic ones.
  void SetTime(MonoTime mono_now, WallTime wall_now) {
    mono_now_ = mono_now;
    wall_now_ = wall_now;
  }

  // One record read: applied, or kept until its unit's EXEC. The record's
  // views must stay valid until then.
  void Take(const Record& record);
  bool in_unit() const { return in_unit_; }
  // Drops a unit that will never end.
  void DropUnit() {
    unit_.clear();
    in_unit_ = false;
  }

  uint64_t records() const { return records_; }
  // The largest token any record names (grants and reservations).
  uint64_t max_token() const { return max_token_; }
  // The latest lease horizon reserved (LOCK.RESERVE), Unix ms; 0: none.
  int64_t max_horizon_ms() const { return max_horizon_ms_; }
  // The latest lease deadline a grant or extension named, Unix ms; 0: none.
  int64_t max_deadline_ms() const { return max_deadline_ms_; }
  // Whether the last record is LOCK.SHUTDOWN (a clean stop), and its gate.
  bool clean_shutdown() const { return clean_shutdown_; }
  int64_t shutdown_gate_ms() const { return shutdown_gate_ms_; }

 private:
  void Apply(const Record& record);

  Engine* engine_;
  MonoTime mono_now_;
  WallTime wall_now_;
  std::vector<Record> unit_;
  bool in_unit_ = false;
  uint64_t records_ = 0;
  uint64_t max_token_ = 0;
  int64_t max_horizon_ms_ = 0;
  int64_t max_deadline_ms_ = 0;
  bool clean_shutdown_ = false;
  int64_t shutdown_gate_ms_ = 0;
};

}  // namespace lockd::aof
