// RewriteTail: background rounds, then a final step bounded by
// kMaxLoopBytes (see rewrite_tail.h).
#include "aof/rewrite_tail.h"

#include <cstring>
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
    int r = WriteAll(*round->file, round->data);
    if (r == 0) r = round->file->Sync();
    if (r != 0) round->error = strerror(-r);
    round->size = before + round->data.size();
    round->done.store(true, std::memory_order_release);
  });
}

RewriteTail::Step RewriteTail::Advance(LogWriter* writer) {
  if (!error_.empty()) return Step::kFailed;
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
  // more than the loop may write itself.
  if (file_ == nullptr || writer->capture().size() > kMaxLoopBytes) {
    StartRound(writer);
    return Step::kRunning;
  }
  // The final step: at most kMaxLoopBytes, then a sync that covers them.
  const std::string& rest = writer->capture();
  int r = WriteAll(*file_, rest);
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
