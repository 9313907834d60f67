// Tokens never repeat or go backwards, whatever an operator or a damaged
// file does between runs: switching appendonly off and on (a log left by a
// `yes` run is superseded by a `no` run and never replayed as current
// afterwards), tokens at the end of the signed 64-bit range (a clear error,
// never a wrap), unreadable or damaged files that would hide tokens, and
// BGREWRITEAOF under appendonly no (refused: its log would go stale).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

using namespace lockd_test;

namespace {

constexpr char kAofName[] = "appendonly.aof";
constexpr int64_t kMax = INT64_MAX;

std::string AofPath(const ScratchDir& dir) { return dir.path + "/" + kAofName; }
std::string TokensPath(const ScratchDir& dir) { return AofPath(dir) + ".tokens"; }

std::unique_ptr<TestServer> StartWith(const ScratchDir& dir, bool appendonly,
                                      std::vector<std::string> extra = {}) {
  REQUIRE(!dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = appendonly;
  options.extra = std::move(extra);
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  return srv;
}

int64_t Acquire(Client& c, const std::string& key, const std::string& holder) {
  Reply r = c.Cmd({"LOCK.ACQUIRE", key, holder, "600000"});
  REQUIRE_MESSAGE(r.is_int(), "LOCK.ACQUIRE ", key, " ", holder, ": ", r.Describe());
  return r.integer();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

std::string Reserve(int64_t limit, int64_t horizon) {
  return Multibulk({"LOCK.RESERVE", std::to_string(limit), std::to_string(horizon)});
}

// The files in `dir` whose name starts with `prefix`.
std::vector<std::string> FilesStartingWith(const ScratchDir& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

// A start that must fail: its exit code and output.
RunResult FailingStart(const ScratchDir& dir, const std::string& appendonly) {
  return RunServerOnce({"--port", std::to_string(FreePort()), "--bind", "127.0.0.1", "--dir",
                        dir.path, "--appendonly", appendonly});
}

// ---- Switching appendonly between runs ----

TEST_CASE("token safety: a lease replaced while the log was off never comes back") {
  ScratchDir dir;
  int64_t dave = 0;
  {
    auto srv = StartWith(dir, true);
    auto c = srv->Connect();
    dave = Acquire(*c, "k9", "dave");
    srv->Kill();
  }
  int64_t eve = 0;
  {
    auto srv = StartWith(dir, false);
    auto c = srv->Connect();
    // The log's leases are not kept with the log off: k9 is free.
    CHECK(c->Cmd({"LOCK.FENCE", "k9"}).is_nil());
    eve = Acquire(*c, "k9", "eve");
    CHECK(eve > dave);
    // The old log was moved aside, with a warning saying where.
    CHECK(!std::filesystem::exists(AofPath(dir)));
    std::vector<std::string> aside = FilesStartingWith(dir, std::string(kAofName) + ".superseded-");
    CHECK(aside.size() == 1);
    CHECK_MESSAGE(srv->ReadLog().find("superseded") != std::string::npos, srv->ReadLog());
    srv->Kill();
  }
  {
    auto srv = StartWith(dir, true);
    auto c = srv->Connect();
    // Dave's lease must not be replayed over eve's (which was not kept either).
    Reply fence = c->Cmd({"LOCK.FENCE", "k9"});
    CHECK_MESSAGE(fence.is_nil(), fence.Describe());
    int64_t next = Acquire(*c, "k9", "frank");
    CHECK(next > eve);
    srv->Kill();
  }
  {
    // And once more, off then on: still never backwards.
    auto srv = StartWith(dir, false);
    auto c = srv->Connect();
    int64_t t = Acquire(*c, "other", "h");
    CHECK(t > eve);
    srv->Kill();
    auto again = StartWith(dir, true);
    auto c2 = again->Connect();
    CHECK(c2->Cmd({"LOCK.FENCE", "k9"}).is_nil());
    CHECK(Acquire(*c2, "k10", "h") > t);
    CHECK(FilesStartingWith(dir, std::string(kAofName) + ".superseded-").size() == 2);
  }
}

TEST_CASE("token safety: with the log off, a damaged or unreadable log stops the start") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  // Records after the damage could name any token: none is safe to issue.
  std::string log = Multibulk({"LOCK.GRANT", "a", "h", "5", "0"}) + "*3\r\n$3\r\nBAD\r\n" +
                    Multibulk({"LOCK.GRANT", "b", "h", "900000", "0"});
  WriteFile(AofPath(dir), log);
  RunResult r = FailingStart(dir, "no");
  CHECK_MESSAGE(r.exit_code == 1, r.output);
  CHECK_MESSAGE(r.output.find("offset") != std::string::npos, r.output);
  // The file stays where it was, for the operator to repair.
  CHECK(std::filesystem::exists(AofPath(dir)));

  SUBCASE("unreadable") {
    if (geteuid() == 0) return;  // root reads anything
    WriteFile(AofPath(dir), Multibulk({"LOCK.GRANT", "a", "h", "5", "0"}));
    std::filesystem::permissions(AofPath(dir), std::filesystem::perms::none);
    RunResult u = FailingStart(dir, "no");
    CHECK_MESSAGE(u.exit_code == 1, u.output);
  }
}

TEST_CASE("token safety: a token file that does not read to its end stops the start") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  std::string full = Reserve(70000, 0);
  WriteFile(TokensPath(dir), full.substr(0, full.size() - 3));
  for (const char* appendonly : {"yes", "no"}) {
    CAPTURE(appendonly);
    RunResult r = FailingStart(dir, appendonly);
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(r.output.find(".tokens") != std::string::npos, r.output);
  }
}

// ---- The end of the token range ----

TEST_CASE("token safety: tokens stop at 2^63-1 with an error, never wrap") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  SUBCASE("always") {
    WriteFile(AofPath(dir), Reserve(kMax - 3, 0));
    auto srv = StartWith(dir, true);
    auto c = srv->Connect();
    CHECK(Acquire(*c, "a", "h") == kMax - 2);
    CHECK(Acquire(*c, "b", "h") == kMax - 1);
    CHECK(Acquire(*c, "c", "h") == kMax);
    Reply r = c->Cmd({"LOCK.ACQUIRE", "d", "h", "1000"});
    CHECK_MESSAGE(r.is_error(), r.Describe());
    CHECK_MESSAGE(r.str().rfind("ERR fencing tokens exhausted", 0) == 0, r.str());
    // A wait for a held key could never be granted: refused too.
    r = c->Cmd({"LOCK.ACQUIRE", "c", "other", "1000", "WAIT", "100"});
    CHECK_MESSAGE(r.str().rfind("ERR fencing tokens exhausted", 0) == 0, r.Describe());
    // Without WAIT a held key is simply busy.
    CHECK(c->Cmd({"LOCK.ACQUIRE", "c", "other", "1000"}).is_nil());
    // Current holders go on: re-acquire, renew, release.
    CHECK(c->Cmd({"LOCK.ACQUIRE", "c", "h", "60000"}).integer() == kMax);
    CHECK(c->Cmd({"LOCK.RENEW", "c", "h", std::to_string(kMax), "60000"}).integer() == 1);
    CHECK(c->Cmd({"LOCK.FENCE", "c"}).integer() == kMax);
    CHECK(c->Cmd({"LOCK.RELEASE", "c", "h", std::to_string(kMax)}).integer() == 1);
    CHECK(c->Cmd({"LOCK.FENCE", "c"}).is_nil());
    CHECK(c->Cmd({"LOCK.ACQUIRE", "c", "h", "1000"}).is_error());
    CHECK(srv->Info("Locks", "locks_last_token") == std::to_string(kMax));
    // The log it wrote loads again, and the counter is still at its end.
    srv->Kill();
    auto again = StartWith(dir, true);
    auto c2 = again->Connect();
    CHECK(c2->Cmd({"LOCK.FENCE", "a"}).integer() == kMax - 2);
    CHECK(c2->Cmd({"LOCK.ACQUIRE", "e", "h", "1000"}).is_error());
    CHECK(c2->Cmd({"LOCK.ACQUIRE", "a", "h", "1000"}).integer() == kMax - 2);
  }
  SUBCASE("everysec: the reservation saturates") {
    WriteFile(AofPath(dir), Reserve(kMax - 3, 0));
    auto srv = StartWith(dir, true, {"--appendfsync", "everysec"});
    auto c = srv->Connect();
    CHECK(Acquire(*c, "a", "h") == kMax - 2);
    CHECK(srv->Info("persistence", "lock_reserved_tokens") == std::to_string(kMax));
    srv->StopWith(SIGTERM);
    auto again = StartWith(dir, true, {"--appendfsync", "everysec"});
    auto c2 = again->Connect();
    CHECK(c2->Cmd({"LOCK.FENCE", "a"}).integer() == kMax - 2);
    CHECK(c2->Cmd({"LOCK.ACQUIRE", "b", "h", "1000"}).is_error());
  }
  SUBCASE("appendonly no: the token file saturates") {
    WriteFile(TokensPath(dir), Reserve(kMax - 1, 0));
    auto srv = StartWith(dir, false);
    auto c = srv->Connect();
    CHECK(Acquire(*c, "a", "h") == kMax);
    CHECK(c->Cmd({"LOCK.ACQUIRE", "b", "h", "1000"}).is_error());
    srv->Kill();
    auto again = StartWith(dir, false);
    CHECK(again->Connect()->Cmd({"LOCK.ACQUIRE", "b", "h", "1000"}).is_error());
  }
}

TEST_CASE("token safety: a waiter queued before the counter ran out times out, never wraps") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  WriteFile(AofPath(dir), Reserve(kMax - 2, 0));
  auto srv = StartWith(dir, true);
  auto holder = srv->Connect();
  auto waiter = srv->Connect();
  CHECK(Acquire(*holder, "k", "h") == kMax - 1);
  waiter->Append({"LOCK.ACQUIRE", "k", "w", "1000", "WAIT", "5000"});
  REQUIRE(waiter->Flush());
  // The wait must be queued before the counter runs out (after, it is refused).
  for (int i = 0; i < 500 && WaitersOf(*holder, "k") != 1; ++i) usleep(10'000);
  REQUIRE(WaitersOf(*holder, "k") == 1);
  CHECK(Acquire(*holder, "last", "h") == kMax);  // the counter is now at its end
  CHECK(holder->Cmd({"LOCK.RELEASE", "k", "h", std::to_string(kMax - 1)}).integer() == 1);
  Reply r = waiter->GetReply();
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  CHECK(holder->Cmd({"LOCK.FENCE", "k"}).is_nil());
}

TEST_CASE("token safety: records naming tokens outside 1..2^63-1 are damage") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  std::string good = Multibulk({"LOCK.GRANT", "a", "h", "7", "0"});
  for (const std::string& bad :
       {Multibulk({"LOCK.GRANT", "b", "h", "9223372036854775808", "0"}),
        Multibulk({"LOCK.EXTEND", "b", "h", "0", "0"}),
        Multibulk({"LOCK.RESERVE", "9223372036854775808", "0"}),
        Multibulk({"LOCK.RESERVE", "-1", "0"}),
        Multibulk({"LOCK.RESERVE", "18446744073709551615", "0"})}) {
    CAPTURE(bad);
    WriteFile(AofPath(dir), good + bad + good);
    RunResult r = FailingStart(dir, "yes");
    CHECK_MESSAGE(r.exit_code == 1, r.output);
    CHECK_MESSAGE(r.output.find("offset " + std::to_string(good.size())) != std::string::npos,
                  r.output);
  }
}

// Earlier versions wrote `LOCK.RESERVE 0 <horizon>` when a log was rewritten
// before the first grant; such a log must still load, and reserves nothing.
TEST_CASE("token safety: a log starting with LOCK.RESERVE 0 still loads") {
  ScratchDir dir;
  REQUIRE(!dir.path.empty());
  WriteFile(AofPath(dir), Multibulk({"LOCK.RESERVE", "0", "0"}) +
                              Multibulk({"LOCK.GRANT", "a", "h", "7", "0"}) +
                              Multibulk({"LOCK.SHUTDOWN", "0"}));
  auto srv = StartWith(dir, true);
  auto c = srv->Connect();
  CHECK(Acquire(*c, "b", "h") == 8);
}

// ---- BGREWRITEAOF with the log off ----

TEST_CASE("token safety: BGREWRITEAOF under appendonly no is refused and writes no log") {
  ScratchDir dir;
  auto srv = StartWith(dir, false);
  auto c = srv->Connect();
  Acquire(*c, "k", "h");
  Reply r = c->Cmd({"BGREWRITEAOF"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  CHECK_MESSAGE(r.str().find("appendonly yes") != std::string::npos, r.str());
  CHECK(c->Cmd({"PING"}).str() == "PONG");
  CHECK(!std::filesystem::exists(AofPath(dir)));
  CHECK(FilesStartingWith(dir, "temp-rewriteaof").empty());
  CHECK(srv->Info("persistence", "aof_rewrite_in_progress") == "0");
}

}  // namespace

// The directory remembers its last appendfilename: a start under another
// name would begin below the tokens in the old name's files (and without its
// leases), so it stops until the name is put back or the files renamed.
TEST_CASE("token safety: another appendfilename for the same dir is refused while the old files exist") {
  ScratchDir dir;
  int64_t before = 0;
  {
    auto srv = StartWith(dir, true, {"--appendfilename", "first.aof"});
    auto c = srv->Connect();
    REQUIRE(c->ok());
    Acquire(*c, "seat", "ann");
    before = Acquire(*c, "seat2", "ann");
  }
  RunResult r = RunServerOnce({"--port", std::to_string(FreePort()), "--bind", "127.0.0.1",
                               "--dir", dir.path, "--appendfilename", "second.aof"});
  CHECK_FALSE(r.timed_out);
  CHECK_MESSAGE(r.exit_code == 1, r.output);
  CHECK_MESSAGE(r.output.find("first.aof") != std::string::npos, r.output);
  CHECK_FALSE(std::filesystem::exists(dir.path + "/second.aof"));
  // Same with the log off: its token file would start below as well.
  r = RunServerOnce({"--port", std::to_string(FreePort()), "--bind", "127.0.0.1", "--dir",
                     dir.path, "--appendonly", "no", "--appendfilename", "second.aof"});
  CHECK_MESSAGE(r.exit_code == 1, r.output);

  SUBCASE("the old name still works, and tokens go on from there") {
    auto srv = StartWith(dir, true, {"--appendfilename", "first.aof"});
    auto c = srv->Connect();
    CHECK(Acquire(*c, "seat3", "bob") > before);
  }
  SUBCASE("renamed files are taken under the new name") {
    std::filesystem::rename(dir.path + "/first.aof", dir.path + "/second.aof");
    auto srv = StartWith(dir, true, {"--appendfilename", "second.aof"});
    auto c = srv->Connect();
    CHECK(c->Cmd({"LOCK.FENCE", "seat2"}).integer() == before);
    CHECK(Acquire(*c, "seat3", "bob") > before);
  }
}
