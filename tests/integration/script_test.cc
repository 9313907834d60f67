// Scripts against the real binary: a script's changes are one unit in the
// log (all of it or none of it after a restart, nothing for a script that
// changed nothing), an endless loop is stopped while the server goes on
// serving, and LOCK.ACQUIRE ... WAIT inside a script does not block.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "harness.h"

using namespace lockd_test;

namespace {

std::unique_ptr<TestServer> StartLogged(const ScratchDir& dir,
                                        std::vector<std::string> extra = {}) {
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  options.extra = std::move(extra);
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  return srv;
}

std::string LogPath(const ScratchDir& dir) { return dir.path + "/appendonly.aof"; }

// The log's records as lists of words, with where each starts.
std::vector<RespValue> Records(const std::string& path, std::vector<size_t>* offsets) {
  size_t consumed = 0;
  return ParseRespSequence(ReadWholeFile(path), &consumed, offsets);
}

bool Is(const RespValue& record, const std::string& name) {
  return !record.elems.empty() && record.elems[0].str == name;
}

// Two locks taken by one script.
const char* const kTakeTwo =
    "local a = redis.call('lock.acquire', KEYS[1], ARGV[1], 60000) "
    "local b = redis.call('lock.acquire', KEYS[2], ARGV[1], 60000) "
    "return {a, b}";

}  // namespace

TEST_CASE("scripts: a script's changes are one MULTI/EXEC unit in the log, a read-only one none") {
  ScratchDir dir;
  auto srv = StartLogged(dir);
  auto c = srv->Connect();
  Reply r = c->Cmd({"EVAL", kTakeTwo, "2", "seat-a", "seat-b", "alice"});
  REQUIRE(r.is_array());
  REQUIRE(r.size() == 2);
  // A command after the script makes sure its records were committed.
  REQUIRE(c->Cmd({"PING"}).str() == "PONG");

  std::vector<size_t> offsets;
  std::vector<RespValue> records = Records(LogPath(dir), &offsets);
  size_t multi = records.size();
  for (size_t i = 0; i < records.size(); ++i) {
    if (Is(records[i], "MULTI")) multi = i;
  }
  REQUIRE(multi + 3 < records.size());
  CHECK(Is(records[multi + 1], "LOCK.GRANT"));
  CHECK(records[multi + 1].elems[1].str == "seat-a");
  CHECK(Is(records[multi + 2], "LOCK.GRANT"));
  CHECK(records[multi + 2].elems[1].str == "seat-b");
  CHECK(Is(records[multi + 3], "EXEC"));
  // Never the script text.
  CHECK(ReadWholeFile(LogPath(dir)).find("redis.call") == std::string::npos);

  // A script that only reads (or whose writes change nothing) adds nothing.
  auto size_before = std::filesystem::file_size(LogPath(dir));
  r = c->Cmd({"EVAL", "return redis.call('lock.fence', KEYS[1])", "1", "seat-a"});
  CHECK(r.integer() > 0);
  r = c->Cmd({"EVAL", "return redis.call('lock.release', KEYS[1], 'nobody', 1)", "1", "seat-a"});
  CHECK(r.integer() == 0);
  REQUIRE(c->Cmd({"PING"}).str() == "PONG");
  CHECK(std::filesystem::file_size(LogPath(dir)) == size_before);

  // Restart: both leases are back.
  c.reset();
  srv->Kill();
  srv = StartLogged(dir);
  c = srv->Connect();
  CHECK(c->Cmd({"LOCK.FENCE", "seat-a"}).is_int());
  CHECK(c->Cmd({"LOCK.FENCE", "seat-b"}).is_int());
}

TEST_CASE("scripts: a log cut inside a script's unit loads with none of the script's changes") {
  ScratchDir dir;
  auto srv = StartLogged(dir);
  auto c = srv->Connect();
  REQUIRE(c->Cmd({"EVAL", kTakeTwo, "2", "x", "y", "bob"}).is_array());
  REQUIRE(c->Cmd({"PING"}).str() == "PONG");
  c.reset();
  srv->Kill();

  // Cut right after the first grant: a crash while the unit was written.
  std::vector<size_t> offsets;
  std::vector<RespValue> records = Records(LogPath(dir), &offsets);
  size_t cut = 0;
  for (size_t i = 0; i + 2 < records.size(); ++i) {
    if (Is(records[i], "MULTI") && Is(records[i + 1], "LOCK.GRANT")) cut = offsets[i + 2];
  }
  REQUIRE(cut > 0);
  std::filesystem::resize_file(LogPath(dir), cut);

  srv = StartLogged(dir);
  c = srv->Connect();
  CHECK(c->Cmd({"LOCK.FENCE", "x"}).is_nil());
  CHECK(c->Cmd({"LOCK.FENCE", "y"}).is_nil());
}

TEST_CASE("scripts: an endless loop is stopped by lua-time-limit and the server goes on") {
  START_SERVER(srv, "--lua-time-limit", "200");
  auto looping = srv.Connect(20000);
  auto other = srv.Connect(20000);
  looping->Append({"EVAL", "local n = 0 while true do n = n + 1 end", "0"});
  REQUIRE(looping->Flush());
  // The other client's PING is answered, after the loop was stopped.
  Reply pong = other->Cmd({"PING"});
  CHECK(pong.str() == "PONG");
  Reply r = looping->GetReply();
  REQUIRE(r.is_error());
  CHECK(r.str().rfind("ERR Script killed by lua-time-limit after 200 ms script: ", 0) == 0);
  // Changes made before the stop stay, as in Redis.
  r = looping->Cmd({"EVAL",
                    "redis.call('lock.acquire', KEYS[1], 'h', 60000) while true do end", "1",
                    "kept"});
  CHECK(r.is_error());
  CHECK(other->Cmd({"LOCK.FENCE", "kept"}).is_int());
  CHECK(looping->Cmd({"EVAL", "return 'alive'", "0"}).str() == "alive");
  CHECK(looping->Cmd({"SCRIPT", "KILL"}).str() == "NOTBUSY No scripts in execution right now.");
}

TEST_CASE("scripts: LOCK.ACQUIRE ... WAIT inside a script does not block") {
  START_SERVER(srv);
  auto holder = srv.Connect();
  REQUIRE(holder->Cmd({"LOCK.ACQUIRE", "busy", "holder", "60000"}).is_int());
  // Were the wait honoured, this reply would take a minute: the client's
  // 10 s timeout would fail the command.
  auto c = srv.Connect(10000);
  Reply r = c->Cmd({"EVAL",
                    "return redis.call('lock.acquire', KEYS[1], 'me', 1000, 'WAIT', 60000)",
                    "1", "busy"});
  CHECK(r.is_nil());
  CHECK(srv.Info("clients", "blocked_clients") == "0");
  CHECK(holder->Cmd({"LOCK.INFO", "busy"}).is_array());
  // The same client is free for its next command.
  CHECK(c->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("scripts: INFO memory counts cached scripts") {
  START_SERVER(srv);
  auto c = srv.Connect();
  CHECK(c->Cmd({"SCRIPT", "LOAD", "return 1"}).str() == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  CHECK(c->Cmd({"EVAL", "return 2", "0"}).integer() == 2);
  CHECK(srv.Info("memory", "number_of_cached_scripts") == "2");
  CHECK(std::stoll(srv.Info("memory", "used_memory_lua")) > 0);
  CHECK(c->Cmd({"SCRIPT", "FLUSH"}).str() == "OK");
  CHECK(srv.Info("memory", "number_of_cached_scripts") == "0");
}
