#include "aof/log_writer.h"

#include <cerrno>
#include <chrono>
#include <utility>

namespace lockd::aof {

void LogWriter::Attach(std::shared_ptr<LogFile> file, uint64_t size) {
  if (file_ != nullptr) background_->Close(std::move(file_));
  file_ = std::move(file);
  size_ = synced_size_ = size;
  sync_state_->Raise(written_lsn_);
}

int LogWriter::Write() {
  if (buffer_.empty()) return 0;
  size_t done = 0;
  int error = 0;
  while (done < buffer_.size()) {
    ssize_t w = file_->Write(buffer_.data() + done, buffer_.size() - done);
    if (w < 0) {
      error = static_cast<int>(w);
      break;
    }
    if (w == 0) {
      error = -ENOSPC;  // a write that makes no progress: the disk is full
      break;
    }
    done += static_cast<size_t>(w);
  }
  if (error == 0) {
    if (capturing_) {
      capture_.Append(buffer_);
      captured_total_ += buffer_.size();
    }
    size_ += done;
    written_lsn_ += done;
    buffer_.clear();
    return 0;
  }
  if (done > 0) {
    // A short write: cut the partial records off, so the file keeps only
    // whole records and the retry starts at a record boundary.
    if (file_->Truncate(size_) != 0) {
      // Cannot cut back: the written bytes stay, and the retry continues
      // after them.
      if (capturing_) {
        capture_.Append(std::string_view(buffer_).substr(0, done));
        captured_total_ += done;
      }
      size_ += done;
      written_lsn_ += done;
      buffer_.erase(0, done);
    }
  }
  return error;
}

namespace {

int64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

int LogWriter::SyncNow() {
  auto start = std::chrono::steady_clock::now();
  int r = file_->Sync();
  int64_t took = MicrosSince(start);
  sync_state_->last_micros.store(took, std::memory_order_release);
  sync_state_->latency.Record(took);
  if (r == 0) {
    synced_size_ = size_;
    sync_state_->Raise(written_lsn_);
  }
  return r;
}

bool LogWriter::StartSync() {
  if (sync_in_flight()) return false;
  sync_state_->in_flight.store(true, std::memory_order_release);
  synced_size_ = size_;
  syncer_->Run([state = sync_state_, file = file_, target = written_lsn_] {
    auto start = std::chrono::steady_clock::now();
    int r = file->Sync();
    int64_t took = MicrosSince(start);
    state->last_micros.store(took, std::memory_order_release);
    state->latency.Record(took);
    if (r == 0) state->Raise(target);
    // A sync that succeeds covers everything an earlier failed one should
    // have: the failure is over.
    state->error.store(r, std::memory_order_release);
    state->in_flight.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->wake) state->wake();
  });
  return true;
}

}  // namespace lockd::aof
