// RewriteTail: background rounds, then a final step bounded by
// kMaxLoopBytes (see rewrite_tail.h).
#include "aof/rewrite_tail.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

namespace lockd::aof {

RewriteTail::RewriteTail(FileSystem* fs, BackgroundSync* background, std::string temp_path)
    : fs_(fs), background_(background), temp_path_(std::move(temp_path)) {}

void RewriteTail::StartRound(LogWriter* writer) {
  round_ = std::make_shared<Round>();
  round_->data = writer->TakeCapture();
  round_->file = file_;
  ++rounds_;
  background_->Run([round = round_, fs = fs_, path = temp_path_, start = size_] {
    std::string error;
    if (round->file == nullptr) {
      round->file = fs->OpenForAppend(path, &error);
      if (round->file == nullptr) {
        round->error = "open: " + error;
        round->done.store(true, std::memory_order_release);
        return;
      }
    }
    uint64_t before = start == 0 ? round->file->initial_size() : start;
    int r = 0;
    round->data.ForEachRun(round->data.size(), [&](std::string_view run) {
      if (r == 0) r = WriteAll(*round->file, run);
    });
    if (r == 0) r = round->file->Sync();
    if (r != 0) round->error = strerror(-r);
    round->size = before + round->data.size();
    round->done.store(true, std::memory_order_release);
  });
}

RewriteTail::Step RewriteTail::Advance(LogWriter* writer) {
  if (!error_.empty()) return Step::kFailed;
  // What the loop logged since the last call: in chase mode it may append
  // that much beyond kMaxLoopBytes, since it wrote it to the old log anyway.
  const uint64_t own = writer->captured_total() - seen_total_;
  seen_total_ = writer->captured_total();
  if (chasing_) {
    if (!Chase(writer, own)) return Step::kFailed;
    if (!writer->capture().empty()) return Step::kRunning;
    return Finish(writer);
  }
  if (round_ != nullptr) {
    if (!round_->done.load(std::memory_order_acquire)) return Step::kRunning;
    std::shared_ptr<Round> round = std::move(round_);
    if (!round->error.empty()) {
      error_ = round->error;
      return Step::kFailed;
    }
    file_ = std::move(round->file);
    size_ = round->size;
    background_bytes_ += round->data.size();
  }
  // The first round always runs in the background (it opens the file and
  // holds the bulk of the capture); later rounds run as long as the rest is
  // more than the loop may write itself, up to kMaxRounds.
  if (file_ == nullptr ||
      (writer->capture().size() > kMaxLoopBytes && rounds_ < kMaxRounds)) {
    StartRound(writer);
    return Step::kRunning;
  }
  if (writer->capture().size() > kMaxLoopBytes) {
    chasing_ = true;
    syncing_ = std::make_shared<std::atomic<bool>>(false);
    // This call's budget is kMaxLoopBytes alone: what was logged during the
    // last round is backlog, not this iteration's own records.
    if (!Chase(writer, 0)) return Step::kFailed;
    return Step::kRunning;
  }
  return Finish(writer);
}

bool RewriteTail::Chase(LogWriter* writer, uint64_t own) {
  size_t n = std::min<uint64_t>(writer->capture().size(), kMaxLoopBytes + own);
  int r = 0;
  writer->capture().ForEachRun(n, [&](std::string_view run) {
    if (r == 0) r = WriteAll(*file_, run);
  });
  if (r != 0) {
    error_ = strerror(-r);
    return false;
  }
  // Moved bytes leave the capture at once: dropping whole chunks moves
  // nothing.
  writer->DropCapturePrefix(n);
  size_ += n;
  loop_bytes_ += n;
  // Keep the file's unsynced data small, so the final sync in the loop is.
  if (!syncing_->load(std::memory_order_acquire) && !writer->capture().empty()) {
    syncing_->store(true, std::memory_order_release);
    background_->Run([file = file_, flag = syncing_] {
      (void)file->Sync();  // a failure shows in the final sync
      flag->store(false, std::memory_order_release);
    });
  }
  return true;
}

RewriteTail::Step RewriteTail::Finish(LogWriter* writer) {
  // The final step: the rest of the capture (at most kMaxLoopBytes; none
  // when chasing got to its end), then a sync that covers the whole file.
  const CaptureBuffer& rest = writer->capture();
  int r = 0;
  rest.ForEachRun(rest.size(), [&](std::string_view run) {
    if (r == 0) r = WriteAll(*file_, run);
  });
  if (r == 0) r = file_->Sync();
  if (r != 0) {
    error_ = strerror(-r);
    return Step::kFailed;
  }
  size_ += rest.size();
  loop_bytes_ += rest.size();
  return Step::kReady;
}

}  // namespace lockd::aof
