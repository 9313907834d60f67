// BackgroundSync: one thread that runs slow file work in order, so that the
// event loop never waits on the disk for it: the log's syncs (LogWriter
// gives them a thread of their own), the rewrite's rounds, and the release
// of replaced log files (closing a large file can block).
#pragma once

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

  // Queues the release (close) of `file`, after the jobs queued before it.
  void Close(std::shared_ptr<LogFile> file);
  // Queues any other slow file work (a sync, the rewrite's bulk append).
  void Run(std::function<void()> work);

 private:
  struct Job {
    std::shared_ptr<LogFile> file;
    std::function<void()> work;
  };
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lockd::aof
