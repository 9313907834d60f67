// A key set to the empty string (SET key "", as Redis allows) is a lease
// whose holder is empty. The log must replay it like any other: a server
// that acknowledged it and then refused its own log at the next start would
// not start at all. Found by the command fuzz target
// (tests/fuzz/fuzz_commands.cc), whose input is kept in its corpus.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "aof/log_reader.h"
#include "aof/record.h"
#include "cmd/commands.h"
#include "fake_files.h"
#include "lockd/clock.h"
#include "lockd/config.h"

namespace lockd {
namespace {

class NoServer final : public ServerHooks {
 public:
  void ForEachSession(const std::function<void(Session&)>&) override {}
  Session* FindSession(uint64_t) override { return nullptr; }
  void KillSession(Session&) override {}
  void SessionUnblocked(Session&) override {}
  void RequestShutdown() override {}
  ServerStatus Stats() override { return {}; }
  void ResetStats() override {}
};

// Commands with its log on the in-memory file system.
struct LoggedCommands {
  LoggedCommands() : commands(&config, &server, &clock, &fs) {
    config.appendfilename = "empty-holder-test.aof";  // in memory only
    session.authenticated = true;
    REQUIRE(commands.durability().BeginLoad().ok());
    while (!commands.durability().LoadSome(100)) {
    }
    REQUIRE(commands.durability().FinishLoad().ok());
  }
  std::string Run(std::vector<std::string> words) {
    std::vector<std::string_view> argv(words.begin(), words.end());
    commands.Execute(session, argv, clock.Now());
    REQUIRE(commands.durability().Commit(clock.Now()));
    std::string out;
    session.out.ForEachRun(1 << 20, [&](const char* p, size_t n) { out.append(p, n); });
    session.out.Clear();
    return out;
  }
  std::string Log() const { return fs.Content(config.appendfilename); }

  Config config;
  NoServer server;
  ManualClock clock;
  FakeFileSystem fs;
  Commands commands;
  Session session{1};
};

TEST_CASE("log: a key SET to the empty string is logged and read back as a lease") {
  LoggedCommands c;
  CHECK(c.Run({"SET", "e", ""}) == "+OK\r\n");
  CHECK(c.Run({"SET", "p", "", "PX", "5000"}) == "+OK\r\n");
  CHECK(c.Run({"GET", "e"}) == "$0\r\n\r\n");
  const std::string log = c.Log();
  aof::LogCheck check = aof::CheckLog(log);
  CHECK(check.result == aof::LogReader::Result::kEnd);
  CHECK(check.error == "");

  aof::LogReader reader(log);
  aof::Record r;
  int grants = 0;
  while (reader.Next(&r) == aof::LogReader::Result::kRecord) {
    if (r.type != aof::RecordType::kGrant) continue;
    ++grants;
    CHECK(r.holder.empty());
    CHECK(r.token > 0);
  }
  CHECK(grants == 2);
}

TEST_CASE("log: an empty holder decodes; other fields are still checked") {
  std::vector<std::string_view> argv = {"LOCK.GRANT", "k", "", "7", "0"};
  aof::Record r;
  std::string error;
  CHECK(aof::DecodeRecord(argv, &r, &error));
  CHECK(r.type == aof::RecordType::kGrant);
  CHECK(r.holder.empty());
  CHECK(r.token == 7);
  argv = {"LOCK.EXTEND", "k", "", "7", "1900000000000"};
  CHECK(aof::DecodeRecord(argv, &r, &error));
  argv = {"LOCK.GRANT", "k", "", "0", "0"};
  CHECK_FALSE(aof::DecodeRecord(argv, &r, &error));
  CHECK(error == "bad token");
}

}  // namespace
}  // namespace lockd
