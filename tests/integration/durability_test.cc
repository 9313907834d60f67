// Durability: the append-only log keeps every acknowledged lease
// across SIGKILL, frees what expired while the server was down, never lets a
// token go backwards, cuts a torn tail but refuses other damage, records a
// hand-off as one unit, compacts with BGREWRITEAOF, holds new grants back
// after an unclean stop under everysec, and refuses (everysec) or stops
// (always) when the log cannot be written.
//
// Every server here restarts in a directory that outlives it; the log is the
// default <dir>/appendonly.aof.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

constexpr char kAofName[] = "appendonly.aof";

std::string AofPath(const ScratchDir& dir) { return dir.path + "/" + kAofName; }

// Unix time in milliseconds, the unit of the log's deadlines.
int64_t UnixMs() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Starts a server with the log on in `dir`, failing the test case when it
// does not come up.
std::unique_ptr<TestServer> StartIn(const ScratchDir& dir, std::vector<std::string> extra = {},
                                    int64_t file_size_limit = 0) {
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.extra = std::move(extra);
  options.file_size_limit = file_size_limit;
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  return srv;
}

// The arguments of a server start that must fail: a free port on loopback,
// the log on in `dir`.
std::vector<std::string> FailingStartArgs(const ScratchDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "--port", std::to_string(FreePort()), "--bind", "127.0.0.1", "--dir", dir.path};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

int64_t Acquire(Client& c, const std::string& key, const std::string& holder,
                const std::string& ttl_ms) {
  Reply r = c.Cmd({"LOCK.ACQUIRE", key, holder, ttl_ms});
  REQUIRE_MESSAGE(r.is_int(), "LOCK.ACQUIRE ", key, " ", holder, ": ", r.Describe());
  return r.integer();
}

LockInfo InfoOf(Client& c, const std::string& key) {
  Reply r = c.Cmd({"LOCK.INFO", key});
  std::optional<LockInfo> info = ParseLockInfo(r);
  REQUIRE_MESSAGE(info.has_value(), "LOCK.INFO ", key, ": ", r.Describe());
  return *info;
}

bool IsFree(Client& c, const std::string& key) { return c.Cmd({"LOCK.FENCE", key}).is_nil(); }

// One log record as its words, and where it starts in the file.
struct LogRecord {
  std::vector<std::string> words;
  size_t offset = 0;
};

// The complete records of the log file at `path`; *valid (when given) is the
// length they cover, *size the file's length.
std::vector<LogRecord> ReadRecords(const std::string& path, size_t* valid = nullptr,
                                   size_t* size = nullptr) {
  std::string bytes = ReadWholeFile(path);
  size_t consumed = 0;
  std::vector<size_t> offsets;
  std::vector<RespValue> values = ParseRespSequence(bytes, &consumed, &offsets);
  std::vector<LogRecord> records;
  for (size_t i = 0; i < values.size(); ++i) {
    LogRecord record;
    record.offset = offsets[i];
    for (const RespValue& e : values[i].elems) record.words.push_back(e.str);
    records.push_back(std::move(record));
  }
  if (valid != nullptr) *valid = consumed;
  if (size != nullptr) *size = bytes.size();
  return records;
}

// Whether the record starts with `prefix` (word by word, names compared as
// written: the log's vocabulary is upper case).
bool StartsWith(const LogRecord& record, const std::vector<std::string>& prefix) {
  if (record.words.size() < prefix.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), record.words.begin());
}

bool HasRecord(const std::vector<LogRecord>& records, const std::vector<std::string>& prefix) {
  return std::any_of(records.begin(), records.end(),
                     [&](const LogRecord& r) { return StartsWith(r, prefix); });
}

size_t CountRecords(const std::vector<LogRecord>& records, const std::string& name) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(), [&](const LogRecord& r) {
    return !r.words.empty() && r.words[0] == name;
  }));
}

std::string Describe(const std::vector<LogRecord>& records) {
  std::string out;
  for (const LogRecord& r : records) {
    out += "\n  @" + std::to_string(r.offset) + ":";
    for (const std::string& w : r.words) out += " " + w;
  }
  return out;
}

// The highest token limit of the log's LOCK.RESERVE records (0: none).
int64_t ReservedTokens(const std::vector<LogRecord>& records) {
  int64_t limit = 0;
  for (const LogRecord& r : records) {
    if (StartsWith(r, {"LOCK.RESERVE"}) && r.words.size() == 3) {
      limit = std::max<int64_t>(limit, std::atoll(r.words[1].c_str()));
    }
  }
  return limit;
}

// The server's log lines in `text` whose message (after the pid, time and
// level mark) contains `number` as a whole number.
std::vector<std::string> LinesNaming(const std::string& text, size_t number) {
  const std::regex prefix(R"(^\d+:[A-Z] \d\d [A-Z][a-z]{2} \d{4} [0-9:.]+ . )");
  const std::regex whole("(^|[^0-9])" + std::to_string(number) + "([^0-9]|$)");
  std::vector<std::string> found;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::string message =
        std::regex_replace(line, prefix, "", std::regex_constants::format_first_only);
    if (std::regex_search(message, whole)) found.push_back(line);
  }
  return found;
}

bool NamesNumber(const std::string& text, size_t number) {
  return !LinesNaming(text, number).empty();
}

// Grants and releases `cycles` leases on ten keys, pipelined ten at a time;
// returns the highest token granted.
int64_t Churn(Client& c, int cycles) {
  int64_t max_token = 0;
  for (int done = 0; done < cycles; done += 10) {
    for (int i = 0; i < 10; ++i) {
      c.Append({"LOCK.ACQUIRE", "churn" + std::to_string(i), "churner", "60000"});
    }
    REQUIRE(c.Flush());
    std::vector<int64_t> tokens;
    for (int i = 0; i < 10; ++i) {
      Reply r = c.GetReply();
      REQUIRE_MESSAGE(r.is_int(), r.Describe());
      tokens.push_back(r.integer());
      max_token = std::max(max_token, r.integer());
    }
    for (int i = 0; i < 10; ++i) {
      c.Append({"LOCK.RELEASE", "churn" + std::to_string(i), "churner", std::to_string(tokens[i])});
    }
    REQUIRE(c.Flush());
    for (int i = 0; i < 10; ++i) {
      Reply r = c.GetReply();
      REQUIRE_MESSAGE(r.integer() == 1, r.Describe());
    }
  }
  return max_token;
}

// Waits (10 s at most) until the server has finished `rewrites` rewrites
// since it started and none runs.
bool WaitRewrites(Client& c, int rewrites) {
  return WaitFor(
      [&] {
        std::string s = c.Cmd({"INFO", "persistence"}).str();
        return InfoField(s, "aof_rewrite_in_progress") == "0" &&
               InfoField(s, "aof_rewrites") == std::to_string(rewrites);
      },
      10000);
}

// Appends `bytes` to the file at `path`.
void AppendBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
  REQUIRE(out.good());
}

// Overwrites one byte of the file at `path`.
void PokeByte(const std::string& path, size_t offset, char byte) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(byte);
  REQUIRE(f.good());
}

// A prefix of a valid LOCK.GRANT record: what a crash in the middle of a
// write leaves behind.
const std::string kTornGrant = "*5\r\n$10\r\nLOCK.GRANT\r\n$4\r\ntorn\r\n$5\r\nmal";

int64_t RestartDelayMs(const TestServer& srv) {
  std::string v = srv.Info("persistence", "lock_restart_delay_ms");
  return v.empty() ? -1 : std::atoll(v.c_str());
}

// Acquires fresh keys until one is granted (within `timeout_ms`); returns the
// milliseconds from `since` to that grant, or -1. The granted token must be
// above `above`.
int64_t MsUntilFirstGrant(Client& c, Clock::time_point since, int64_t above, int timeout_ms) {
  int64_t granted_after = -1;
  int probe = 0;
  WaitFor(
      [&] {
        Reply p = c.Cmd({"LOCK.ACQUIRE", "probe" + std::to_string(probe++), "bob", "1000"});
        if (!p.is_int()) return false;
        granted_after = ElapsedMs(since);
        CHECK(p.integer() > above);
        return true;
      },
      timeout_ms, 20);
  return granted_after;
}

}  // namespace

TEST_CASE("durability: after SIGKILL every acknowledged lease is back with its holder and token") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  REQUIRE(c->ok());

  // Each way a lease can change must be in the log: a plain grant, a renewal
  // that lengthens it, a re-acquire that resets it, a release.
  int64_t t_alice = Acquire(*c, "plain", "alice", "30000");
  int64_t t_bob = Acquire(*c, "renewed", "bob", "3000");
  Reply r = c->Cmd({"LOCK.RENEW", "renewed", "bob", std::to_string(t_bob), "60000"});
  REQUIRE_MESSAGE(r.integer() == 1, r.Describe());
  int64_t t_carol = Acquire(*c, "reacquired", "carol", "20000");
  CHECK(Acquire(*c, "reacquired", "carol", "45000") == t_carol);
  int64_t t_gina = Acquire(*c, "expired", "gina", "100");
  int64_t t_erin = Acquire(*c, "released", "erin", "30000");
  r = c->Cmd({"LOCK.RELEASE", "released", "erin", std::to_string(t_erin)});
  REQUIRE_MESSAGE(r.integer() == 1, r.Describe());

  // Let the leases run a little so that a replay that restarts the ttl from
  // its full length would show; gina's lease ends meanwhile and hank takes
  // the key.
  std::this_thread::sleep_for(Millis(300));
  int64_t t_hank = Acquire(*c, "expired", "hank", "30000");
  CHECK(t_hank > t_gina);
  const std::vector<std::string> held = {"plain", "renewed", "reacquired", "expired"};
  std::map<std::string, LockInfo> before;
  int64_t max_token = 0;
  for (const std::string& key : held) {
    before[key] = InfoOf(*c, key);
    max_token = std::max(max_token, before[key].token);
  }
  max_token = std::max(max_token, t_erin);
  auto measured = Clock::now();
  c.reset();
  srv->Kill();

  srv = StartIn(dir);
  c = srv->Connect();
  REQUIRE(c->ok());
  int64_t down_ms = ElapsedMs(measured);
  for (const std::string& key : held) {
    CAPTURE(key);
    LockInfo after = InfoOf(*c, key);
    CHECK(after.holder == before[key].holder);
    CHECK(after.token == before[key].token);
    // The deadline is the one acknowledged, neither restarted nor lost.
    CHECK(after.ttl_ms <= before[key].ttl_ms);
    CHECK(after.ttl_ms >= before[key].ttl_ms - down_ms - 200);
  }
  CHECK(before["plain"].token == t_alice);
  CHECK(before["renewed"].ttl_ms > 50000);
  CHECK(before["reacquired"].ttl_ms > 40000);
  CHECK(IsFree(*c, "released"));
  CHECK(c->Cmd({"GET", "plain"}).str() == "alice");

  // The holder gets its own token back; new grants continue above.
  CHECK(Acquire(*c, "plain", "alice", "30000") == t_alice);
  CHECK(c->Cmd({"LOCK.ACQUIRE", "plain", "zoe", "30000"}).is_nil());
  CHECK(Acquire(*c, "released", "zoe", "30000") > max_token);
  // Under appendfsync always there is never a restart lock-delay.
  CHECK(RestartDelayMs(*srv) == 0);
  std::string log = srv->ReadLog();
  CHECK_MESSAGE(
      std::regex_search(
          log, std::regex(R"(DB loaded from append only file: \d+ records in [0-9.]+ seconds)")),
      log);
}

TEST_CASE("durability: a lease that ends while the server is down is free after restart") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  REQUIRE(c->ok());
  auto granted = Clock::now();
  int64_t t_brief = Acquire(*c, "brief", "alice", "1000");
  int64_t t_stays = Acquire(*c, "stays", "bob", "30000");
  REQUIRE(InfoOf(*c, "brief").holder == "alice");
  c.reset();
  srv->Kill();
  // The running server did not free it: the log has no expiry for it yet.
  std::vector<LogRecord> records = ReadRecords(AofPath(dir));
  REQUIRE_MESSAGE(HasRecord(records, {"LOCK.GRANT", "brief", "alice"}), Describe(records));
  REQUIRE_MESSAGE(!HasRecord(records, {"LOCK.FREE", "brief"}), Describe(records));
  std::this_thread::sleep_for(Millis(1300) - (Clock::now() - granted));

  srv = StartIn(dir);
  c = srv->Connect();
  REQUIRE(c->ok());
  CHECK(IsFree(*c, "brief"));
  CHECK(c->Cmd({"GET", "brief"}).is_nil());
  CHECK(InfoOf(*c, "stays").token == t_stays);
  // The expiry is a change like any other and is logged.
  bool logged = WaitFor(
      [&] {
        return HasRecord(ReadRecords(AofPath(dir)), {"LOCK.FREE", "brief", "expire"});
      },
      2000);
  CHECK_MESSAGE(logged, Describe(ReadRecords(AofPath(dir))));
  int64_t t_carol = Acquire(*c, "brief", "carol", "30000");
  CHECK(t_carol > std::max(t_brief, t_stays));

  // Replaying GRANT, FREE expire, GRANT gives carol's lease.
  c.reset();
  srv->Kill();
  srv = StartIn(dir);
  c = srv->Connect();
  LockInfo info = InfoOf(*c, "brief");
  CHECK(info.holder == "carol");
  CHECK(info.token == t_carol);
}

TEST_CASE("durability: tokens rise across SIGKILL and SIGTERM and SHUTDOWN restarts") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  int64_t max_token = 0;
  std::map<std::string, int64_t> leases;
  std::vector<std::string> released;
  enum class Stop { kKill, kTerm, kShutdown };
  for (Stop stop : {Stop::kKill, Stop::kTerm, Stop::kShutdown, Stop::kKill}) {
    auto c = srv->Connect();
    REQUIRE(c->ok());
    // Every lease of the earlier runs is still there; released keys are free.
    for (const auto& entry : leases) {
      const auto& key = entry.first;
      const auto& token = entry.second;
      CAPTURE(key);
      CHECK(c->Cmd({"LOCK.FENCE", key}).integer() == token);
    }
    for (const std::string& key : released) CHECK(IsFree(*c, key));
    // Some grants are released at once, so that the highest token is not
    // always held.
    for (int i = 0; i < 5; ++i) {
      std::string key = "k" + std::to_string(leases.size() + released.size());
      int64_t t = Acquire(*c, key, "h", "60000");
      CHECK(t > max_token);
      max_token = t;
      if (i % 2 == 0) {
        leases[key] = t;
      } else {
        Reply r = c->Cmd({"LOCK.RELEASE", key, "h", std::to_string(t)});
        REQUIRE(r.integer() == 1);
        released.push_back(key);
      }
    }
    switch (stop) {
      case Stop::kKill:
        c.reset();
        srv->Kill();
        break;
      case Stop::kTerm:
        c.reset();
        CHECK(srv->StopWith(SIGTERM, 5000) == 0);
        break;
      case Stop::kShutdown:
        c->Append({"SHUTDOWN"});
        c->Flush();
        CHECK(srv->WaitExit(5000) == std::optional<int>(0));
        c.reset();
        break;
    }
    srv = StartIn(dir);
    CHECK(RestartDelayMs(*srv) == 0);
  }
  auto c = srv->Connect();
  for (const auto& entry : leases) {
    const auto& key = entry.first;
    const auto& token = entry.second;
    CAPTURE(key);
    CHECK(c->Cmd({"LOCK.FENCE", key}).integer() == token);
  }
  CHECK(Acquire(*c, "last", "h", "1000") > max_token);
}

TEST_CASE("durability: a torn last record is cut off at load with a warning naming the offset") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  int64_t t_a = Acquire(*c, "a", "alice", "60000");
  int64_t t_b = Acquire(*c, "b", "bob", "60000");
  c.reset();
  REQUIRE(srv->StopWith(SIGTERM, 5000) == 0);
  std::string path = AofPath(dir);
  std::string valid_bytes = ReadWholeFile(path);
  size_t valid = valid_bytes.size();
  REQUIRE(valid > 0);
  AppendBytes(path, kTornGrant);

  srv = StartIn(dir);
  std::string log = srv->ReadLog();
  std::vector<std::string> lines = LinesNaming(log, valid);
  REQUIRE_MESSAGE(!lines.empty(), "no log line names offset ", valid, ":\n", log);
  // A warning, in Redis's marks: '#'.
  CHECK_MESSAGE(
      std::any_of(lines.begin(), lines.end(),
                  [](const std::string& l) { return l.find(" # ") != std::string::npos; }),
      log);
  c = srv->Connect();
  CHECK(InfoOf(*c, "a").token == t_a);
  CHECK(InfoOf(*c, "b").token == t_b);
  CHECK(IsFree(*c, "torn"));
  // The file was cut at the last whole record: what was valid is kept as
  // it was, and nothing of the torn record is left (whatever the server
  // appended since is whole records).
  std::string now_bytes = ReadWholeFile(path);
  CHECK(now_bytes.compare(0, valid, valid_bytes) == 0);
  size_t consumed = 0;
  ParseRespSequence(now_bytes, &consumed);
  CHECK_MESSAGE(consumed == now_bytes.size(),
                "bytes after the last whole record: ", now_bytes.substr(consumed));

  // Records written after the cut must not follow garbage: the next start
  // loads cleanly.
  int64_t t_c = Acquire(*c, "c", "carol", "60000");
  c.reset();
  srv->Kill();
  srv = StartIn(dir);
  log = srv->ReadLog();
  CHECK_MESSAGE(LinesNaming(log, valid).empty(), log);
  c = srv->Connect();
  CHECK(InfoOf(*c, "a").token == t_a);
  CHECK(InfoOf(*c, "b").token == t_b);
  CHECK(InfoOf(*c, "c").token == t_c);
}

TEST_CASE("durability: a log that ends inside a MULTI unit loads without the unit") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto owner = srv->Connect();
  int64_t t0 = Acquire(*owner, "seat", "owner", "60000");
  auto waiter = srv->Connect(8000);
  waiter->Append({"LOCK.ACQUIRE", "seat", "next", "60000", "WAIT", "5000"});
  REQUIRE(waiter->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*owner, "seat") == 1; }, 3000));
  Reply r = owner->Cmd({"LOCK.RELEASE", "seat", "owner", std::to_string(t0)});
  REQUIRE(r.integer() == 1);
  REQUIRE(waiter->GetReply().is_int());
  owner.reset();
  waiter.reset();
  REQUIRE(srv->StopWith(SIGTERM, 5000) == 0);

  // Cut the file after the unit's FREE: a crash in the middle of writing
  // the hand-off. Applying the FREE alone would lose the owner's lease.
  std::string path = AofPath(dir);
  std::vector<LogRecord> records = ReadRecords(path);
  size_t multi = 0, grant = 0;
  for (size_t i = 0; i + 2 < records.size(); ++i) {
    if (StartsWith(records[i], {"MULTI"}) && StartsWith(records[i + 1], {"LOCK.FREE", "seat"})) {
      multi = records[i].offset;
      grant = records[i + 2].offset;
    }
  }
  REQUIRE_MESSAGE(grant > multi, Describe(records));
  std::string kept = ReadWholeFile(path).substr(0, multi);
  std::filesystem::resize_file(path, grant);

  srv = StartIn(dir);
  std::string log = srv->ReadLog();
  CHECK_MESSAGE(!LinesNaming(log, multi).empty(), "no log line names offset ", multi, ":\n", log);
  auto c = srv->Connect();
  LockInfo info = InfoOf(*c, "seat");
  CHECK(info.holder == "owner");
  CHECK(info.token == t0);
  std::string now_bytes = ReadWholeFile(path);
  CHECK(now_bytes.compare(0, multi, kept) == 0);
  // Nothing of the unfinished unit is left: whatever follows the cut is
  // whole records the server wrote since, not the orphaned MULTI and FREE.
  size_t valid = 0, size = 0;
  std::vector<LogRecord> now_records = ReadRecords(path, &valid, &size);
  CHECK(valid == size);
  for (size_t i = 0; i + 1 < now_records.size(); ++i) {
    if (now_records[i].offset >= multi) {
      CHECK_MESSAGE(!(StartsWith(now_records[i], {"MULTI"}) &&
                      StartsWith(now_records[i + 1], {"LOCK.FREE", "seat"})),
                    Describe(now_records));
    }
  }
}

TEST_CASE(
    "durability: with aof-load-truncated no a torn tail stops the start with exit 1 naming file "
    "and offset") {
  ScratchDir dir;
  {
    auto srv = StartIn(dir);
    auto c = srv->Connect();
    Acquire(*c, "a", "alice", "60000");
    REQUIRE(srv->StopWith(SIGTERM, 5000) == 0);
  }
  std::string path = AofPath(dir);
  size_t valid = ReadWholeFile(path).size();
  AppendBytes(path, kTornGrant);
  std::string damaged = ReadWholeFile(path);

  RunResult r = RunServerOnce(FailingStartArgs(dir, {"--aof-load-truncated", "no"}), 10000);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.find(kAofName) != std::string::npos, r.output);
  CHECK_MESSAGE(NamesNumber(r.output, valid), "offset ", valid, " not named: ", r.output);
  // Nothing was cut.
  CHECK(ReadWholeFile(path) == damaged);
}

TEST_CASE("durability: damage before the end stops the start with exit 1 naming file and offset") {
  ScratchDir dir;
  {
    auto srv = StartIn(dir);
    auto c = srv->Connect();
    for (int i = 0; i < 6; ++i) Acquire(*c, "k" + std::to_string(i), "h", "60000");
    REQUIRE(srv->StopWith(SIGTERM, 5000) == 0);
  }
  std::string path = AofPath(dir);
  std::string good = ReadWholeFile(path);
  std::vector<LogRecord> records = ReadRecords(path);
  REQUIRE(records.size() >= 6);

  SUBCASE("a bad byte at the start of a record in the middle") {
    size_t offset = records[records.size() / 2].offset;
    PokeByte(path, offset, 'x');
    RunResult r = RunServerOnce(FailingStartArgs(dir, {}), 10000);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.output.find(kAofName) != std::string::npos, r.output);
    CHECK_MESSAGE(NamesNumber(r.output, offset), "offset ", offset, " not named: ", r.output);
  }
  SUBCASE("a whole but invalid last record is damage, not a torn tail") {
    // LOCK.FREE needs a cause; this record is complete, so cutting it would
    // hide damage rather than repair a crash.
    AppendBytes(path, "*2\r\n$9\r\nLOCK.FREE\r\n$2\r\nk0\r\n");
    RunResult r = RunServerOnce(FailingStartArgs(dir, {}), 10000);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.output.find(kAofName) != std::string::npos, r.output);
    CHECK_MESSAGE(NamesNumber(r.output, good.size()), "offset ", good.size(),
                  " not named: ", r.output);
  }
}

TEST_CASE("durability: a log written in the documented format loads to its state") {
  ScratchDir dir;
  int64_t now = UnixMs();
  auto at = [&](int64_t delta_ms) { return std::to_string(now + delta_ms); };
  std::vector<std::vector<std::string>> records = {
      {"LOCK.GRANT", "a", "alice", "5", at(60000)},
      {"LOCK.GRANT", "b", "bob", "7", at(60000)},
      {"LOCK.EXTEND", "b", "bob", "7", at(90000)},
      {"LOCK.GRANT", "c", "carol", "8", at(60000)},
      {"LOCK.FREE", "c", "release"},
      {"MULTI"},
      {"LOCK.FREE", "a", "release"},
      {"LOCK.GRANT", "a", "dave", "9", at(60000)},
      {"EXEC"},
      {"LOCK.GRANT", "d", "erin", "10", at(-1000)},
      {"LOCK.RESERVE", "100", "0"},
  };
  std::string bytes;
  for (const auto& record : records) bytes += Multibulk(record);
  AppendBytes(dir.path + "/" + kAofName, bytes);

  auto srv = StartIn(dir);
  auto c = srv->Connect();
  LockInfo a = InfoOf(*c, "a");
  CHECK(a.holder == "dave");
  CHECK(a.token == 9);
  CHECK(a.ttl_ms <= 60000);
  CHECK(a.ttl_ms > 50000);
  LockInfo b = InfoOf(*c, "b");
  CHECK(b.holder == "bob");
  CHECK(b.token == 7);
  CHECK(b.ttl_ms > 80000);
  CHECK(IsFree(*c, "c"));
  CHECK(IsFree(*c, "d"));
  // Tokens up to the reserved limit may have been revealed: new ones are above.
  CHECK(Acquire(*c, "e", "frank", "1000") > 100);
  std::smatch m;
  std::string log = srv->ReadLog();
  REQUIRE_MESSAGE(
      std::regex_search(log, m, std::regex(R"(DB loaded from append only file: (\d+) records)")),
      log);
  int64_t n = std::atoll(m[1].str().c_str());
  CHECK_MESSAGE((n == 11 || n == 9), "records loaded: ", n);
}

TEST_CASE("durability: while the log loads commands get -LOADING and INFO says loading:1") {
  // A log long enough to take a noticeable time to load: 600,000 grants.
  ScratchDir dir;
  constexpr int kLeases = 600000;
  const std::string pxat = std::to_string(UnixMs() + 600000);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(kLeases) * 80);
  for (int i = 1; i <= kLeases; ++i) {
    bytes += Multibulk({"LOCK.GRANT", "key:" + std::to_string(i), "h", std::to_string(i), pxat});
  }
  AppendBytes(dir.path + "/" + kAofName, bytes);
  bytes = std::string();

  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.wait_until_loaded = false;
  TestServer srv(options);
  REQUIRE_MESSAGE(srv.started(), srv.start_error());
  auto c = srv.Connect();
  REQUIRE(c->ok());
  // INFO first: if the command after it is refused, the load was running
  // when INFO was answered too.
  Reply info = c->Cmd({"INFO", "persistence"});
  Reply fence = c->Cmd({"LOCK.FENCE", "key:5"});
  Reply acquire = c->Cmd({"LOCK.ACQUIRE", "fresh", "h", "60000"});
  Reply ping = c->Cmd({"PING"});
  REQUIRE_MESSAGE(fence.is_error(),
                  "the load was over before the first command: ", fence.Describe());
  CHECK_MESSAGE(fence.str().rfind("LOADING ", 0) == 0, fence.Describe());
  CHECK_MESSAGE(InfoField(info.str(), "loading") == "1", info.Describe());
  CHECK_MESSAGE((acquire.str().rfind("LOADING ", 0) == 0 || acquire.is_int()), acquire.Describe());
  CHECK_MESSAGE((ping.str().rfind("LOADING ", 0) == 0 || ping.str() == "PONG"), ping.Describe());

  bool loaded = WaitFor([&] { return c->Cmd({"LOCK.FENCE", "key:5"}).integer() == 5; }, 20000, 20);
  REQUIRE(loaded);
  CHECK(InfoField(c->Cmd({"INFO", "persistence"}).str(), "loading") == "0");
  CHECK(c->Cmd({"LOCK.FENCE", "key:" + std::to_string(kLeases)}).integer() == kLeases);
  CHECK(c->Cmd({"DBSIZE"}).integer() == kLeases + (acquire.is_int() ? 1 : 0));
  // A refused acquire had no effect.
  if (!acquire.is_int()) CHECK(IsFree(*c, "fresh"));
  CHECK(Acquire(*c, "after", "h", "1000") > kLeases);
}

TEST_CASE(
    "durability: a hand-off is logged as one MULTI FREE GRANT EXEC unit and survives SIGKILL") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto owner = srv->Connect();
  REQUIRE(owner->ok());

  // Hand-off on release.
  int64_t t0 = Acquire(*owner, "seat", "owner", "30000");
  auto waiter = srv->Connect(8000);
  waiter->Append({"LOCK.ACQUIRE", "seat", "next", "30000", "WAIT", "5000"});
  REQUIRE(waiter->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*owner, "seat") == 1; }, 3000));
  Reply r = owner->Cmd({"LOCK.RELEASE", "seat", "owner", std::to_string(t0)});
  REQUIRE_MESSAGE(r.integer() == 1, r.Describe());
  int64_t granted_unix = UnixMs();
  r = waiter->GetReply();
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  int64_t t1 = r.integer();
  CHECK(t1 > t0);

  // Hand-off on expiry.
  int64_t t2 = Acquire(*owner, "seat2", "owner", "1500");
  auto waiter2 = srv->Connect(8000);
  waiter2->Append({"LOCK.ACQUIRE", "seat2", "next2", "30000", "WAIT", "5000"});
  REQUIRE(waiter2->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*owner, "seat2") == 1; }, 1000));
  r = waiter2->GetReply();
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  int64_t t3 = r.integer();
  CHECK(t3 > t2);

  // Under appendfsync always the records are in the file once the reply is.
  std::vector<LogRecord> records = ReadRecords(AofPath(dir));
  auto unit_at = [&](const std::string& key, const std::string& cause, const std::string& holder,
                     int64_t token) -> const LogRecord* {
    for (size_t i = 0; i + 3 < records.size(); ++i) {
      if (StartsWith(records[i], {"MULTI"}) && records[i].words.size() == 1 &&
          StartsWith(records[i + 1], {"LOCK.FREE", key, cause}) &&
          StartsWith(records[i + 2], {"LOCK.GRANT", key, holder, std::to_string(token)}) &&
          StartsWith(records[i + 3], {"EXEC"})) {
        return &records[i + 2];
      }
    }
    return nullptr;
  };
  const LogRecord* grant = unit_at("seat", "release", "next", t1);
  CHECK_MESSAGE(grant != nullptr, Describe(records));
  if (grant != nullptr && grant->words.size() == 5) {
    // The deadline is absolute Unix milliseconds, counted from the grant.
    int64_t pxat = std::atoll(grant->words[4].c_str());
    CHECK(pxat >= granted_unix + 30000 - 2000);
    CHECK(pxat <= granted_unix + 30000 + 2000);
  }
  CHECK_MESSAGE(unit_at("seat2", "expire", "next2", t3) != nullptr, Describe(records));

  owner.reset();
  waiter.reset();
  waiter2.reset();
  srv->Kill();
  srv = StartIn(dir);
  auto c = srv->Connect();
  LockInfo seat = InfoOf(*c, "seat");
  CHECK(seat.holder == "next");
  CHECK(seat.token == t1);
  CHECK(seat.waiters == 0);
  LockInfo seat2 = InfoOf(*c, "seat2");
  CHECK(seat2.holder == "next2");
  CHECK(seat2.token == t3);
}

TEST_CASE("durability: with appendonly no tokens never go backwards across restarts") {
  ScratchDir dir;
  ServerOptions options;
  options.dir = dir.path;  // appendonly stays "no"
  int64_t max_token = 0;
  for (int run = 0; run < 4; ++run) {
    CAPTURE(run);
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    REQUIRE(c->ok());
    CHECK(InfoField(c->Cmd({"INFO", "persistence"}).str(), "aof_enabled") == "0");
    // No lease is kept without the log.
    if (run > 0) CHECK(IsFree(*c, "held"));
    for (int i = 0; i < 25; ++i) {
      int64_t t = Acquire(*c, "key" + std::to_string(i), "h", "60000");
      CHECK(t > max_token);
      max_token = t;
    }
    c.reset();
    if (run % 2 == 0) {
      srv.Kill();
    } else {
      CHECK(srv.StopWith(SIGTERM, 5000) == 0);
    }
    CHECK(std::filesystem::exists(dir.path + "/" + kAofName + ".tokens"));
  }
}

TEST_CASE("durability: BGREWRITEAOF compacts the log and a restart after it keeps leases") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  REQUIRE(c->ok());
  std::map<std::string, int64_t> held;
  for (int i = 0; i < 3; ++i) {
    std::string key = "held" + std::to_string(i);
    held[key] = Acquire(*c, key, "keeper", "60000");
  }
  // Many grants and releases that leave nothing behind.
  int64_t max_token = Churn(*c, 400);
  size_t size_before = ReadWholeFile(AofPath(dir)).size();
  std::string info = c->Cmd({"INFO", "persistence"}).str();
  CHECK_MESSAGE(InfoField(info, "aof_current_size") == std::to_string(size_before), info);

  // The second request comes while the first is running; writes go on
  // meanwhile, and must be in the log the rewrite leaves.
  c->Append({"BGREWRITEAOF"});
  c->Append({"BGREWRITEAOF"});
  c->Append({"LOCK.ACQUIRE", "during", "dora", "60000"});
  REQUIRE(c->Flush());
  Reply started = c->GetReply();
  Reply again = c->GetReply();
  Reply during = c->GetReply();
  CHECK_MESSAGE(started.str() == "Background append only file rewriting started",
                started.Describe());
  CHECK_MESSAGE(again.str() == "ERR Background append only file rewriting already in progress",
                again.Describe());
  REQUIRE_MESSAGE(during.is_int(), during.Describe());
  held["during"] = during.integer();
  bool done = WaitRewrites(*c, 1);
  info = c->Cmd({"INFO", "persistence"}).str();
  REQUIRE_MESSAGE(done, info);
  CHECK_MESSAGE(InfoField(info, "aof_last_bgrewrite_status") == "ok", info);
  CHECK_MESSAGE(InfoField(info, "aof_last_write_status") == "ok", info);
  held["after"] = Acquire(*c, "after", "alfred", "60000");

  size_t valid = 0, size_after = 0;
  std::vector<LogRecord> records = ReadRecords(AofPath(dir), &valid, &size_after);
  CHECK(valid == size_after);
  CHECK_MESSAGE(size_after * 4 < size_before, size_after, " bytes after, ", size_before, " before");
  info = c->Cmd({"INFO", "persistence"}).str();
  CHECK_MESSAGE(InfoField(info, "aof_current_size") == std::to_string(size_after), info);
  int64_t base = std::atoll(InfoField(info, "aof_base_size").c_str());
  CHECK_MESSAGE((base > 0 && base <= static_cast<int64_t>(size_after)), info);
  // The current leases and the token mark, nothing of the churn.
  for (const auto& entry : held) {
    const auto& key = entry.first;
    CHECK_MESSAGE(HasRecord(records, {"LOCK.GRANT", key}), key, Describe(records));
  }
  CHECK_MESSAGE(!HasRecord(records, {"LOCK.GRANT", "churn0"}), Describe(records));
  CHECK_MESSAGE(ReservedTokens(records) >= max_token, Describe(records));

  c.reset();
  srv->Kill();
  srv = StartIn(dir);
  c = srv->Connect();
  for (const auto& entry : held) {
    const auto& key = entry.first;
    const auto& token = entry.second;
    CAPTURE(key);
    LockInfo li = InfoOf(*c, key);
    CHECK(li.token == token);
    CHECK(li.ttl_ms > 50000);
    max_token = std::max(max_token, token);
  }
  CHECK(IsFree(*c, "churn0"));
  CHECK(Acquire(*c, "new", "h", "1000") > max_token);
}

TEST_CASE("durability: SIGKILL during a rewrite: the restart binds the same port and loses nothing") {
  ScratchDir dir;
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.port = FreePort();
  options.extra = {"--appendfsync", "everysec", "--auto-aof-rewrite-percentage", "0"};
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  auto c = srv->Connect();
  REQUIRE(c->ok());
  // Enough leases that the rewrite child is still writing at the kill.
  constexpr int kLeases = 300000;
  for (int i = 0; i < kLeases; ++i) {
    c->Append({"LOCK.ACQUIRE", "lease:" + std::to_string(i), "h", "600000"});
    if (i % 1000 == 999 || i == kLeases - 1) {
      REQUIRE(c->Flush());
      for (int j = i - i % 1000; j <= i; ++j) REQUIRE(c->GetReply().is_int());
    }
  }
  Reply r = c->Cmd({"BGREWRITEAOF"});
  CHECK_MESSAGE(r.str() == "Background append only file rewriting started", r.Describe());
  c.reset();
  srv->Kill();
  // A rewrite child outliving its parent with the listening socket would
  // make this start fail with "address in use".
  srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  c = srv->Connect();
  CHECK(c->Cmd({"DBSIZE"}).integer() == kLeases);
  CHECK(c->Cmd({"LOCK.FENCE", "lease:0"}).integer() == 1);
  CHECK(c->Cmd({"LOCK.FENCE", "lease:" + std::to_string(kLeases - 1)}).integer() == kLeases);
}

TEST_CASE("durability: CONFIG SET appendfsync takes effect at once") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  REQUIRE(c->ok());
  // Under always every grant is synced before its reply: no reservation.
  Acquire(*c, "a", "h", "60000");
  CHECK(CountRecords(ReadRecords(AofPath(dir)), "LOCK.RESERVE") == 0);
  Reply r = c->Cmd({"CONFIG", "SET", "appendfsync", "everysec"});
  CHECK_MESSAGE(r.str() == "OK", r.Describe());
  CHECK(c->Cmd({"CONFIG", "GET", "appendfsync"}).at(1) != nullptr);
  CHECK(ElementString(c->Cmd({"CONFIG", "GET", "appendfsync"}).at(1)) == "everysec");
  // Under everysec the next grant first reserves tokens and a horizon.
  int64_t token = Acquire(*c, "b", "h", "60000");
  std::vector<LogRecord> records = ReadRecords(AofPath(dir));
  CHECK_MESSAGE(CountRecords(records, "LOCK.RESERVE") == 1, Describe(records));
  CHECK(ReservedTokens(records) >= token);
  r = c->Cmd({"CONFIG", "SET", "appendfsync", "sometimes"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
}

TEST_CASE("durability: after a rewrite with no lease held new tokens are still above") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  REQUIRE(c->ok());
  int64_t max_token = Churn(*c, 50);
  Reply r = c->Cmd({"BGREWRITEAOF"});
  CHECK_MESSAGE(r.str() == "Background append only file rewriting started", r.Describe());
  REQUIRE(WaitRewrites(*c, 1));
  std::vector<LogRecord> records = ReadRecords(AofPath(dir));
  CHECK_MESSAGE(CountRecords(records, "LOCK.GRANT") == 0, Describe(records));
  CHECK_MESSAGE(ReservedTokens(records) >= max_token, Describe(records));
  c.reset();
  srv->Kill();
  srv = StartIn(dir);
  c = srv->Connect();
  CHECK(Acquire(*c, "k0", "h", "1000") > max_token);
}

TEST_CASE(
    "durability: after SIGKILL under everysec or no new grants wait for the restart lock-delay") {
  std::string policy;
  SUBCASE("everysec") { policy = "everysec"; }
  SUBCASE("no") { policy = "no"; }
  ScratchDir dir;
  auto srv = StartIn(dir, {"--appendfsync", policy});
  auto c = srv->Connect();
  REQUIRE(c->ok());
  auto sent = Clock::now();
  int64_t t = Acquire(*c, "a", "alice", "1000");
  c.reset();
  srv->Kill();

  srv = StartIn(dir, {"--appendfsync", policy});
  c = srv->Connect();
  REQUIRE(c->ok());
  int64_t delay = RestartDelayMs(*srv);
  CHECK(delay > 0);
  // At most about 2 × ttl + 1 s after the last grant.
  CHECK(delay <= 3500);
  // The recorded holder keeps its lease: re-acquire and renew work.
  CHECK(c->Cmd({"LOCK.ACQUIRE", "a", "alice", "1000"}).integer() == t);
  Reply r = c->Cmd({"LOCK.RENEW", "a", "alice", std::to_string(t), "1000"});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  // Nobody gets a new token, not even on a key never used, with or without
  // WAIT, nor on a key its holder just released.
  r = c->Cmd({"LOCK.ACQUIRE", "fresh", "bob", "1000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"LOCK.ACQUIRE", "fresh", "bob", "1000", "WAIT", "100"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"LOCK.RELEASE", "a", "alice", std::to_string(t)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = c->Cmd({"LOCK.ACQUIRE", "a", "bob", "1000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());

  // The first new grant comes after alice's first lease could have ended
  // (it was acknowledged, so the log's horizon covers it), and within the
  // bound.
  int64_t granted_after = MsUntilFirstGrant(*c, sent, t, 5000);
  REQUIRE(granted_after >= 0);
  CHECK(granted_after >= 1000 - 10);
  CHECK(granted_after <= 3000 + 1000);
  CHECK(RestartDelayMs(*srv) == 0);
  r = c->Cmd({"LOCK.ACQUIRE", "a", "bob", "1000"});
  CHECK_MESSAGE((r.is_int() && r.integer() > t), r.Describe());
}

TEST_CASE("durability: a second SIGKILL during the restart lock-delay does not shorten it") {
  ScratchDir dir;
  const std::vector<std::string> everysec = {"--appendfsync", "everysec"};
  auto srv = StartIn(dir, everysec);
  auto c = srv->Connect();
  auto sent = Clock::now();
  int64_t t = Acquire(*c, "a", "alice", "1000");
  c.reset();
  srv->Kill();
  srv = StartIn(dir, everysec);
  REQUIRE(RestartDelayMs(*srv) > 0);
  srv->Kill();
  srv = StartIn(dir, everysec);
  c = srv->Connect();
  CHECK(RestartDelayMs(*srv) > 0);
  Reply r = c->Cmd({"LOCK.ACQUIRE", "fresh", "bob", "1000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  int64_t granted_after = MsUntilFirstGrant(*c, sent, t, 6000);
  REQUIRE(granted_after >= 0);
  // alice's lease, acknowledged before the first crash, could have run
  // until a second after it was asked for.
  CHECK(granted_after >= 1000 - 10);
}

TEST_CASE("durability: no restart lock-delay after SHUTDOWN or SIGTERM under everysec") {
  ScratchDir dir;
  const std::vector<std::string> everysec = {"--appendfsync", "everysec"};
  auto srv = StartIn(dir, everysec);
  auto c = srv->Connect();
  int64_t t = Acquire(*c, "a", "alice", "10000");

  c->Append({"SHUTDOWN"});
  c->Flush();
  CHECK(srv->WaitExit(5000) == std::optional<int>(0));
  c.reset();
  srv = StartIn(dir, everysec);
  c = srv->Connect();
  CHECK(RestartDelayMs(*srv) == 0);
  Reply r = c->Cmd({"LOCK.ACQUIRE", "fresh1", "bob", "1000"});
  CHECK_MESSAGE((r.is_int() && r.integer() > t), r.Describe());
  // A clean stop flushed the log: the lease is there.
  CHECK(c->Cmd({"LOCK.FENCE", "a"}).integer() == t);
  int64_t t2 = Acquire(*c, "b", "carol", "10000");

  c.reset();
  CHECK(srv->StopWith(SIGTERM, 5000) == 0);
  srv = StartIn(dir, everysec);
  c = srv->Connect();
  CHECK(RestartDelayMs(*srv) == 0);
  r = c->Cmd({"LOCK.ACQUIRE", "fresh2", "bob", "1000"});
  CHECK_MESSAGE((r.is_int() && r.integer() > t2), r.Describe());
  CHECK(c->Cmd({"LOCK.FENCE", "b"}).integer() == t2);
}

TEST_CASE("durability: the log is rewritten on its own past auto-aof-rewrite-min-size") {
  ScratchDir dir;
  auto srv =
      StartIn(dir, {"--auto-aof-rewrite-percentage", "100", "--auto-aof-rewrite-min-size", "8kb"});
  auto c = srv->Connect();
  REQUIRE(c->ok());
  int64_t t_keep = Acquire(*c, "keep", "keeper", "60000");
  int64_t max_token = Churn(*c, 400);
  bool rewritten = WaitFor(
      [&] {
        return std::atoll(
                   InfoField(c->Cmd({"INFO", "persistence"}).str(), "aof_rewrites").c_str()) >= 1 &&
               InfoField(c->Cmd({"INFO", "persistence"}).str(), "aof_rewrite_in_progress") == "0";
      },
      10000);
  std::string info = c->Cmd({"INFO", "persistence"}).str();
  REQUIRE_MESSAGE(rewritten, info);
  // The log was compacted: it is a rewritten log (a LOCK.RESERVE, then the
  // snapshot's grants, then what was logged after the last fork), and the
  // churn before the first fork (at least 8 KB of it) is gone. How much the
  // capture holds depends on how long the child ran, so the check counts
  // what must be missing rather than a size that load can change.
  size_t valid = 0;
  size_t size = 0;
  std::vector<LogRecord> records = ReadRecords(AofPath(dir), &valid, &size);
  CHECK(valid == size);
  REQUIRE(!records.empty());
  CHECK_MESSAGE(records.front().words.at(0) == "LOCK.RESERVE", info);
  // 1 grant of "keep", 400 grants and 400 releases were logged in all; at
  // least the ~130 records of the first 8 KB (less the snapshot's few grants)
  // are not in the rewritten log.
  CHECK_MESSAGE(records.size() + 50 <= 801, records.size(), " records; ", info);
  size_t keep_grants = 0;
  for (const LogRecord& r : records) {
    keep_grants += r.words.size() > 1 && r.words[0] == "LOCK.GRANT" && r.words[1] == "keep";
  }
  CHECK(keep_grants >= 1);
  c.reset();
  srv->Kill();
  srv = StartIn(dir);
  c = srv->Connect();
  CHECK(c->Cmd({"LOCK.FENCE", "keep"}).integer() == t_keep);
  CHECK(IsFree(*c, "churn0"));
  CHECK(Acquire(*c, "new", "h", "1000") > max_token);
}

TEST_CASE("durability: tokens keep rising when appendonly is switched off and on in one dir") {
  ScratchDir dir;
  int64_t max_token = 0;
  for (bool appendonly : {true, false, true, false}) {
    CAPTURE(appendonly);
    ServerOptions options;
    options.dir = dir.path;
    options.appendonly = appendonly;
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    int64_t first = Acquire(*c, "first" + std::to_string(max_token), "h", "1000");
    CHECK_MESSAGE(first > max_token, "first token ", first, " after tokens up to ", max_token);
    int64_t last = first;
    for (int i = 0; i < 10; ++i) {
      int64_t t = Acquire(*c, "k" + std::to_string(last), "h", "1000");
      REQUIRE(t > last);
      last = t;
    }
    max_token = std::max(max_token, last);
    c.reset();
    srv.Kill();
  }
}

TEST_CASE("durability: under everysec a log that cannot be written refuses writes with MISCONF") {
  ScratchDir dir;
  auto srv = StartIn(dir, {"--appendfsync", "everysec"}, 16 * 1024);
  auto c = srv->Connect();
  REQUIRE(c->ok());
  std::string misconf;
  int64_t first_token = 0;
  for (int i = 0; i < 5000 && misconf.empty(); ++i) {
    Reply r = c->Cmd({"LOCK.ACQUIRE", "fill:" + std::to_string(i), "filler", "60000"});
    if (r.is_int()) {
      if (first_token == 0) first_token = r.integer();
      continue;
    }
    REQUIRE_MESSAGE(r.is_error(), "acquire ", i, ": ", r.Describe());
    misconf = r.str();
  }
  REQUIRE_MESSAGE(!misconf.empty(), "the log never failed to grow past 16 KiB");
  CHECK_MESSAGE(misconf.rfind("MISCONF Errors writing to the AOF file: ", 0) == 0, misconf);
  CHECK(srv->Running());

  // Every change is refused ...
  Reply r = c->Cmd({"LOCK.ACQUIRE", "other", "h", "60000"});
  CHECK_MESSAGE(r.str().rfind("MISCONF", 0) == 0, r.Describe());
  r = c->Cmd({"LOCK.RENEW", "fill:0", "filler", std::to_string(first_token), "60000"});
  CHECK_MESSAGE(r.str().rfind("MISCONF", 0) == 0, r.Describe());
  r = c->Cmd({"LOCK.RELEASE", "fill:0", "filler", std::to_string(first_token)});
  CHECK_MESSAGE(r.str().rfind("MISCONF", 0) == 0, r.Describe());
  // ... while reads go on.
  CHECK(c->Cmd({"PING"}).str() == "PONG");
  CHECK(c->Cmd({"LOCK.FENCE", "fill:0"}).integer() == first_token);
  CHECK(InfoOf(*c, "fill:0").holder == "filler");
  CHECK(c->Cmd({"GET", "fill:0"}).str() == "filler");
  std::string info = c->Cmd({"INFO", "persistence"}).str();
  CHECK_MESSAGE(InfoField(info, "aof_last_write_status") == "err", info);
}

TEST_CASE(
    "durability: under always a log that cannot be written stops the server before acknowledging") {
  ScratchDir dir;
  std::map<std::string, int64_t> acked;
  std::string failing_key;
  {
    auto srv = StartIn(dir, {}, 16 * 1024);
    auto c = srv->Connect();
    REQUIRE(c->ok());
    for (int i = 0; i < 5000; ++i) {
      std::string key = "fill:" + std::to_string(i);
      Reply r = c->Cmd({"LOCK.ACQUIRE", key, "filler", "60000"});
      if (r.is_int()) {
        acked[key] = r.integer();
        continue;
      }
      // The failing grant is never acknowledged: the connection ends (or
      // at most an error comes back).
      CHECK_MESSAGE((!r || r.is_error()), key, ": ", r.Describe());
      failing_key = key;
      break;
    }
    REQUIRE_MESSAGE(!failing_key.empty(), "the log never failed to grow past 16 KiB");
    std::optional<int> code = srv->WaitExit(5000);
    CHECK_MESSAGE(code == std::optional<int>(1), "exit: ", code.value_or(-2), " log:\n",
                  srv->ReadLog());
  }
  // Every acknowledged lease is in the log (a torn tail is cut at load).
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  int64_t max_token = 0;
  for (const auto& entry : acked) {
    const auto& key = entry.first;
    const auto& token = entry.second;
    CAPTURE(key);
    CHECK(c->Cmd({"LOCK.FENCE", key}).integer() == token);
    max_token = std::max(max_token, token);
  }
  CHECK(Acquire(*c, "after", "h", "1000") > max_token);
}
