// Tests for LogReader and CheckLog: a log written with the encoders reads back
// field by field; a cut at every byte is a clean end on a record boundary
// outside a unit and a torn tail anywhere else, at the record or MULTI it
// falls in; a bad byte is damage at the start of its record, and bytes at the
// end are damage unless they could still grow into a record; absurd counts
// and lengths are refused without allocating from them.
#include "aof/log_reader.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <malloc.h>

#include <string>
#include <string_view>
#include <vector>

#include "aof/record.h"

namespace lockd::aof {
namespace {

using namespace std::string_literals;
using Result = LogReader::Result;

const char* ResultName(Result r) {
  switch (r) {
    case Result::kRecord:
      return "kRecord";
    case Result::kEnd:
      return "kEnd";
    case Result::kTruncated:
      return "kTruncated";
    case Result::kDamaged:
      return "kDamaged";
  }
  return "?";
}

// One record as read back (or as expected), with its own bytes and its place
// in the log: [begin, end).
struct Expected {
  size_t begin = 0;
  size_t end = 0;
  RecordType type = RecordType::kMulti;
  std::string key;
  std::string holder;
  uint64_t token = 0;
  int64_t unix_ms = 0;
  FreeCause cause = FreeCause::kNone;

  bool operator==(const Expected&) const = default;
};

std::string Escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

// A log written with the encoders of record.h that remembers each record.
class SampleLog {
 public:
  void Grant(std::string key, std::string holder, uint64_t token, int64_t pxat) {
    const size_t begin = data_.size();
    AppendGrant(&data_, ChangeKind::kGrant, key, holder, token, pxat);
    Add({begin, 0, RecordType::kGrant, std::move(key), std::move(holder), token, pxat});
  }
  void Extend(std::string key, std::string holder, uint64_t token, int64_t pxat) {
    const size_t begin = data_.size();
    AppendGrant(&data_, ChangeKind::kExtend, key, holder, token, pxat);
    Add({begin, 0, RecordType::kExtend, std::move(key), std::move(holder), token, pxat});
  }
  void Free(std::string key, FreeCause cause) {
    const size_t begin = data_.size();
    AppendFree(&data_, key, cause);
    Add({begin, 0, RecordType::kFree, std::move(key), "", 0, 0, cause});
  }
  void Reserve(uint64_t limit, int64_t horizon) {
    const size_t begin = data_.size();
    AppendReserve(&data_, limit, horizon);
    Add({begin, 0, RecordType::kReserve, "", "", limit, horizon});
  }
  void Shutdown(int64_t gate) {
    const size_t begin = data_.size();
    AppendShutdown(&data_, gate);
    Add({begin, 0, RecordType::kShutdown, "", "", 0, gate});
  }
  void Multi() {
    const size_t begin = data_.size();
    AppendMulti(&data_);
    Add({begin, 0, RecordType::kMulti});
  }
  void Exec() {
    const size_t begin = data_.size();
    AppendExec(&data_);
    Add({begin, 0, RecordType::kExec});
  }

  const std::string& data() const { return data_; }
  const std::vector<Expected>& records() const { return records_; }
  // The first record of `type` (there must be one).
  const Expected& First(RecordType type) const {
    for (const Expected& r : records_) {
      if (r.type == type) return r;
    }
    FAIL("no such record in the sample");
    return records_.front();
  }
  // How many records end at or before `offset`.
  size_t CountBefore(size_t offset) const {
    size_t n = 0;
    while (n < records_.size() && records_[n].end <= offset) ++n;
    return n;
  }

 private:
  void Add(Expected e) {
    e.end = data_.size();
    records_.push_back(std::move(e));
  }

  std::string data_;
  std::vector<Expected> records_;
};

// Every record type, a unit of FREE + GRANT, an empty unit, an empty key and
// keys and holders with CR, LF and NUL in them.
SampleLog MakeSample() {
  SampleLog log;
  log.Reserve(1000, 1900000000000);
  log.Grant("orders:42", "worker-1", 1, 1900000000123);
  log.Extend("orders:42", "worker-1", 1, 1900000005000);
  log.Grant("", "empty-key-holder", 2, 1900000000000);
  log.Grant("a\r\nb\0c"s, "h\r\n\0"s, 3, 0);
  log.Multi();
  log.Free("orders:42", FreeCause::kRelease);
  log.Grant("orders:42", "worker-2", 4, 1900000010000);
  log.Exec();
  log.Multi();
  log.Exec();
  log.Free("", FreeCause::kExpire);
  log.Free("a\r\nb\0c"s, FreeCause::kDelete);
  log.Grant("big", "w", 9223372036854775807ULL, 9223372036854775807LL);
  log.Reserve(1, 0);
  log.Reserve(2000, 1900000600000);
  log.Shutdown(1900000001000);
  return log;
}

// What a reader says about a whole input, and what it returned on the way.
struct Walk {
  std::vector<Expected> records;
  Result result = Result::kRecord;
  size_t valid_end = 0;
  size_t error_offset = 0;
  std::string error;
};

Walk ReadAll(std::string_view data) {
  LogReader reader(data);
  Walk walk;
  Record r;
  Result result;
  while ((result = reader.Next(&r)) == Result::kRecord) {
    walk.records.push_back({reader.record_offset(), reader.offset(), r.type, std::string(r.key),
                            std::string(r.holder), r.token, r.unix_ms, r.cause});
    REQUIRE(walk.records.size() <= data.size());
  }
  walk.result = result;
  walk.valid_end = reader.valid_end();
  walk.error_offset = reader.error_offset();
  walk.error = reader.error();
  // The verdict sticks.
  CHECK(reader.Next(&r) == result);
  CHECK(reader.Next(&r) == result);
  CHECK(reader.valid_end() == walk.valid_end);

  // CheckLog says the same.
  const LogCheck check = CheckLog(data);
  CHECK(check.result == result);
  CHECK(check.records == walk.records.size());
  CHECK(check.valid_end == walk.valid_end);
  if (result == Result::kDamaged) {
    CHECK(check.error_offset == walk.error_offset);
    CHECK(check.error == walk.error);
  } else {
    CHECK(check.error.empty());
  }
  return walk;
}

// Checks that the first `n` records read are the sample's first `n`.
void CheckFirst(const Walk& walk, const SampleLog& log, size_t n) {
  REQUIRE(walk.records.size() >= n);
  for (size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(walk.records[i] == log.records()[i]);
  }
}

// Checks that the records read are exactly the sample's first `n`.
void CheckPrefix(const Walk& walk, const SampleLog& log, size_t n) {
  CHECK(walk.records.size() == n);
  CheckFirst(walk, log, n);
}

// Expects damage in `data` after the sample's first `n` records, in the
// record at `error_offset`, with `error_part` in the message; a cut at
// `valid_end` would load.
void CheckDamage(std::string_view data, const SampleLog& log, size_t n, size_t error_offset,
                 size_t valid_end, std::string_view error_part) {
  const Walk walk = ReadAll(data);
  CHECK(ResultName(walk.result) == std::string_view("kDamaged"));
  CheckPrefix(walk, log, n);
  CHECK(walk.error_offset == error_offset);
  CHECK(walk.valid_end == valid_end);
  CHECK_MESSAGE(walk.error.find(error_part) != std::string::npos, walk.error);
}

// Replaces the bytes at `at` (found as `from` inside the record) with `to`.
std::string Patch(std::string data, const Expected& record, std::string_view from,
                  std::string_view to) {
  const size_t at = data.find(from, record.begin);
  REQUIRE(at != std::string::npos);
  REQUIRE(at + from.size() <= record.end);
  return data.replace(at, from.size(), to);
}

// Inserts `bytes` before record `index` of the sample.
std::string InsertBefore(const SampleLog& log, size_t index, std::string_view bytes) {
  std::string data = log.data();
  return data.insert(log.records()[index].begin, bytes);
}

size_t IndexOf(const SampleLog& log, const Expected& record) {
  return static_cast<size_t>(&record - log.records().data());
}

TEST_CASE("log reader: the sample log reads back field by field and ends cleanly") {
  const SampleLog log = MakeSample();
  const Walk walk = ReadAll(log.data());
  CHECK(ResultName(walk.result) == std::string_view("kEnd"));
  CheckPrefix(walk, log, log.records().size());
  CHECK(walk.valid_end == log.data().size());
  CHECK(walk.error.empty());
}

TEST_CASE("log reader: an empty log ends at once") {
  const Walk walk = ReadAll("");
  CHECK(ResultName(walk.result) == std::string_view("kEnd"));
  CHECK(walk.records.empty());
  CHECK(walk.valid_end == 0);
}

TEST_CASE("log reader: a cut at every byte is a clean end or a torn tail where it falls") {
  const SampleLog log = MakeSample();
  const std::vector<Expected>& records = log.records();
  size_t ends = 0;
  size_t torn_in_unit = 0;
  for (size_t cut = 0; cut <= log.data().size(); ++cut) {
    CAPTURE(cut);
    // Exactly `cut` bytes on the heap, so a read past them is a read past
    // the allocation.
    const std::vector<char> bytes(log.data().begin(), log.data().begin() + cut);
    const std::string_view data(bytes.data(), bytes.size());

    // The records wholly before the cut, and whether they leave a unit open.
    const size_t complete = log.CountBefore(cut);
    bool open = false;
    size_t multi = 0;
    for (size_t i = 0; i < complete; ++i) {
      if (records[i].type == RecordType::kMulti) {
        open = true;
        multi = records[i].begin;
      } else if (records[i].type == RecordType::kExec) {
        open = false;
      }
    }
    // The record the cut falls in (or just before) starts here.
    const size_t next = complete < records.size() ? records[complete].begin : log.data().size();

    const Walk walk = ReadAll(data);
    CheckPrefix(walk, log, complete);
    if (open) {
      CHECK(ResultName(walk.result) == std::string_view("kTruncated"));
      CHECK(walk.valid_end == multi);
      ++torn_in_unit;
    } else if (cut == next) {
      CHECK(ResultName(walk.result) == std::string_view("kEnd"));
      CHECK(walk.valid_end == cut);
      ++ends;
    } else {
      CHECK(ResultName(walk.result) == std::string_view("kTruncated"));
      CHECK(walk.valid_end == next);
    }
  }
  // Clean ends: the start, and the end of every record but the two MULTIs
  // and the two records inside the first unit.
  CHECK(ends == 1 + records.size() - 4);
  CHECK(torn_in_unit > 0);
}

TEST_CASE("log reader: a bad byte in a header is damage at the start of its record") {
  const SampleLog log = MakeSample();
  const Expected& grant = log.First(RecordType::kGrant);
  const size_t n = IndexOf(log, grant);
  const size_t at = grant.begin;

  SUBCASE("a count digit that is not a digit") {
    CheckDamage(Patch(log.data(), grant, "*5", "*x"), log, n, at, at, "expected a digit");
  }
  SUBCASE("a count that disagrees with the record's arity") {
    CheckDamage(Patch(log.data(), grant, "*5", "*4"), log, n, at, at,
                "wrong number of arguments for 'lock.grant'");
  }
  SUBCASE("a count larger than the record") {
    CheckDamage(Patch(log.data(), grant, "*5", "*6"), log, n, at, at, "expected '$'");
  }
  SUBCASE("a length digit that is not a digit") {
    CheckDamage(Patch(log.data(), grant, "$10", "$1a"), log, n, at, at, "expected CRLF");
  }
  SUBCASE("a length one too long") {
    CheckDamage(Patch(log.data(), grant, "$10", "$11"), log, n, at, at,
                "expected CRLF after a 11-byte bulk string");
  }
  SUBCASE("a length with a leading zero") {
    CheckDamage(Patch(log.data(), grant, "$10", "$09"), log, n, at, at, "leading zero");
  }
  SUBCASE("'$' replaced") {
    CheckDamage(Patch(log.data(), grant, "$9\r\norders", "#9\r\norders"), log, n, at, at,
                "expected '$'");
  }
  SUBCASE("the CRLF after a payload replaced") {
    CheckDamage(Patch(log.data(), grant, "orders:42\r\n", "orders:42XY"), log, n, at, at,
                "expected CRLF after a 9-byte bulk string");
  }
  SUBCASE("only the LF after a payload replaced") {
    CheckDamage(Patch(log.data(), grant, "orders:42\r\n", "orders:42\rY"), log, n, at, at,
                "expected CRLF after a 9-byte bulk string");
  }
  SUBCASE("the LF of a header line replaced") {
    CheckDamage(Patch(log.data(), grant, "*5\r\n", "*5\r\r"), log, n, at, at, "expected CRLF");
  }
}

TEST_CASE("log reader: a record that does not decode is damage at its start") {
  const SampleLog log = MakeSample();
  const Expected& grant = log.First(RecordType::kGrant);
  const size_t n = IndexOf(log, grant);
  const size_t at = grant.begin;
  const std::string head = "*5\r\n$10\r\nLOCK.GRANT\r\n$1\r\nk\r\n$1\r\nh\r\n";

  SUBCASE("an unknown name") {
    CheckDamage(Patch(log.data(), grant, "LOCK.GRANT", "LOCK.GRANX"), log, n, at, at,
                "unknown record 'LOCK.GRANX'");
  }
  SUBCASE("token 0") {
    CheckDamage(InsertBefore(log, n, head + "$1\r\n0\r\n$13\r\n1900000000000\r\n"), log, n, at, at,
                "bad token");
  }
  SUBCASE("token -1") {
    CheckDamage(InsertBefore(log, n, head + "$2\r\n-1\r\n$13\r\n1900000000000\r\n"), log, n, at, at,
                "bad token");
  }
  SUBCASE("token 2^63, past the signed 64-bit range") {
    CheckDamage(InsertBefore(log, n, head + "$19\r\n9223372036854775808\r\n$1\r\n0\r\n"), log,
                n, at, at, "bad token");
  }
  SUBCASE("token limit -1") {
    CheckDamage(InsertBefore(log, n, "*3\r\n$12\r\nLOCK.RESERVE\r\n$2\r\n-1\r\n$1\r\n0\r\n"),
                log, n, at, at, "bad token limit");
  }
  SUBCASE("token limit 2^63") {
    CheckDamage(InsertBefore(log, n,
                             "*3\r\n$12\r\nLOCK.RESERVE\r\n$19\r\n9223372036854775808\r\n$1\r\n0\r\n"),
                log, n, at, at, "bad token limit");
  }
  SUBCASE("a free cause 'foo'") {
    CheckDamage(InsertBefore(log, n, "*3\r\n$9\r\nLOCK.FREE\r\n$1\r\nk\r\n$3\r\nfoo\r\n"), log, n,
                at, at, "bad free cause");
  }
  SUBCASE("a bulk string of another RESP type") {
    CheckDamage(InsertBefore(log, n, "*2\r\n$13\r\nLOCK.SHUTDOWN\r\n:0\r\n"), log, n, at, at,
                "expected '$'");
  }
}

TEST_CASE("log reader: MULTI and EXEC must pair up") {
  const SampleLog log = MakeSample();
  const Expected& multi = log.First(RecordType::kMulti);
  const size_t m = IndexOf(log, multi);
  const std::string kMulti = "*1\r\n$5\r\nMULTI\r\n";
  const std::string kExec = "*1\r\n$4\r\nEXEC\r\n";

  SUBCASE("EXEC without MULTI") {
    const size_t at = log.records()[1].begin;
    CheckDamage(InsertBefore(log, 1, kExec), log, 1, at, at, "EXEC without MULTI");
  }
  SUBCASE("MULTI inside MULTI") {
    // After the unit's MULTI and FREE: the cut that loads is before MULTI.
    const size_t at = log.records()[m + 2].begin;
    CheckDamage(InsertBefore(log, m + 2, kMulti), log, m + 2, at, multi.begin, "MULTI inside");
  }
  SUBCASE("damage inside a unit leaves the whole unit out of the valid part") {
    const size_t at = log.records()[m + 1].begin;
    CheckDamage(InsertBefore(log, m + 1, "*3\r\n$9\r\nLOCK.FREE\r\n$1\r\nk\r\n$3\r\nfoo\r\n"), log,
                m + 1, at, multi.begin, "bad free cause");
  }
  SUBCASE("EXEC with an argument") {
    const size_t at = log.records()[m + 1].begin;
    CheckDamage(InsertBefore(log, m + 1, "*2\r\n$4\r\nEXEC\r\n$1\r\nx\r\n"), log, m + 1, at,
                multi.begin, "wrong number of arguments for 'exec'");
  }
}

TEST_CASE("log reader: bytes after the last record are torn only if a record could start so") {
  const SampleLog log = MakeSample();
  const size_t size = log.data().size();
  const size_t n = log.records().size();

  struct Tail {
    std::string bytes;
    bool torn;
  };
  const std::vector<Tail> tails = {
      // A prefix of a well-formed array: the writer stopped here.
      {"*", true},
      {"*1", true},
      {"*16", true},
      {"*3\r", true},
      {"*3\r\n", true},
      {"*3\r\n$", true},
      {"*3\r\n$4", true},
      {"*3\r\n$4\r", true},
      {"*3\r\n$4\r\nLO", true},
      {"*3\r\n$4\r\nLOCK", true},
      {"*3\r\n$4\r\nLOCK\r", true},
      {"*5\r\n$10\r\nLOCK.G", true},
      {"*5\r\n$10\r\nLOCK.GRANT\r\n$1\r\nk\r\n$1\r\nh\r\n$1\r\n7\r\n$13\r\n19000", true},
      {"*1\r\n$0\r\n\r", true},
      {"*1\r\n$4294967295\r\n", true},
      {"*1\r\n$4294967295\r\nabc", true},
      {"*1\r\n$5\r\nMULTI\r\n", true},
      {"*1\r\n$5\r\nMULTI\r\n*3\r\n$9\r\nLOCK.FREE\r\n$1\r\nk\r\n$7\r\nrelease\r\n", true},
      // Bytes that no record starts with, however the file goes on.
      {"\0\0\0\0"s, false},
      {"hello", false},
      {"\r\n", false},
      {"+OK\r\n", false},
      {":1\r\n", false},
      {"LOCK.FREE k release\r\n", false},
      {"*x", false},
      {"*-1", false},
      {"*0", false},
      {"*17", false},
      {"*3X", false},
      {"*3\rX", false},
      {"*\r\n", false},
      {"*3\r\n$-1", false},
      {"*3\r\n$01", false},
      {"*3\r\n$4X", false},
      {"*3\r\n:1\r\n", false},
      {"*3\r\n$4\r\nLOCKX", false},
      {"*3\r\n$4\r\nLOCK\rX", false},
      {"*1\r\n$4294967296", false},
      {"*1\r\n$4\r\nEXEC\r\n", false},
      {"*1\r\n$5\r\nmulti\r\n*1\r\n$5\r\nMULTI\r\n", false},
  };
  for (const Tail& tail : tails) {
    CAPTURE(Escape(tail.bytes));
    const Walk walk = ReadAll(log.data() + tail.bytes);
    if (tail.torn) {
      CHECK(ResultName(walk.result) == std::string_view("kTruncated"));
      CHECK(walk.valid_end == size);
    } else {
      CHECK(ResultName(walk.result) == std::string_view("kDamaged"));
      // The damaged record is the first one after the sample, or (for MULTI
      // inside MULTI) the second; either way nothing after the sample loads.
      CHECK(walk.error_offset >= size);
      CHECK(walk.valid_end == size);
    }
    CheckFirst(walk, log, n);
  }
}

TEST_CASE("log reader: absurd counts and lengths are damage and allocate nothing") {
  const SampleLog log = MakeSample();
  const Expected& grant = log.First(RecordType::kGrant);
  const size_t n = IndexOf(log, grant);
  const size_t at = grant.begin;
  auto in_use = [] {
    struct mallinfo2 mi = mallinfo2();
    return static_cast<long long>(mi.uordblks + mi.hblkhd);
  };

  SUBCASE("a 20-digit bulk length") {
    const std::string data =
        Patch(log.data(), grant, "$9\r\norders:42", "$99999999999999999999\r\n");
    const long long before = in_use();
    CheckDamage(data, log, n, at, at, "bulk length above 4294967295");
    CHECK(in_use() - before < (1 << 20));
  }
  SUBCASE("a million elements") {
    CheckDamage(InsertBefore(log, n, "*1000000\r\n"), log, n, at, at, "element count above 16");
  }
  SUBCASE("a length line far longer than any length") {
    CheckDamage(InsertBefore(log, n, "*1\r\n$" + std::string(64, '1')), log, n, at, at,
                "bulk length above");
    CheckDamage(InsertBefore(log, n, "*1\r\n$" + std::string(64, '0')), log, n, at, at,
                "leading zero");
  }
  SUBCASE("the largest length, at the end of the data, is a torn tail read in place") {
    const std::string data = log.data() + "*1\r\n$4294967295\r\n" + std::string(1000, 'x');
    LogReader reader(data);
    Record r;
    size_t records = 0;
    const long long before = in_use();
    Result result;
    while ((result = reader.Next(&r)) == Result::kRecord) ++records;
    CHECK(in_use() - before < (1 << 20));
    CHECK(ResultName(result) == std::string_view("kTruncated"));
    CHECK(records == log.records().size());
    CHECK(reader.valid_end() == log.data().size());
  }
}

}  // namespace
}  // namespace lockd::aof
