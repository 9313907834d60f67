// Fuzz target: the log reader's verdict and the loader, on arbitrary bytes.
//
// The verdict (DESIGN.md, "Damage") must be self-consistent:
//   - kEnd: valid_end is the file's length;
//   - kTruncated: cutting the file at valid_end leaves a log that reads to
//     its end, with no more records than the whole file gave;
//   - kDamaged: the bytes before the damaged record read as a valid log (to
//     its end or torn only by an open MULTI);
//   - a file that is not damaged has no damaged prefix: a crash can only cut
//     a valid log, never make it look damaged.
// Then the loader replays the same bytes from a real file into an engine,
// in slices of a fuzzer-chosen size, and must reach the same verdict after
// the same number of records; the engine's invariants must hold after the
// load and while its timers run forward.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "aof/loader.h"
#include "aof/log_reader.h"
#include "engine_checks.h"
#include "lockd/clock.h"
#include "lockd/engine.h"
#include "temp_dir.h"

namespace lockd {
namespace {

using aof::LogCheck;
using aof::LogReader;
using fuzz::Broken;

std::string g_path;  // the log file the loader maps, in a private temp dir

bool WriteFile(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return done == data.size();
}

void CheckVerdict(std::string_view data, size_t prefix) {
  LogCheck check = aof::CheckLog(data);
  if (check.valid_end > data.size()) Broken("valid_end past the end of the file");
  switch (check.result) {
    case LogReader::Result::kEnd:
      if (check.valid_end != data.size()) Broken("kEnd before the end of the file");
      break;
    case LogReader::Result::kTruncated: {
      LogCheck cut = aof::CheckLog(data.substr(0, check.valid_end));
      if (cut.result != LogReader::Result::kEnd) Broken("cutting a torn tail does not end cleanly");
      if (cut.records > check.records) Broken("the cut log has more records");
      break;
    }
    case LogReader::Result::kDamaged: {
      if (check.error.empty()) Broken("damage without a message");
      if (check.error_offset > data.size() || check.error_offset < check.valid_end) {
        Broken("damage offset outside [valid_end, size]");
      }
      LogCheck before = aof::CheckLog(data.substr(0, check.error_offset));
      if (before.result == LogReader::Result::kDamaged) Broken("damage before the damage offset");
      break;
    }
    case LogReader::Result::kRecord:
      Broken("CheckLog returned kRecord");
  }
  if (check.result != LogReader::Result::kDamaged) {
    LogCheck part = aof::CheckLog(data.substr(0, prefix % (data.size() + 1)));
    if (part.result == LogReader::Result::kDamaged) Broken("a prefix of an undamaged log is damaged");
  }

  // Once done, the reader keeps its verdict.
  LogReader reader(data);
  aof::Record record;
  LogReader::Result r;
  while ((r = reader.Next(&record)) == LogReader::Result::kRecord) {
  }
  if (reader.Next(&record) != r || r != check.result) Broken("the verdict is not sticky");
}

void Load(std::string_view data, size_t slice, uint64_t advance_ms) {
  if (!WriteFile(g_path, data)) Broken("cannot write the temp file");
  ManualClock clock;
  struct NoWaits final : WaitListener {
    void OnWaitGranted(void*, Token) override { Broken("a waiter during replay"); }
    void OnWaitTimedOut(void*) override { Broken("a waiter during replay"); }
  } waits;
  EngineOptions options;
  options.partitions = 4;
  options.hash_seed = 1;
  Engine engine(options, &waits, nullptr);
  aof::LogLoader loader(g_path, &engine, &clock);
  if (!loader.Open().ok()) Broken("Open failed");
  while (loader.Run(slice) == aof::LogLoader::Step::kMore) {
  }
  LogCheck check = aof::CheckLog(data);
  if (loader.verdict() != check.result) Broken("loader and CheckLog disagree on the verdict");
  if (loader.records() != check.records) Broken("loader and CheckLog count different records");
  loader.Close();
  if (check.result == LogReader::Result::kDamaged) return;  // the server stops here
  // As Durability::FinishLoad: tokens resume above every token named.
  engine.RaiseLastToken(loader.max_token());
  if (engine.last_token() < loader.max_token()) Broken("RaiseLastToken did not raise");
  fuzz::CheckEngine(engine, clock.Now(), /*distinct_tokens=*/false);
  // Run the timers forward in a few steps: expired leases go, others stay.
  for (int step = 0; step < 4; ++step) {
    fuzz::DrainTimers(engine, clock.Now());
    fuzz::CheckEngine(engine, clock.Now(), false);
    clock.AdvanceMillis(static_cast<int64_t>(advance_ms << (step * 8)));
  }
  // Grants after a replay never reuse a token.
  Token before = engine.last_token();
  AcquireResult r = engine.Acquire("fuzz-new-key-\xff", "h", 1000, clock.Now());
  if (r.outcome == AcquireOutcome::kGranted && r.token <= before) Broken("a token was reused");
}

}  // namespace
}  // namespace lockd

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = lockd::fuzz::MakeScratchDir("log");
  if (dir.empty()) return 1;
  lockd::g_path = dir + "/appendonly.aof";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  // The first four bytes steer (slice size, clock steps, the prefix to
  // check); the rest is the file. Short inputs are all file.
  size_t slice = 1, prefix = 0;
  uint64_t advance_ms = 1;
  if (size > 4) {
    slice = 1 + bytes[0] % 32;
    advance_ms = 1 + bytes[1];
    prefix = static_cast<size_t>(bytes[2]) << 8 | bytes[3];
    bytes += 4;
    size -= 4;
  }
  std::string_view data(reinterpret_cast<const char*>(bytes), size);
  lockd::CheckVerdict(data, prefix);
  lockd::Load(data, slice, advance_ms);
  return 0;
}
