#include "aof/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "aof/time_convert.h"

namespace lockd::aof {

LogLoader::LogLoader(std::string path, Engine* engine, const Clock* clock)
    : path_(std::move(path)), engine_(engine), clock_(clock), applier_(engine) {}

Status LogLoader::Open() {
  mono_start_ = clock_->Now();
  wall_start_ = clock_->WallNow();
  applier_.SetTime(mono_start_, wall_start_);
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
    for (size_t i = 0; i < count; ++i) applier_.Take(batch[i]);
    n += count;
    if (r != LogReader::Result::kRecord) {
      verdict_ = r;
      return Step::kDone;
    }
  }
  return Step::kMore;
}

}  // namespace lockd::aof
