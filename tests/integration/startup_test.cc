// Starting the server next to another one: one live server per data
// directory (a second start exits 1 naming the holder and touches nothing in
// the directory; a lock left by a killed server stops nobody; daemonize and
// the log-rewrite child keep the lock), and a start that fails to bind leaves
// the running server's pidfile alone.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

// Every entry of `dir` with its size and modification time, to show that a
// refused start changed nothing there.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0) continue;
    out[entry.path().filename().string()] =
        std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
        std::to_string(st.st_mtim.tv_nsec);
  }
  return out;
}

std::vector<std::string> SecondStartArgs(const std::string& dir) {
  return {"--port", std::to_string(FreePort()), "--bind", "127.0.0.1", "--dir", dir};
}

// Waits (bounded) until `pid`, which is not our child, has gone.
bool WaitGone(pid_t pid, int timeout_ms) {
  return WaitFor([pid] { return ::kill(pid, 0) != 0 && errno == ESRCH; }, timeout_ms);
}

pid_t PidInFile(const std::string& path) {
  const std::string text = ReadWholeFile(path);
  return text.empty() ? -1 : static_cast<pid_t>(std::atoi(text.c_str()));
}

// Redis's log line: "<pid>:M 27 Nov 2026 10:00:00.000 # message".
const std::regex kRefusalLine(
    R"((^|\n)\d+:M \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3} # .*in use by another lockd-server process \(pid (\d+)\))");

std::string HolderPid(const std::string& output) {
  std::smatch m;
  return std::regex_search(output, m, kRefusalLine) ? m[2].str() : "";
}

}  // namespace

TEST_CASE("startup: a second server on a data directory in use exits 1, names the holder, touches nothing") {
  ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  TestServer first(options);
  REQUIRE_MESSAGE(first.started(), first.start_error());
  auto c = first.Connect();
  REQUIRE(c->Cmd({"LOCK.ACQUIRE", "x", "c", "60000"}).integer() == 1);

  const auto before = Snapshot(dir.path);
  std::vector<std::string> args = SecondStartArgs(dir.path);
  args.insert(args.end(), {"--pidfile", "second.pid"});
  RunResult r = RunServerOnce(args, 10000);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(HolderPid(r.output) == std::to_string(first.pid()), r.output);
  CHECK(Snapshot(dir.path) == before);

  // The first server goes on alone: its tokens keep rising.
  CHECK(c->Cmd({"LOCK.ACQUIRE", "y", "c", "60000"}).integer() == 2);
}

TEST_CASE("startup: a directory lock left by a killed server does not stop a restart") {
  ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  {
    TestServer first(options);
    REQUIRE_MESSAGE(first.started(), first.start_error());
    REQUIRE(first.Connect()->Cmd({"LOCK.ACQUIRE", "x", "c", "60000"}).integer() == 1);
    first.Kill();
  }
  TestServer second(options);
  REQUIRE_MESSAGE(second.started(), second.start_error());
  CHECK(second.Connect()->Cmd({"LOCK.ACQUIRE", "y", "c", "60000"}).integer() == 2);
  CHECK(PidInFile(dir.path + "/lockd.lock") == second.pid());
}

TEST_CASE("startup: with daemonize the running process holds the directory lock, through a rewrite") {
  ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  const int port = FreePort();
  const std::string pidfile = dir.path + "/daemon.pid";
  RunResult r = RunServerOnce({"--port", std::to_string(port), "--bind", "127.0.0.1", "--dir",
                               dir.path, "--daemonize", "yes", "--pidfile", pidfile, "--logfile",
                               dir.path + "/daemon.log"},
                              10000);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  REQUIRE(WaitFor([&] { return PidInFile(pidfile) > 0; }, 10000));
  const pid_t daemon = PidInFile(pidfile);
  CHECK(PidInFile(dir.path + "/lockd.lock") == daemon);

  {
    Client c(port);
    REQUIRE(WaitFor([&] { return c.Cmd({"PING"}).str() == "PONG"; }, 10000));
    REQUIRE(c.Cmd({"LOCK.ACQUIRE", "x", "c", "60000"}).integer() == 1);
    // The rewrite child closes the descriptors it inherits; the parent's
    // lock must not go with them.
    REQUIRE(c.Cmd({"BGREWRITEAOF"}).is_status());
    CHECK(WaitFor(
        [&] {
          const std::string s = c.Cmd({"INFO", "persistence"}).str();
          return InfoField(s, "aof_rewrite_in_progress") == "0" &&
                 InfoField(s, "aof_rewrite_scheduled") != "1";
        },
        10000));
  }
  r = RunServerOnce(SecondStartArgs(dir.path), 10000);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(HolderPid(r.output) == std::to_string(daemon), r.output);

  ::kill(daemon, SIGKILL);
  REQUIRE(WaitGone(daemon, 10000));
  ServerOptions options;
  options.dir = dir.path;
  options.appendonly = true;
  TestServer restarted(options);
  REQUIRE_MESSAGE(restarted.started(), restarted.start_error());
  CHECK(restarted.Connect()->Cmd({"LOCK.ACQUIRE", "y", "c", "60000"}).integer() == 2);
}

TEST_CASE("startup: a start that cannot bind leaves the running server's pidfile alone") {
  ScratchDir other_dir;
  REQUIRE_FALSE(other_dir.path.empty());
  ServerOptions options;
  TestServer running(options);
  REQUIRE_MESSAGE(running.started(), running.start_error());
  const std::string pidfile = running.dir() + "/shared.pid";
  // The running server was started without a pidfile; give it one the way an
  // init script would have, then start a second server on its port.
  {
    FILE* f = fopen(pidfile.c_str(), "w");
    REQUIRE(f != nullptr);
    fprintf(f, "%d\n", static_cast<int>(running.pid()));
    fclose(f);
  }
  RunResult r = RunServerOnce({"--port", std::to_string(running.port()), "--bind", "127.0.0.1",
                               "--dir", other_dir.path, "--appendonly", "no", "--pidfile", pidfile},
                              10000);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.find("in use") != std::string::npos, r.output);
  CHECK(PidInFile(pidfile) == running.pid());
}

TEST_CASE("startup: the pidfile is written once listening and removed at a clean exit") {
  ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  ServerOptions options;
  options.dir = dir.path;
  options.extra = {"--pidfile", "lockd.pid"};
  TestServer server(options);
  REQUIRE_MESSAGE(server.started(), server.start_error());
  CHECK(PidInFile(dir.path + "/lockd.pid") == server.pid());
  CHECK(server.StopWith(SIGTERM) == 0);
  CHECK_FALSE(std::filesystem::exists(dir.path + "/lockd.pid"));
}
