// FakeFileSystem: an in-memory aof::FileSystem for tests. Files are strings;
// every operation is appended to one ordered event list, so that a test can
// check the order of writes, syncs and the replies it saw (AddEvent), and
// knobs inject the failures a real disk produces: failed and short writes,
// failed and slow syncs, a truncate that fails.
//
// Thread-safe: the server's loop thread writes, its background thread syncs
// and the test thread reads, all under one mutex (a slow sync sleeps outside
// it). Files share their state with the file system by shared_ptr, so a file
// the server still holds stays valid whatever the order of destruction.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "aof/log_file.h"

namespace lockd {

class FakeFileSystem final : public aof::FileSystem {
 public:
  FakeFileSystem() : state_(std::make_shared<State>()) {}

  // ---- aof::FileSystem ----

  std::shared_ptr<aof::LogFile> OpenForAppend(const std::string& path,
                                              std::string* error) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->open_error != 0) {
      state_->events.push_back("open-error " + std::to_string(state_->open_error));
      *error = "injected open failure";
      return nullptr;
    }
    std::shared_ptr<std::string>& data = state_->files[path];
    if (data == nullptr) data = std::make_shared<std::string>();
    state_->events.push_back("open");
    return std::make_shared<File>(state_, data);
  }

  int RenameDurably(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->files.find(from);
    if (it == state_->files.end()) return -ENOENT;
    state_->files[to] = it->second;
    state_->files.erase(it);
    state_->events.push_back("rename");
    return 0;
  }

  // ---- Knobs ----

  // The next `count` writes (all when -1) fail with `error` (positive
  // errno); FailWrites(0) makes writes work again.
  void FailWrites(int error, int count = -1) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->write_error = error;
    state_->write_error_count = count;
  }
  // The next write stores only the first `bytes` bytes (and says so); the
  // write after it fails with ENOSPC, as a filling disk does.
  void ShortWrite(size_t bytes) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->short_write = true;
    state_->short_write_bytes = bytes;
  }
  // Syncs fail with `error` (positive errno) until FailSyncs(0).
  void FailSyncs(int error) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->sync_error = error;
  }
  // Each sync takes `ms` milliseconds.
  void DelaySyncs(int ms) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->sync_delay_ms = ms;
  }
  // Truncates fail with `error` (positive errno) until FailTruncate(0).
  void FailTruncate(int error) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->truncate_error = error;
  }
  // Opens fail with `error` until FailOpen(0).
  void FailOpen(int error) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->open_error = error;
  }

  // ---- Observations ----

  // Appends the test's own event ("reply") to the list.
  void AddEvent(std::string what) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->events.push_back(std::move(what));
  }
  // Appends an event and returns the content of `path` at that same moment.
  std::string Mark(std::string what, const std::string& path) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->events.push_back(std::move(what));
    auto it = state_->files.find(path);
    return it == state_->files.end() ? std::string() : *it->second;
  }
  std::vector<std::string> Events() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->events;
  }
  size_t CountEvents(std::string_view prefix) const {
    std::lock_guard<std::mutex> lock(state_->mu);
    size_t n = 0;
    for (const std::string& e : state_->events) n += e.starts_with(prefix) ? 1 : 0;
    return n;
  }
  void ClearEvents() {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->events.clear();
  }
  std::string Content(const std::string& path) const {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->files.find(path);
    return it == state_->files.end() ? std::string() : *it->second;
  }
  // Sets a file's content (a file opened later starts with it).
  void SetContent(const std::string& path, std::string data) {
    std::lock_guard<std::mutex> lock(state_->mu);
    std::shared_ptr<std::string>& file = state_->files[path];
    if (file == nullptr) file = std::make_shared<std::string>();
    *file = std::move(data);
  }

 private:
  struct State {
    mutable std::mutex mu;
    std::map<std::string, std::shared_ptr<std::string>> files;
    std::vector<std::string> events;
    int write_error = 0;
    int write_error_count = -1;
    bool short_write = false;
    size_t short_write_bytes = 0;
    bool enospc_next = false;  // the write after a short one
    int sync_error = 0;
    int sync_delay_ms = 0;
    int truncate_error = 0;
    int open_error = 0;
  };

  class File final : public aof::LogFile {
   public:
    File(std::shared_ptr<State> state, std::shared_ptr<std::string> data)
        : state_(std::move(state)), data_(std::move(data)), initial_size_(data_->size()) {}

    ssize_t Write(const char* data, size_t n) override {
      std::lock_guard<std::mutex> lock(state_->mu);
      State& s = *state_;
      if (s.enospc_next) {
        s.enospc_next = false;
        s.events.push_back("write-error " + std::to_string(ENOSPC));
        return -ENOSPC;
      }
      if (s.write_error != 0 && s.write_error_count != 0) {
        int e = s.write_error;
        if (s.write_error_count > 0 && --s.write_error_count == 0) s.write_error = 0;
        s.events.push_back("write-error " + std::to_string(e));
        return -e;
      }
      if (s.short_write) {
        s.short_write = false;
        s.enospc_next = true;
        if (s.short_write_bytes < n) n = s.short_write_bytes;
      }
      data_->append(data, n);
      s.events.push_back("write " + std::to_string(n));
      return static_cast<ssize_t>(n);
    }

    int Sync() override {
      int delay_ms;
      {
        std::lock_guard<std::mutex> lock(state_->mu);
        state_->events.push_back("sync-start");
        delay_ms = state_->sync_delay_ms;
      }
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->sync_error != 0) {
        state_->events.push_back("sync-error " + std::to_string(state_->sync_error));
        return -state_->sync_error;
      }
      state_->events.push_back("sync-done");
      return 0;
    }

    int Truncate(uint64_t size) override {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->truncate_error != 0) {
        state_->events.push_back("truncate-error " + std::to_string(state_->truncate_error));
        return -state_->truncate_error;
      }
      data_->resize(static_cast<size_t>(size));
      state_->events.push_back("truncate " + std::to_string(size));
      return 0;
    }

    uint64_t initial_size() const override { return initial_size_; }

   private:
    std::shared_ptr<State> state_;
    std::shared_ptr<std::string> data_;
    uint64_t initial_size_;
  };

  std::shared_ptr<State> state_;
};

}  // namespace lockd
