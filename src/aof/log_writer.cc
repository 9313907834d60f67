#include "aof/log_writer.h"

#include <cerrno>
#include <utility>

namespace lockd::aof {

void LogWriter::Attach(std::shared_ptr<LogFile> file, uint64_t size) {
  if (file_ != nullptr) background_->Close(std::move(file_));
  file_ = std::move(file);
  size_ = synced_size_ = size;
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
      capture_.append(buffer_);
      captured_total_ += buffer_.size();
    }
    size_ += done;
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
        capture_.append(buffer_, 0, done);
        captured_total_ += done;
      }
      size_ += done;
      buffer_.erase(0, done);
    }
  }
  return error;
}

int LogWriter::SyncNow() {
  int r = file_->Sync();
  if (r == 0) synced_size_ = size_;
  return r;
}

void LogWriter::SyncInBackground() {
  synced_size_ = size_;
  background_->Sync(file_);
}

}  // namespace lockd::aof
