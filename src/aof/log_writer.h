// LogWriter: the log's tail end. Records are encoded into buffer() during a
// loop iteration; Write() appends them to the file in one write, and the
// caller syncs according to appendfsync (group commit). A failed or short
// write is cut back so the file never holds a partial record that a later
// write would continue; the bytes stay buffered for the next attempt.
//
// Syncs run on a thread of their own (`syncer`), never on the loop: the
// loop goes on serving while a sync is in flight, and replies that must wait
// for it are held by position (see Server's output holds). Positions are log
// sequence numbers: bytes written since the process started, across log
// files, so that a reply can name the point it waits for.
//
// While a rewrite runs, everything written is also captured, so that the
// rewrite can append it to the new log before the switch.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "aof/background_sync.h"
#include "aof/capture_buffer.h"
#include "aof/log_file.h"

namespace lockd::aof {

// How long the log's fdatasyncs took, in fixed buckets (for the /metrics
// histogram). Recorded on the sync thread or the loop, read on the loop:
// each count is an atomic of its own, and a reader sums them in one pass.
class SyncLatency {
 public:
  static constexpr size_t kBuckets = 13;
  static constexpr int64_t kBoundsMicros[kBuckets] = {
      100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};

  void Record(int64_t micros) {
    size_t b = 0;
    while (b < kBuckets && micros > kBoundsMicros[b]) ++b;
    counts_[b].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<uint64_t>(micros < 0 ? 0 : micros),
                          std::memory_order_relaxed);
    int64_t worst = worst_unread_.load(std::memory_order_relaxed);
    while (micros > worst && !worst_unread_.compare_exchange_weak(worst, micros,
                                                                  std::memory_order_relaxed)) {
    }
  }
  // The longest sync since the last call (0 when none), for LATENCY's
  // "aof-fsync-always" event: the loop reads it once per commit.
  int64_t TakeWorst() { return worst_unread_.exchange(0, std::memory_order_relaxed); }
  struct Snapshot {
    uint64_t at_most[kBuckets] = {};  // cumulative: syncs that took <= kBoundsMicros[i]
    uint64_t count = 0;
    uint64_t sum_micros = 0;
  };
  Snapshot Read() const {
    Snapshot s;
    uint64_t seen = 0;
    for (size_t b = 0; b <= kBuckets; ++b) {
      seen += counts_[b].load(std::memory_order_relaxed);
      if (b < kBuckets) s.at_most[b] = seen;
    }
    s.count = seen;
    s.sum_micros = sum_micros_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  std::atomic<uint64_t> counts_[kBuckets + 1] = {};  // the last: longer than every bound
  std::atomic<uint64_t> sum_micros_{0};
  std::atomic<int64_t> worst_unread_{0};
};

class LogWriter {
 public:
  // `closer` drops replaced files; `syncer` runs the syncs.
  LogWriter(BackgroundSync* closer, BackgroundSync* syncer)
      : background_(closer), syncer_(syncer), sync_state_(std::make_shared<SyncState>()) {}

  // Starts writing to `file`, which holds `size` bytes, all synced (so
  // everything written before is durable now). The file replaced, if any,
  // is closed on the background thread.
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
  // Starts an fdatasync of everything written so far on the sync thread,
  // unless one is in flight (then false: start it again when that one is
  // done). Its end wakes the loop through the wake hook.
  bool StartSync();
  bool sync_in_flight() const { return sync_state_->in_flight.load(std::memory_order_acquire); }
  // The result of the last sync that finished on the sync thread: 0, or
  // -errno until a later sync succeeds.
  int sync_error() const { return sync_state_->error.load(std::memory_order_acquire); }
  // How long the last sync took, on either thread, in microseconds.
  int64_t last_sync_micros() const {
    return sync_state_->last_micros.load(std::memory_order_acquire);
  }
  const SyncLatency& sync_latency() const { return sync_state_->latency; }
  int64_t TakeWorstSyncMicros() { return sync_state_->latency.TakeWorst(); }
  // Log sequence numbers: bytes written, and bytes known on disk.
  uint64_t written_lsn() const { return written_lsn_; }
  uint64_t durable_lsn() const { return sync_state_->durable.load(std::memory_order_acquire); }
  // Called on the sync thread when a sync ends (null: nobody to tell).
  void set_wake(std::function<void()> wake) {
    std::lock_guard<std::mutex> lock(sync_state_->mu);
    sync_state_->wake = std::move(wake);
  }
  // Bytes written since the last sync started.
  bool unsynced() const { return size_ != synced_size_; }

  uint64_t size() const { return size_; }

  // Rewrite support: from StartCapture on, every byte written is also kept
  // in capture(); StopCapture drops it.
  void StartCapture() {
    capturing_ = true;
    capture_.Clear();
    captured_total_ = 0;
  }
  void StopCapture() {
    capturing_ = false;
    capture_.Clear();
  }
  bool capturing() const { return capturing_; }
  // Hands over what was captured so far; capturing goes on.
  CaptureBuffer TakeCapture() { return capture_.Take(); }
  const CaptureBuffer& capture() const { return capture_; }
  // Drops the first `n` captured bytes (already moved to the new file).
  void DropCapturePrefix(size_t n) { capture_.DropPrefix(n); }
  // Bytes captured since StartCapture, whether taken or dropped since.
  uint64_t captured_total() const { return captured_total_; }

 private:
  // Shared with the sync thread's jobs, which may end after the writer.
  struct SyncState {
    std::atomic<uint64_t> durable{0};
    std::atomic<bool> in_flight{false};
    std::atomic<int> error{0};
    std::atomic<int64_t> last_micros{0};  // how long the last sync took
    SyncLatency latency;
    std::mutex mu;  // guards wake
    std::function<void()> wake;

    void Raise(uint64_t lsn) {
      uint64_t seen = durable.load(std::memory_order_acquire);
      while (seen < lsn && !durable.compare_exchange_weak(seen, lsn)) {
      }
    }
  };

  BackgroundSync* background_;
  BackgroundSync* syncer_;
  std::shared_ptr<SyncState> sync_state_;
  uint64_t written_lsn_ = 0;
  std::shared_ptr<LogFile> file_;
  std::string buffer_;
  uint64_t size_ = 0;
  uint64_t synced_size_ = 0;
  bool capturing_ = false;
  CaptureBuffer capture_;
  uint64_t captured_total_ = 0;
};

}  // namespace lockd::aof
