#include "parity.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

namespace lockd_test {

std::string FindRedisServer() {
  if (const char* env = std::getenv("REDIS_SERVER")) return access(env, X_OK) == 0 ? env : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/usr/local/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/redis-server";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

RedisReference::RedisReference(std::vector<std::string> extra) {
  binary_ = FindRedisServer();
  if (binary_.empty()) return;
  for (int attempt = 0; attempt < 3 && !started_; ++attempt) Start(extra);
}

RedisReference::~RedisReference() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void RedisReference::Start(const std::vector<std::string>& extra) {
  port_ = FreePort();
  std::vector<std::string> args = {binary_, "--port", std::to_string(port_), "--save", "",
                                   "--appendonly", "no", "--daemonize", "no",
                                   "--bind", "127.0.0.1", "--logfile", "/dev/null"};
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  started_ = WaitFor(
      [&] {
        RawConn w(port_);
        if (!w.ok()) return false;
        std::string r = w.Command({"PING"}, 1000);
        return r == "+PONG\r\n" || r.rfind("-NOAUTH", 0) == 0;
      },
      5000, 20);
  if (!started_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

std::string Show(const std::string& bytes) {
  std::string out;
  for (char c : bytes) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Join(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) out += (out.empty() ? "" : " ") + ("'" + a + "'");
  return out;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

Pair::Pair(int lockd_port, int redis_port) : lockd(lockd_port), redis(redis_port) {
  REQUIRE(lockd.ok());
  REQUIRE(redis.ok());
}

void Pair::Same(const std::vector<std::string>& args) {
  std::string l = lockd.Command(args);
  std::string r = redis.Command(args);
  CHECK_MESSAGE(l == r, Join(args), "\n  redis: ", Show(r), "\n  lockd: ", Show(l));
}

}  // namespace lockd_test
