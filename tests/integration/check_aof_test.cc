// lockd-check-aof on real files: a valid log passes, a torn tail is reported
// and cut with --fix to a log that then passes, damage in the middle is
// reported and never cut, and usage errors exit 1 with a message on stderr.
// The tool is build/lockd-check-aof, or $LOCKD_CHECK_AOF when set.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string CheckAofBinary() {
  const char* env = std::getenv("LOCKD_CHECK_AOF");
  return env != nullptr && *env != '\0' ? env : "build/lockd-check-aof";
}

// A temporary directory removed at the end of the scope.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/lockd-check-aof-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

struct ToolRun {
  int exit_code = -1;  // -1: killed, or did not exit within the time limit
  std::string out;
  std::string err;
};

// Runs lockd-check-aof with `args`, its stdout and stderr going to files in
// `dir`, and waits at most 10 seconds for it.
ToolRun RunTool(const std::string& dir, const std::vector<std::string>& args) {
  const std::string out_path = dir + "/tool.out";
  const std::string err_path = dir + "/tool.err";
  const std::string binary = CheckAofBinary();
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);

  ToolRun run;
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  REQUIRE_MESSAGE(run.exit_code != 127, "cannot run ", binary);
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  return run;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Records written out by hand, so that this test checks the file format and
// not only that the tool agrees with the encoders it shares with the server.
const std::string kReserve = "*3\r\n$12\r\nLOCK.RESERVE\r\n$4\r\n1000\r\n$13\r\n1900000060000\r\n";
const std::string kGrant =
    "*5\r\n$10\r\nLOCK.GRANT\r\n$1\r\nk\r\n$1\r\nh\r\n$1\r\n7\r\n$13\r\n1900000000000\r\n";
const std::string kExtend =
    "*5\r\n$11\r\nLOCK.EXTEND\r\n$1\r\nk\r\n$1\r\nh\r\n$1\r\n7\r\n$13\r\n1900000005000\r\n";
const std::string kUnit =
    "*1\r\n$5\r\nMULTI\r\n"
    "*3\r\n$9\r\nLOCK.FREE\r\n$1\r\nk\r\n$7\r\nrelease\r\n"
    "*5\r\n$10\r\nLOCK.GRANT\r\n$1\r\nk\r\n$2\r\nh2\r\n$1\r\n8\r\n$13\r\n1900000009000\r\n"
    "*1\r\n$4\r\nEXEC\r\n";
const std::string kFree = "*3\r\n$9\r\nLOCK.FREE\r\n$1\r\nk\r\n$6\r\nexpire\r\n";
const std::string kShutdown = "*2\r\n$13\r\nLOCK.SHUTDOWN\r\n$13\r\n1900000010000\r\n";

const std::string kValidLog = kReserve + kGrant + kExtend + kUnit + kFree + kShutdown;

std::string Analyzed(const std::string& path, size_t size, size_t ok_up_to) {
  return "AOF analyzed: filename=" + path + ", size=" + std::to_string(size) +
         ", ok_up_to=" + std::to_string(ok_up_to) + ", diff=" + std::to_string(size - ok_up_to) +
         "\n";
}

}  // namespace

TEST_CASE("check-aof: a valid log is valid") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  const std::string path = dir.path + "/appendonly.aof";
  WriteFile(path, kValidLog);

  ToolRun run = RunTool(dir.path, {path});
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        Analyzed(path, kValidLog.size(), kValidLog.size()) + "AOF " + path + " is valid\n");
  CHECK(run.err.empty());

  // --fix on a valid log changes nothing.
  run = RunTool(dir.path, {"--fix", path});
  CHECK(run.exit_code == 0);
  CHECK(Contains(run.out, "AOF " + path + " is valid\n"));
  CHECK(ReadFile(path) == kValidLog);

  // So is an empty one.
  WriteFile(path, "");
  run = RunTool(dir.path, {path});
  CHECK(run.exit_code == 0);
  CHECK(run.out == Analyzed(path, 0, 0) + "AOF " + path + " is valid\n");
}

TEST_CASE("check-aof: a torn last record is reported, and cut with --fix") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  const std::string path = dir.path + "/appendonly.aof";

  struct Torn {
    const char* what;
    std::string tail;
  };
  const std::vector<Torn> cases = {
      {"a record cut in its name", "*5\r\n$10\r\nLOCK.G"},
      {"a record cut in its last CRLF", kGrant.substr(0, kGrant.size() - 1)},
      {"a unit without EXEC", kUnit.substr(0, kUnit.size() - 14)},
      {"a unit cut in EXEC", kUnit.substr(0, kUnit.size() - 3)},
  };
  for (const Torn& torn : cases) {
    CAPTURE(torn.what);
    const std::string data = kValidLog + torn.tail;
    WriteFile(path, data);

    ToolRun run = RunTool(dir.path, {path});
    CHECK(run.exit_code == 1);
    CHECK(run.out == Analyzed(path, data.size(), kValidLog.size()) + "AOF " + path +
                         " has a torn last record at byte offset " +
                         std::to_string(kValidLog.size()) + ": use --fix to cut it\n");
    CHECK(ReadFile(path) == data);

    run = RunTool(dir.path, {"--fix", path});
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "Successfully truncated AOF " + path + " to " +
                                std::to_string(kValidLog.size()) + " bytes\n"));
    CHECK(std::filesystem::file_size(path) == kValidLog.size());
    CHECK(ReadFile(path) == kValidLog);

    run = RunTool(dir.path, {path});
    CHECK(run.exit_code == 0);
    CHECK(Contains(run.out, "AOF " + path + " is valid\n"));
  }
}

TEST_CASE("check-aof: damage before valid records is reported and never cut") {
  TempDir dir;
  REQUIRE(!dir.path.empty());
  const std::string path = dir.path + "/appendonly.aof";
  const std::string head = kReserve + kGrant;
  const std::string bad =
      "*5\r\n$10\r\nLOCK.GRANX\r\n$1\r\nk\r\n$1\r\nh\r\n$1\r\n9\r\n$13\r\n1900000000000\r\n";
  const std::string data = head + bad + kExtend + kUnit + kShutdown;
  WriteFile(path, data);

  ToolRun run = RunTool(dir.path, {path});
  CHECK(run.exit_code == 1);
  CHECK(run.out == Analyzed(path, data.size(), head.size()) + "AOF " + path +
                       " is damaged at byte offset " + std::to_string(head.size()) +
                       ": unknown record 'LOCK.GRANX'\n");
  CHECK(ReadFile(path) == data);

  run = RunTool(dir.path, {"--fix", path});
  CHECK(run.exit_code == 1);
  CHECK(Contains(run.out, "is damaged at byte offset " + std::to_string(head.size())));
  CHECK(Contains(run.out, "Refusing to cut " + std::to_string(data.size() - head.size()) +
                              " bytes: the damage is not a torn last record; restore the file "
                              "from a backup or cut it by hand at offset " +
                              std::to_string(head.size()) + "\n"));
  CHECK(ReadFile(path) == data);

  // Garbage after the last record is damage too, not a torn record: it is not
  // the start of any record.
  WriteFile(path, kValidLog + "hello");
  run = RunTool(dir.path, {"--fix", path});
  CHECK(run.exit_code == 1);
  CHECK(Contains(
      run.out, "is damaged at byte offset " + std::to_string(kValidLog.size()) + ": expected '*'"));
  CHECK(ReadFile(path) == kValidLog + "hello");
}

TEST_CASE("check-aof: usage errors exit 1 with a message on stderr") {
  TempDir dir;
  REQUIRE(!dir.path.empty());

  ToolRun run = RunTool(dir.path, {dir.path + "/missing.aof"});
  CHECK(run.exit_code == 1);
  CHECK(Contains(run.err, dir.path + "/missing.aof"));
  CHECK(run.out.empty());

  run = RunTool(dir.path, {"--fix", dir.path + "/missing.aof"});
  CHECK(run.exit_code == 1);
  CHECK(!run.err.empty());
  CHECK(!std::filesystem::exists(dir.path + "/missing.aof"));

  run = RunTool(dir.path, {});
  CHECK(run.exit_code == 1);
  CHECK(Contains(run.err, "Usage"));

  run = RunTool(dir.path, {"--frobnicate", dir.path + "/x.aof"});
  CHECK(run.exit_code == 1);
  CHECK(Contains(run.err, "--frobnicate"));

  run = RunTool(dir.path, {dir.path});
  CHECK(run.exit_code == 1);
  CHECK(!run.err.empty());

  run = RunTool(dir.path, {"--help"});
  CHECK(run.exit_code == 0);
  CHECK(Contains(run.out, "Usage: lockd-check-aof [--fix]"));
}
