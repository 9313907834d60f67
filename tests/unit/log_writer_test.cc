// Tests for LogWriter on the in-memory file: one write per buffer, a failed
// write keeps the records, a short write is cut back to the last whole
// record, a cut that fails never rewrites the bytes already written, and the
// rewrite capture holds exactly the bytes written after it started.
#include "aof/log_writer.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "aof/background_sync.h"
#include "aof/log_reader.h"
#include "aof/record.h"
#include "fake_files.h"

namespace lockd {
namespace {

constexpr const char* kPath = "/fake/appendonly.aof";

std::string Grant(const std::string& key, uint64_t token) {
  std::string out;
  aof::AppendGrant(&out, ChangeKind::kGrant, key, "holder-" + key, token, 1'700'000'000'000);
  return out;
}

struct WriterFixture {
  explicit WriterFixture(std::string initial = "") {
    fs.SetContent(kPath, std::move(initial));
    std::string error;
    std::shared_ptr<aof::LogFile> file = fs.OpenForAppend(kPath, &error);
    REQUIRE(file != nullptr);
    writer.Attach(file, file->initial_size());
    fs.ClearEvents();
  }

  FakeFileSystem fs;
  // The writer points at the background thread: declared before it, so
  // destroyed after it.
  aof::BackgroundSync background;
  aof::LogWriter writer{&background, &background};
};

TEST_CASE("log writer: the whole buffer goes out in one write") {
  WriterFixture f;
  std::string records = Grant("a", 1) + Grant("b", 2) + Grant("c", 3);
  f.writer.buffer() = records;
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.fs.Events() == std::vector<std::string>{"write " + std::to_string(records.size())});
  CHECK(f.fs.Content(kPath) == records);
  CHECK(f.writer.size() == records.size());
  CHECK_FALSE(f.writer.pending());
  CHECK(f.writer.unsynced());

  // Nothing buffered: no write at all.
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.fs.CountEvents("write") == 1);

  REQUIRE(f.writer.SyncNow() == 0);
  CHECK_FALSE(f.writer.unsynced());
}

TEST_CASE("log writer: the size counts from the file's initial size") {
  std::string old = Grant("old", 1);
  WriterFixture f(old);
  CHECK(f.writer.size() == old.size());
  f.writer.buffer() = Grant("new", 2);
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.writer.size() == old.size() + Grant("new", 2).size());
  CHECK(f.fs.Content(kPath) == old + Grant("new", 2));
}

TEST_CASE("log writer: a failed write keeps the buffer for the retry") {
  WriterFixture f(Grant("a", 1));
  uint64_t size = f.writer.size();
  std::string records = Grant("b", 2) + Grant("c", 3);
  f.writer.buffer() = records;
  f.fs.FailWrites(EIO);
  CHECK(f.writer.Write() == -EIO);
  CHECK(f.writer.buffer() == records);
  CHECK(f.writer.size() == size);
  CHECK(f.fs.Content(kPath) == Grant("a", 1));
  // Nothing was written, so nothing is cut.
  CHECK(f.fs.CountEvents("truncate") == 0);

  f.fs.FailWrites(0);
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.fs.Content(kPath) == Grant("a", 1) + records);
  CHECK_FALSE(f.writer.pending());
}

TEST_CASE("log writer: a short write is cut back to the previous size") {
  WriterFixture f(Grant("a", 1));
  const uint64_t size = f.writer.size();
  std::string records = Grant("b", 2) + Grant("c", 3);
  f.writer.buffer() = records;
  f.fs.ShortWrite(7);
  CHECK(f.writer.Write() == -ENOSPC);
  CHECK(f.fs.Events() == std::vector<std::string>{"write 7", "write-error " + std::to_string(ENOSPC),
                                                  "truncate " + std::to_string(size)});
  CHECK(f.fs.Content(kPath) == Grant("a", 1));
  CHECK(f.writer.buffer() == records);
  CHECK(f.writer.size() == size);

  REQUIRE(f.writer.Write() == 0);
  std::string content = f.fs.Content(kPath);
  CHECK(content == Grant("a", 1) + records);
  CHECK(aof::CheckLog(content).result == aof::LogReader::Result::kEnd);
  CHECK(f.writer.size() == content.size());
}

TEST_CASE("log writer: when the cut fails, the written prefix leaves the buffer") {
  WriterFixture f(Grant("a", 1));
  const uint64_t size = f.writer.size();
  std::string records = Grant("b", 2) + Grant("c", 3);
  f.writer.buffer() = records;
  f.fs.ShortWrite(7);
  f.fs.FailTruncate(EIO);
  CHECK(f.writer.Write() == -ENOSPC);
  CHECK(f.fs.CountEvents("truncate-error") == 1);
  // The 7 bytes stay in the file; the retry must continue after them, not
  // write them a second time.
  CHECK(f.fs.Content(kPath) == Grant("a", 1) + records.substr(0, 7));
  CHECK(f.writer.buffer() == records.substr(7));
  CHECK(f.writer.size() == size + 7);

  REQUIRE(f.writer.Write() == 0);
  std::string content = f.fs.Content(kPath);
  CHECK(content == Grant("a", 1) + records);
  CHECK(aof::CheckLog(content).result == aof::LogReader::Result::kEnd);
  CHECK(f.writer.size() == content.size());
}

TEST_CASE("log writer: the capture holds exactly the bytes written after it started") {
  WriterFixture f;
  f.writer.buffer() = Grant("before", 1);
  REQUIRE(f.writer.Write() == 0);
  // Buffered but not yet written when the capture starts: it is written
  // after, so it belongs in the capture.
  f.writer.buffer() = Grant("pending", 2);
  f.writer.StartCapture();
  CHECK(f.writer.capturing());
  CHECK(f.writer.capture().empty());
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.writer.capture().ToString() == Grant("pending", 2));

  // A failed write adds nothing.
  f.writer.buffer() = Grant("x", 3);
  f.fs.FailWrites(ENOSPC, 1);
  CHECK(f.writer.Write() == -ENOSPC);
  CHECK(f.writer.capture().ToString() == Grant("pending", 2));
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.writer.capture().ToString() == Grant("pending", 2) + Grant("x", 3));

  // A short write that is cut back adds nothing either.
  f.writer.buffer() = Grant("y", 4);
  f.fs.ShortWrite(5);
  CHECK(f.writer.Write() == -ENOSPC);
  CHECK(f.writer.capture().ToString() == Grant("pending", 2) + Grant("x", 3));
  REQUIRE(f.writer.Write() == 0);

  // A short write that stays (the cut failed) is captured once, in pieces.
  f.writer.buffer() = Grant("z", 5);
  f.fs.ShortWrite(5);
  f.fs.FailTruncate(EIO);
  CHECK(f.writer.Write() == -ENOSPC);
  REQUIRE(f.writer.Write() == 0);

  std::string written_after = Grant("pending", 2) + Grant("x", 3) + Grant("y", 4) + Grant("z", 5);
  CHECK(f.writer.capture().ToString() == written_after);
  CHECK(f.fs.Content(kPath) == Grant("before", 1) + written_after);

  f.writer.StopCapture();
  CHECK_FALSE(f.writer.capturing());
  CHECK(f.writer.capture().empty());
  f.writer.buffer() = Grant("after", 6);
  REQUIRE(f.writer.Write() == 0);
  CHECK(f.writer.capture().empty());
}

TEST_CASE("log writer: a failed sync leaves the bytes unsynced") {
  WriterFixture f;
  f.writer.buffer() = Grant("a", 1);
  REQUIRE(f.writer.Write() == 0);
  f.fs.FailSyncs(EIO);
  CHECK(f.writer.SyncNow() == -EIO);
  CHECK(f.writer.unsynced());
  f.fs.FailSyncs(0);
  CHECK(f.writer.SyncNow() == 0);
  CHECK_FALSE(f.writer.unsynced());
}

}  // namespace
}  // namespace lockd
