#include "aof/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "aof/time_convert.h"

namespace lockd::aof {

LogLoader::LogLoader(std::string path, Engine* engine, const Clock* clock)
    : path_(std::move(path)), engine_(engine), clock_(clock) {}

Status LogLoader::Open() {
  mono_start_ = clock_->Now();
  wall_start_ = clock_->WallNow();
  int error = file_.Open(path_);
  if (error == ENOENT) return Status::Ok();
  if (error != 0) {
    return Status::Error(
        fmt::format("Can't read the append only file {}: {}", path_, strerror(error)));
  }
  reader_ = LogReader(file_.data());
  // A grant record takes about 80 bytes: size the tables for the largest
  // number of leases this log could hold, capped so that a long log of
  // churn on few keys does not reserve much.
  engine_->ReserveLeases(std::min<size_t>(file_.data().size() / 80, size_t{1} << 24));
  return Status::Ok();
}

void LogLoader::Close() { file_.Unmap(); }

LogLoader::Step LogLoader::Run(size_t max_records) {
  if (verdict_ != LogReader::Result::kRecord) return Step::kDone;
  // Records are read a small batch ahead of applying them, and the table
  // slots of the batch's keys prefetched, so that the cache misses of a
  // batch overlap instead of adding up.
  constexpr size_t kBatch = 16;
  Record batch[kBatch];
  size_t n = 0;
  while (n < max_records) {
    size_t count = 0;
    LogReader::Result r = LogReader::Result::kRecord;
    while (count < kBatch && n + count < max_records &&
           (r = reader_.Next(&batch[count])) == LogReader::Result::kRecord) {
      if (HasKey(batch[count].type)) engine_->Prefetch(batch[count].key);
      ++count;
    }
    for (size_t i = 0; i < count; ++i) Take(batch[i]);
    n += count;
    if (r != LogReader::Result::kRecord) {
      verdict_ = r;
      return Step::kDone;
    }
  }
  return Step::kMore;
}

void LogLoader::Take(const Record& record) {
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

void LogLoader::Apply(const Record& r) {
  switch (r.type) {
    case RecordType::kGrant:
    case RecordType::kExtend: {
      std::optional<MonoTime> deadline;
      if (r.unix_ms != 0) {
        deadline = MonoTimeOf(r.unix_ms, mono_start_, wall_start_);
      }
      engine_->Restore(r.key, r.holder, r.token, deadline, mono_start_);
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
