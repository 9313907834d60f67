// Running the server: bad directives and a busy port exit 1 with a
// message naming the problem, --version exits 0, appendonly yes starts with
// its log in --dir, and the log file is in Redis's line format.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.h"

using namespace lockd_test;

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

// A temporary directory removed at the end of the scope.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/lockd-run-dir-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// Arguments that keep a server that wrongly starts harmless: a free port on
// loopback, a private directory.
std::vector<std::string> SafeArgs(const TempDir& dir) {
  return {"--port", std::to_string(FreePort()), "--bind", "127.0.0.1", "--dir", dir.path,
          "--appendonly", "no"};
}

}  // namespace

TEST_CASE("running: a bad directive value exits 1 and names the directive") {
  TempDir dir;
  std::vector<std::string> args = SafeArgs(dir);
  args.insert(args.end(), {"--port", "abc"});
  RunResult r = RunServerOnce(args, 5000);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.find("port") != std::string::npos, r.output);
  CHECK_MESSAGE(r.output.find("abc") != std::string::npos, r.output);

  args = SafeArgs(dir);
  args.insert(args.end(), {"--maxclients", "-5"});
  r = RunServerOnce(args, 5000);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.find("maxclients") != std::string::npos, r.output);
}

TEST_CASE("running: an unknown directive exits 1 and names it") {
  TempDir dir;
  std::vector<std::string> args = SafeArgs(dir);
  args.insert(args.end(), {"--nosuchdirective", "1"});
  RunResult r = RunServerOnce(args, 5000);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.find("nosuchdirective") != std::string::npos, r.output);

  // The same in a config file.
  std::string conf = dir.path + "/bad.conf";
  std::ofstream(conf) << "# a comment\nport " << FreePort() << "\nbind 127.0.0.1\nnosuchdirective yes\n";
  r = RunServerOnce({conf, "--dir", dir.path, "--appendonly", "no"}, 5000);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.output.find("nosuchdirective") != std::string::npos, r.output);
}

TEST_CASE("running: a port already in use exits 1 with a message") {
  START_SERVER(first);
  TempDir dir;
  RunResult r = RunServerOnce({"--port", std::to_string(first.port()), "--bind", "127.0.0.1",
                               "--dir", dir.path, "--appendonly", "no"},
                              5000);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(Lower(r.output).find("in use") != std::string::npos, r.output);
  CHECK_MESSAGE(r.output.find(std::to_string(first.port())) != std::string::npos, r.output);
  // The first server is unaffected.
  auto c = first.Connect();
  CHECK(c->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("running: --version and --help exit 0") {
  RunResult r = RunServerOnce({"--version"}, 5000);
  CHECK(r.exit_code == 0);
  CHECK_MESSAGE(Lower(r.output).find("lockd") != std::string::npos, r.output);
  r = RunServerOnce({"-v"}, 5000);
  CHECK(r.exit_code == 0);
  r = RunServerOnce({"--help"}, 5000);
  CHECK(r.exit_code == 0);
  CHECK_MESSAGE(Lower(r.output).find("usage") != std::string::npos, r.output);
}

TEST_CASE("running: appendonly yes starts and keeps its log in --dir") {
  // The default (no --appendonly at all) and an explicit yes with another
  // file name both start, report the log on, and write the named file.
  struct Variant {
    std::vector<std::string> extra;
    std::string file;
  };
  for (const Variant& v :
       {Variant{{}, "appendonly.aof"},
        Variant{{"--appendonly", "yes", "--appendfilename", "locks.aof"}, "locks.aof"}}) {
    CAPTURE(v.file);
    TempDir dir;
    REQUIRE(!dir.path.empty());
    ServerOptions options;
    options.dir = dir.path;
    options.appendonly = true;
    options.extra = v.extra;
    TestServer srv(options);
    REQUIRE_MESSAGE(srv.started(), srv.start_error());
    auto c = srv.Connect();
    REQUIRE(c->ok());
    Reply r = c->Cmd({"CONFIG", "GET", "appendonly"});
    CHECK_MESSAGE((r.size() == 2 && ElementString(r.at(1)) == "yes"), r.Describe());
    CHECK(InfoField(c->Cmd({"INFO", "persistence"}).str(), "aof_enabled") == "1");
    r = c->Cmd({"LOCK.ACQUIRE", "seat", "alice", "10000"});
    REQUIRE_MESSAGE(r.is_int(), r.Describe());
    std::string path = dir.path + "/" + v.file;
    CHECK_MESSAGE(std::filesystem::exists(path), path);
    CHECK(ReadWholeFile(path).find("alice") != std::string::npos);
    CHECK(srv.StopWith(SIGTERM, 5000) == 0);
  }
}

TEST_CASE("running: log lines are in Redis's format") {
  std::string log;
  pid_t pid = 0;
  {
    START_SERVER(srv);
    pid = srv.pid();
    auto c = srv.Connect();
    c->Cmd({"PING"});
    REQUIRE(srv.StopWith(SIGTERM, 5000) == 0);
    log = srv.ReadLog();
  }
  CHECK(log.find("Ready to accept connections") != std::string::npos);
  const std::regex line_format(
      R"(^\d+:M \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] .*$)");
  std::istringstream lines(log);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    CHECK_MESSAGE(std::regex_match(line, line_format), "log line: ", line);
    CHECK_MESSAGE(line.rfind(std::to_string(pid) + ":M ", 0) == 0, "log line: ", line);
  }
  CHECK(count >= 2);
  CHECK(!log.empty());
  CHECK(log.back() == '\n');
}
