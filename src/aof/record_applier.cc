// RecordApplier: see record_applier.h, and DESIGN.md §9 for what each
// record means.
#include "aof/record_applier.h"

#include <algorithm>

#include "aof/time_convert.h"

namespace lockd::aof {

void RecordApplier::Take(const Record& record) {
  ++records_;
  clean_shutdown_ = false;
  switch (record.type) {
    case RecordType::kMulti:
      in_unit_ = true;
      unit_.clear();
      break;
    case RecordType::kExec:
      for (const Record& inner : unit_) Apply(inner);
      unit_.clear();
      in_unit_ = false;
      break;
    default:
      if (in_unit_) {
        unit_.push_back(record);
      } else {
        Apply(record);
      }
      break;
  }
}

void RecordApplier::Apply(const Record& r) {
  switch (r.type) {
    case RecordType::kGrant:
    case RecordType::kExtend: {
      std::optional<MonoTime> deadline;
      if (r.unix_ms != 0) {
        deadline = MonoTimeOf(r.unix_ms, mono_now_, wall_now_);
        max_deadline_ms_ = std::max(max_deadline_ms_, r.unix_ms);
      }
      engine_->Restore(r.key, r.holder, r.token, deadline, mono_now_);
      max_token_ = std::max(max_token_, r.token);
      break;
    }
    case RecordType::kFree:
      engine_->Remove(r.key);
      break;
    case RecordType::kReserve:
      max_token_ = std::max(max_token_, r.token);
      max_horizon_ms_ = std::max(max_horizon_ms_, r.unix_ms);
      break;
    case RecordType::kShutdown:
      clean_shutdown_ = true;
      shutdown_gate_ms_ = r.unix_ms;
      break;
    case RecordType::kMulti:
    case RecordType::kExec:
      break;
  }
}

}  // namespace lockd::aof
