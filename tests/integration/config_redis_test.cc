// The server configured as redis-server is: CONFIG SET's errors in Redis
// 7.0's words, quoted multi-word values on the command line, Debian's
// redis.conf, and a server on a unix socket only.
#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "harness.h"

using namespace lockd_test;

TEST_CASE("config: CONFIG SET with a repeated name or a missing value answers as Redis 7.0") {
  TestServer server;
  REQUIRE_MESSAGE(server.started(), server.start_error());
  auto c = server.Connect();
  CHECK(c->Cmd({"CONFIG", "SET", "timeout", "1", "timeout", "2"}).str() ==
        "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter");
  CHECK(c->Cmd({"CONFIG", "SET", "timeout", "1", "maxclients"}).str() == "ERR syntax error");
  CHECK(c->Cmd({"CONFIG", "GET", "timeout"}).at(1)->str == std::string("0"));
  CHECK(c->Cmd({"CONFIG", "SET", "client-output-buffer-limit", "normal 0 1 9223372036854775807"})
            .str() ==
        "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error "
        "in hard, soft or soft_seconds setting in buffer limit configuration.");
  CHECK(c->Cmd({"CONFIG", "SET", "lock-max-waiters", "4294967296"}).str() ==
        "ERR CONFIG SET failed (possibly related to argument 'lock-max-waiters') - argument must "
        "be between 1 and 4294967295 inclusive");
  CHECK(c->Cmd({"CONFIG", "SET", "loglevel", "loud"}).str() ==
        "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one "
        "of the following: debug, verbose, notice, warning");
  CHECK(c->Cmd({"CONFIG", "SET", "dir", "/tmp"}).str() ==
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config");
  // A compatibility directive is set and read back.
  CHECK(c->Cmd({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"}).str() == "OK");
  CHECK(c->Cmd({"CONFIG", "GET", "maxmemory-policy"}).at(1)->str == std::string("allkeys-lru"));
}

TEST_CASE("config: quoted multi-word values on the command line start the server") {
  ServerOptions options;
  options.extra = {"--bind", "127.0.0.1 -::1", "--save", "900 1", "--client-output-buffer-limit",
                   "normal 10mb 5mb 60"};
  TestServer server(options);
  REQUIRE_MESSAGE(server.started(), server.start_error());
  auto c = server.Connect();
  CHECK(c->Cmd({"CONFIG", "GET", "bind"}).at(1)->str == std::string("127.0.0.1 -::1"));
  CHECK(c->Cmd({"CONFIG", "GET", "client-output-buffer-limit"}).at(1)->str ==
        std::string("normal 10485760 5242880 60 slave 268435456 67108864 60 pubsub 33554432 "
                    "8388608 60"));
}

TEST_CASE("config: Debian's unchanged redis.conf starts the server") {
  if (!std::filesystem::exists("/etc/redis/redis.conf")) {
    MESSAGE("no /etc/redis/redis.conf on this machine");
    return;
  }
  ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  const int port = FreePort();
  // The file is read as is; only what would touch the system's own redis
  // (its port, directory, log, pidfile, and detaching) is overridden.
  const std::string log = dir.path + "/lockd.log";
  std::vector<std::string> args = {"/etc/redis/redis.conf", "--port",      std::to_string(port),
                                   "--dir",                 dir.path,      "--daemonize",
                                   "no",                    "--logfile",   log,
                                   "--pidfile",             dir.path + "/lockd.pid"};
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    const std::string binary = ServerBinary();
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  const bool up = WaitFor(
      [&] {
        Client c(port, 200);
        return c.ok() && c.Cmd({"PING"}).str() == "PONG";
      },
      10000);
  if (up) {
    Client c(port);
    CHECK(c.Cmd({"CONFIG", "GET", "protected-mode"}).at(1)->str == std::string("yes"));
    CHECK(c.Cmd({"CONFIG", "GET", "appendfsync"}).at(1)->str == std::string("everysec"));
    CHECK(c.Cmd({"LOCK.ACQUIRE", "x", "c", "60000"}).integer() == 1);
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK_MESSAGE(up, ReadWholeFile(log));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("config: --port 0 with a unix socket serves on the socket only") {
  ScratchDir dir;
  REQUIRE_FALSE(dir.path.empty());
  const std::string sock = dir.path + "/lockd.sock";
  std::vector<std::string> args = {"--port", "0", "--unixsocket", sock, "--dir", dir.path,
                                   "--appendonly", "no"};
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    const std::string binary = ServerBinary();
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  std::string pong;
  WaitFor(
      [&] {
        redisContext* ctx = redisConnectUnix(sock.c_str());
        if (ctx != nullptr && ctx->err == 0) {
          auto* r = static_cast<redisReply*>(redisCommand(ctx, "PING"));
          if (r != nullptr) {
            pong = r->type == REDIS_REPLY_STATUS ? r->str : "";
            freeReplyObject(r);
          }
        }
        if (ctx != nullptr) redisFree(ctx);
        return pong == "PONG";
      },
      10000);
  CHECK(pong == "PONG");
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
}
