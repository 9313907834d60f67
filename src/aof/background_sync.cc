#include "aof/background_sync.h"

#include <utility>

namespace lockd::aof {

BackgroundSync::BackgroundSync() : thread_([this] { Loop(); }) {}

BackgroundSync::~BackgroundSync() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void BackgroundSync::Close(std::shared_ptr<LogFile> file) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(Job{.file = std::move(file)});
  }
  cv_.notify_one();
}

void BackgroundSync::Run(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(Job{.work = std::move(work)});
  }
  cv_.notify_one();
}

void BackgroundSync::Loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and nothing left to do
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    if (job.work) job.work();
    job.file.reset();  // the last reference to a replaced log closes it here
  }
}

}  // namespace lockd::aof
