// Transactions against the real server: a WATCH undone by another client's
// LOCK.ACQUIRE, by expiry and by a hand-off to a waiter; LOCK.ACQUIRE WAIT
// inside EXEC answers at once; an EXEC's changes are one unit in the log,
// which a restart applies whole or not at all.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

constexpr char kAofName[] = "appendonly.aof";

std::unique_ptr<TestServer> StartIn(const ScratchDir& dir) {
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  return srv;
}

// The log's records as words, in file order, with where each starts.
struct LogRecord {
  std::vector<std::string> words;
  size_t offset = 0;
};

std::vector<LogRecord> ReadRecords(const std::string& path) {
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
  return records;
}

std::string Describe(const std::vector<LogRecord>& records) {
  std::string out;
  for (const LogRecord& r : records) {
    out += "\n  @" + std::to_string(r.offset) + ":";
    for (const std::string& w : r.words) out += " " + w;
  }
  return out;
}

size_t CountNamed(const std::vector<LogRecord>& records, const std::string& name) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(), [&](const LogRecord& r) {
    return !r.words.empty() && r.words[0] == name;
  }));
}

// Sends MULTI, the commands and EXEC, checks every QUEUED, returns EXEC's reply.
Reply Transaction(Client& c, const std::vector<std::vector<std::string>>& commands) {
  REQUIRE(c.Cmd({"MULTI"}).str() == "OK");
  for (const auto& command : commands) {
    Reply r = c.Cmd(command);
    REQUIRE_MESSAGE(r.str() == "QUEUED", r.Describe());
  }
  return c.Cmd({"EXEC"});
}

}  // namespace

TEST_CASE("transaction: another client's LOCK.ACQUIRE on a watched key fails EXEC") {
  START_SERVER(srv);
  auto a = srv.Connect();
  auto b = srv.Connect();
  REQUIRE(a->Cmd({"WATCH", "seat:1"}).str() == "OK");
  REQUIRE(b->Cmd({"LOCK.ACQUIRE", "seat:1", "bob", "60000"}).is_int());
  Reply r = Transaction(*a, {{"LOCK.ACQUIRE", "seat:1", "alice", "60000"}});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  CHECK(a->Cmd({"LOCK.INFO", "seat:1"}).at(1) != nullptr);
  CHECK(ElementString(a->Cmd({"LOCK.INFO", "seat:1"}).at(1)) == "bob");
  // Unwatched by EXEC: the same transaction now runs (and finds the key busy).
  r = Transaction(*a, {{"LOCK.ACQUIRE", "seat:1", "alice", "60000"}, {"LOCK.FENCE", "seat:1"}});
  REQUIRE_MESSAGE(r.size() == 2, r.Describe());
  CHECK(r.at(0)->type == REDIS_REPLY_NIL);
  CHECK(r.at(1)->integer == 1);
}

TEST_CASE("transaction: a watched lease that expires fails EXEC") {
  START_SERVER(srv);
  auto a = srv.Connect();
  auto b = srv.Connect();
  REQUIRE(b->Cmd({"LOCK.ACQUIRE", "k", "bob", "50"}).is_int());
  REQUIRE(a->Cmd({"WATCH", "k"}).str() == "OK");
  // Past the deadline, whether or not the server's timer has freed it yet.
  std::this_thread::sleep_for(Millis(200));
  Reply r = Transaction(*a, {{"LOCK.ACQUIRE", "k", "alice", "60000"}});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  CHECK(a->Cmd({"LOCK.FENCE", "k"}).is_nil());
}

TEST_CASE("transaction: a hand-off to a waiter fails the EXEC of a client watching the key") {
  START_SERVER(srv);
  auto a = srv.Connect();
  auto owner = srv.Connect();
  auto waiter = srv.Connect(8000);
  int64_t t = owner->Cmd({"LOCK.ACQUIRE", "k", "owner", "60000"}).integer();
  REQUIRE(t > 0);
  waiter->Append({"LOCK.ACQUIRE", "k", "next", "60000", "WAIT", "5000"});
  REQUIRE(waiter->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*owner, "k") == 1; }, 3000));
  REQUIRE(a->Cmd({"WATCH", "k"}).str() == "OK");
  REQUIRE(owner->Cmd({"LOCK.RELEASE", "k", "owner", std::to_string(t)}).integer() == 1);
  REQUIRE(waiter->GetReply().integer() > t);
  Reply r = Transaction(*a, {{"LOCK.FENCE", "k"}});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
}

TEST_CASE("transaction: LOCK.ACQUIRE WAIT inside EXEC replies at once instead of blocking") {
  START_SERVER(srv);
  auto a = srv.Connect();
  auto b = srv.Connect();
  REQUIRE(b->Cmd({"LOCK.ACQUIRE", "k", "bob", "60000"}).is_int());
  // A wait of a minute: were it honoured, EXEC would not answer within the
  // client's 5 s timeout.
  Reply r = Transaction(*a, {{"LOCK.ACQUIRE", "k", "alice", "1000", "WAIT", "60000"},
                             {"LOCK.ACQUIRE", "free", "alice", "1000", "WAIT", "60000"}});
  REQUIRE_MESSAGE(r.size() == 2, r.Describe());
  CHECK(r.at(0)->type == REDIS_REPLY_NIL);
  CHECK(r.at(1)->type == REDIS_REPLY_INTEGER);
  CHECK(WaitersOf(*b, "k") == 0);
  CHECK(a->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("transaction: an EXEC's changes are one unit in the log; a torn unit loads as nothing") {
  ScratchDir dir;
  auto srv = StartIn(dir);
  auto c = srv->Connect();
  int64_t t_old = c->Cmd({"LOCK.ACQUIRE", "old", "alice", "60000"}).integer();
  REQUIRE(t_old > 0);
  // A transaction that changes nothing leaves nothing in the log.
  Reply r = Transaction(*c, {{"LOCK.FENCE", "old"}, {"LOCK.ACQUIRE", "old", "bob", "60000"}});
  REQUIRE_MESSAGE(r.size() == 2, r.Describe());
  std::string path = dir.path + "/" + kAofName;
  std::vector<LogRecord> records = ReadRecords(path);
  CHECK_MESSAGE(CountNamed(records, "MULTI") == 0, Describe(records));

  r = Transaction(*c, {{"LOCK.ACQUIRE", "a", "alice", "60000"},
                       {"LOCK.RELEASE", "old", "alice", std::to_string(t_old)},
                       {"LOCK.ACQUIRE", "b", "alice", "60000"}});
  REQUIRE_MESSAGE(r.size() == 3, r.Describe());
  c.reset();
  REQUIRE(srv->StopWith(SIGTERM, 5000) == 0);

  records = ReadRecords(path);
  size_t multi = records.size(), exec = records.size();
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].words == std::vector<std::string>{"MULTI"}) multi = i;
    if (records[i].words == std::vector<std::string>{"EXEC"}) exec = i;
  }
  REQUIRE_MESSAGE(multi < records.size(), Describe(records));
  REQUIRE_MESSAGE(exec == multi + 4, Describe(records));
  CHECK(CountNamed(records, "MULTI") == 1);
  CHECK(records[multi + 1].words[0] == "LOCK.GRANT");
  CHECK(records[multi + 1].words[1] == "a");
  CHECK(records[multi + 2].words[0] == "LOCK.FREE");
  CHECK(records[multi + 2].words[1] == "old");
  CHECK(records[multi + 3].words[0] == "LOCK.GRANT");
  CHECK(records[multi + 3].words[1] == "b");

  SUBCASE("the whole unit loads") {
    srv = StartIn(dir);
    auto d = srv->Connect();
    CHECK(d->Cmd({"LOCK.FENCE", "a"}).is_int());
    CHECK(d->Cmd({"LOCK.FENCE", "b"}).is_int());
    CHECK(d->Cmd({"LOCK.FENCE", "old"}).is_nil());
  }
  SUBCASE("a unit cut before its EXEC loads as nothing") {
    std::filesystem::resize_file(path, records[exec].offset);
    srv = StartIn(dir);
    auto d = srv->Connect();
    CHECK(d->Cmd({"LOCK.FENCE", "a"}).is_nil());
    CHECK(d->Cmd({"LOCK.FENCE", "b"}).is_nil());
    CHECK(d->Cmd({"LOCK.FENCE", "old"}).integer() == t_old);
  }
}
