#include "aof/loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace lockd::aof {

LogLoader::LogLoader(std::string path, Engine* engine, const Clock* clock)
    : path_(std::move(path)), engine_(engine), clock_(clock) {}

LogLoader::~LogLoader() { Close(); }

Status LogLoader::Open() {
  mono_start_ = clock_->Now();
  wall_start_ = clock_->WallNow();
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Error(fmt::format("Can't open the append-only file {}: {}", path_, strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return Status::Error(fmt::format("Can't stat the append-only file {}: {}", path_, strerror(e)));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* map = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int e = errno;
      close(fd);
      return Status::Error(fmt::format("Can't map the append-only file {}: {}", path_, strerror(e)));
    }
    map_ = static_cast<char*>(map);
    // The file is read front to back once.
    madvise(map_, size_, MADV_SEQUENTIAL | MADV_WILLNEED);
  }
  close(fd);
  reader_ = LogReader(std::string_view(map_, size_));
  // A grant record takes about 80 bytes: size the tables for the largest
  // number of leases this log could hold, capped so that a long log of
  // churn on few keys does not reserve much.
  engine_->ReserveLeases(std::min<size_t>(size_ / 80, size_t{1} << 24));
  return Status::Ok();
}

void LogLoader::Close() {
  if (map_ != nullptr) munmap(map_, size_);
  map_ = nullptr;
}

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
        // Saturate: a deadline centuries away stays far away.
        int64_t delta_us = std::clamp<int64_t>(r.unix_ms - wall_start_.millis(),
                                               -(int64_t{1} << 50), int64_t{1} << 50) * 1000;
        // A deadline that passed while the server was down becomes the
        // start of the load: due at once, never held again.
        deadline = MonoTime{std::max(mono_start_.us + delta_us, mono_start_.us)};
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
