// RewriteTail on the fake file layer: however fast the loop logs during the
// end of a rewrite, the loop thread itself never appends more than
// kMaxLoopBytes of captured tail to the new file (the background thread
// appends the rest, in rounds), and the new file ends up holding the
// snapshot followed by exactly what the old log received meanwhile.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aof/background_sync.h"
#include "aof/log_file.h"
#include "aof/log_writer.h"
#include "aof/rewrite_tail.h"
#include "fake_files.h"

namespace lockd {
namespace {

// Wraps the fake file system and remembers, for every write to `watched`,
// its size and whether the test's (the loop's) thread made it.
class ThreadRecordingFiles final : public aof::FileSystem {
 public:
  ThreadRecordingFiles(FakeFileSystem* inner, std::string watched)
      : inner_(inner), watched_(std::move(watched)), loop_(std::this_thread::get_id()) {}

  std::shared_ptr<aof::LogFile> OpenForAppend(const std::string& path,
                                              std::string* error) override {
    std::shared_ptr<aof::LogFile> file = inner_->OpenForAppend(path, error);
    if (file == nullptr || path != watched_) return file;
    return std::make_shared<Recording>(this, std::move(file));
  }
  int RenameDurably(const std::string& from, const std::string& to) override {
    return inner_->RenameDurably(from, to);
  }

  size_t largest_loop_write() const {
    std::lock_guard<std::mutex> lock(mu_);
    return largest_loop_write_;
  }
  size_t loop_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return loop_bytes_;
  }
  size_t background_writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return background_writes_;
  }

 private:
  class Recording final : public aof::LogFile {
   public:
    Recording(ThreadRecordingFiles* owner, std::shared_ptr<aof::LogFile> inner)
        : owner_(owner), inner_(std::move(inner)) {}
    ssize_t Write(const char* data, size_t n) override {
      ssize_t w = inner_->Write(data, n);
      std::lock_guard<std::mutex> lock(owner_->mu_);
      if (std::this_thread::get_id() == owner_->loop_) {
        owner_->largest_loop_write_ = std::max(owner_->largest_loop_write_, n);
        owner_->loop_bytes_ += n;
      } else {
        ++owner_->background_writes_;
      }
      return w;
    }
    int Sync() override { return inner_->Sync(); }
    int Truncate(uint64_t size) override { return inner_->Truncate(size); }
    uint64_t initial_size() const override { return inner_->initial_size(); }

   private:
    ThreadRecordingFiles* owner_;
    std::shared_ptr<aof::LogFile> inner_;
  };

  FakeFileSystem* inner_;
  std::string watched_;
  std::thread::id loop_;
  mutable std::mutex mu_;
  size_t largest_loop_write_ = 0;
  size_t loop_bytes_ = 0;
  size_t background_writes_ = 0;
};

// One iteration's records: `bytes` long, distinct from every other.
std::string Records(int iteration, size_t bytes) {
  std::string out = "<" + std::to_string(iteration) + ">";
  out.resize(bytes, static_cast<char>('a' + iteration % 26));
  return out;
}

// One rewrite's end while the loop logs `per_iteration` bytes an iteration
// for `busy` iterations, then nothing. In each iteration the loop may append
// to the new file at most kMaxLoopBytes beyond what it logged itself.
void RunTail(size_t per_iteration, int busy) {
  const std::string kOld = "appendonly.aof";
  const std::string kTemp = "temp-rewriteaof-bg-1.aof";
  FakeFileSystem fake;
  ThreadRecordingFiles files(&fake, kTemp);
  aof::BackgroundSync background;
  aof::LogWriter writer(&background, &background);
  std::string error;
  writer.Attach(fake.OpenForAppend(kOld, &error), 0);
  fake.SetContent(kTemp, "SNAPSHOT;");  // what the child wrote
  // Background rounds are slow (each syncs): plenty is logged meanwhile.
  fake.DelaySyncs(10);

  writer.StartCapture();
  writer.buffer() += Records(999, 4 << 20);  // logged while the child ran
  REQUIRE(writer.Write() == 0);
  aof::RewriteTail tail(&files, &background, kTemp);
  aof::RewriteTail::Step step = aof::RewriteTail::Step::kRunning;
  int iteration = 0;
  size_t worst_excess = 0;  // loop bytes in one iteration beyond its own
  while (step == aof::RewriteTail::Step::kRunning && iteration < 1000) {
    size_t own = iteration < busy ? per_iteration : 0;
    if (own > 0) writer.buffer() += Records(iteration, own);
    REQUIRE(writer.Write() == 0);
    size_t before = files.loop_bytes();
    step = tail.Advance(&writer);
    size_t wrote = files.loop_bytes() - before;
    if (wrote > own) worst_excess = std::max(worst_excess, wrote - own);
    ++iteration;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(step == aof::RewriteTail::Step::kReady);
  CHECK(worst_excess <= aof::RewriteTail::kMaxLoopBytes);
  CHECK(files.background_writes() >= 1);
  // The new file: the snapshot, then everything the old log received since
  // the capture began, in order; its size as reported.
  std::string expected = "SNAPSHOT;" + fake.Content(kOld);
  std::string got = fake.Content(kTemp);
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
  CHECK(tail.size() == expected.size());
  std::shared_ptr<aof::LogFile> file = tail.TakeFile();
  CHECK(file != nullptr);
}

TEST_CASE("rewrite tail: the loop never appends more than 1 MB of captured tail") {
  // Records keep coming faster than background rounds move them: the loop
  // chases, and the rewrite ends while they still come.
  SUBCASE("1.5 MB an iteration, without pause") { RunTail(size_t{3} << 19, 1000); }
  SUBCASE("3 MB an iteration, then quiet") { RunTail(size_t{3} << 20, 20); }
  SUBCASE("200 KB an iteration, then quiet") { RunTail(size_t{200} << 10, 40); }
}

TEST_CASE("rewrite tail: a failing background append fails the rewrite") {
  FakeFileSystem fake;
  aof::BackgroundSync background;
  aof::LogWriter writer(&background, &background);
  std::string error;
  writer.Attach(fake.OpenForAppend("old", &error), 0);
  writer.StartCapture();
  writer.buffer() += "records";
  REQUIRE(writer.Write() == 0);
  fake.FailSyncs(5);  // EIO
  aof::RewriteTail tail(&fake, &background, "temp");
  aof::RewriteTail::Step step = aof::RewriteTail::Step::kRunning;
  for (int i = 0; i < 2000 && step == aof::RewriteTail::Step::kRunning; ++i) {
    step = tail.Advance(&writer);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(step == aof::RewriteTail::Step::kFailed);
  CHECK(!tail.error().empty());
}

}  // namespace
}  // namespace lockd
