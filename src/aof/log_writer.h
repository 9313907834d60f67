// LogWriter: the log's tail end. Records are encoded into buffer() during a
// loop iteration; Write() appends them to the file in one write, and the
// caller syncs according to appendfsync (group commit). A failed or short
// write is cut back so the file never holds a partial record that a later
// write would continue; the bytes stay buffered for the next attempt.
//
// While a rewrite runs, everything written is also captured, so that the
// rewrite can append it to the new log before the switch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aof/background_sync.h"
#include "aof/log_file.h"

namespace lockd::aof {

class LogWriter {
 public:
  explicit LogWriter(BackgroundSync* background) : background_(background) {}

  // Starts writing to `file`, which holds `size` bytes, all synced. The
  // file replaced, if any, is closed on the background thread.
  void Attach(std::shared_ptr<LogFile> file, uint64_t size);
  bool attached() const { return file_ != nullptr; }

  // Where records are encoded; written by the next Write().
  std::string& buffer() { return buffer_; }
  const std::string& buffer() const { return buffer_; }
  bool pending() const { return !buffer_.empty(); }

  // Writes the whole buffer. 0, or -errno: then the file is as it was before
  // the call (or, when it cannot be cut back, the written part has left the
  // buffer) and the rest of the buffer is kept.
  int Write();
  // fdatasync on this thread. 0 or -errno.
  int SyncNow();
  // fdatasync on the background thread (appendfsync everysec).
  void SyncInBackground();
  // Bytes written since the last sync started.
  bool unsynced() const { return size_ != synced_size_; }

  uint64_t size() const { return size_; }

  // Rewrite support: from StartCapture on, every byte written is also kept
  // in capture(); StopCapture drops it.
  void StartCapture() {
    capturing_ = true;
    capture_.clear();
    captured_total_ = 0;
  }
  void StopCapture() {
    capturing_ = false;
    std::string().swap(capture_);
  }
  bool capturing() const { return capturing_; }
  // Hands over what was captured so far; capturing goes on.
  std::string TakeCapture() {
    std::string taken;
    taken.swap(capture_);
    return taken;
  }
  const std::string& capture() const { return capture_; }
  // Drops the first `n` captured bytes (already moved to the new file).
  void DropCapturePrefix(size_t n) { capture_.erase(0, n); }
  // Bytes captured since StartCapture, whether taken or dropped since.
  uint64_t captured_total() const { return captured_total_; }

 private:
  BackgroundSync* background_;
  std::shared_ptr<LogFile> file_;
  std::string buffer_;
  uint64_t size_ = 0;
  uint64_t synced_size_ = 0;
  bool capturing_ = false;
  std::string capture_;
  uint64_t captured_total_ = 0;
};

}  // namespace lockd::aof
