// BackgroundSync: one thread that runs fdatasync for `appendfsync everysec`
// and drops replaced log files (closing a large file can block), so that the
// event loop never waits on the disk for them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "aof/log_file.h"

namespace lockd::aof {

class BackgroundSync {
 public:
  BackgroundSync();
  ~BackgroundSync();  // finishes queued jobs, then joins
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;

  // Queues an fdatasync of `file`.
  void Sync(std::shared_ptr<LogFile> file);
  // Queues the release (close) of `file`, after the jobs queued before it.
  void Close(std::shared_ptr<LogFile> file);
  // Queues any other slow file work (the rewrite's bulk append and sync).
  void Run(std::function<void()> work);

  // Syncs queued or running.
  int pending() const { return pending_.load(std::memory_order_acquire); }
  // The result of the last background sync that finished: 0 or -errno.
  int last_error() const { return last_error_.load(std::memory_order_acquire); }
  // A sync on the loop thread covered everything: the failure is over.
  void ClearError() { last_error_.store(0, std::memory_order_release); }

 private:
  struct Job {
    std::shared_ptr<LogFile> file;
    bool sync = false;
    std::function<void()> work;
  };
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::atomic<int> pending_{0};
  std::atomic<int> last_error_{0};
  std::thread thread_;
};

}  // namespace lockd::aof
