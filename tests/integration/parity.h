// What the parity tests share: a real redis-server 7.0 started on a free
// port as the reference, and a pair of raw connections (one to lockd, one to
// redis-server) that sends the same command to both and checks that the
// replies are the same bytes. Without a redis-server binary the cases are
// skipped with a message ($REDIS_SERVER names another binary).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "harness.h"

namespace lockd_test {

// The redis-server binary: $REDIS_SERVER, else the first on $PATH; "" if none.
std::string FindRedisServer();

class RedisReference {
 public:
  // `extra`: more directives ("--name", "value", ...).
  explicit RedisReference(std::vector<std::string> extra = {});
  ~RedisReference();
  RedisReference(const RedisReference&) = delete;
  RedisReference& operator=(const RedisReference&) = delete;

  bool missing() const { return binary_.empty(); }
  bool started() const { return started_; }
  int port() const { return port_; }

 private:
  void Start(const std::vector<std::string>& extra);

  std::string binary_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool started_ = false;
};

// Starts the reference, or skips the test case (returns from it) when there
// is no redis-server.
#define START_REDIS(name, ...)                                                 \
  ::lockd_test::RedisReference name{std::vector<std::string>{__VA_ARGS__}};    \
  if (name.missing()) {                                                        \
    MESSAGE("redis-server not found (set REDIS_SERVER): parity case skipped"); \
    return;                                                                    \
  }                                                                            \
  REQUIRE_MESSAGE(name.started(), "redis-server did not start")

// Control bytes shown escaped, for failure messages.
std::string Show(const std::string& bytes);
// 'a' 'b' ..., for failure messages.
std::string Join(const std::vector<std::string>& args);
// A command line split at spaces.
std::vector<std::string> Words(const std::string& line);

// One connection to each server; Same() sends a command to both and checks
// that the replies are the same bytes.
struct Pair {
  Pair(int lockd_port, int redis_port);
  void Same(const std::vector<std::string>& args);

  RawConn lockd;
  RawConn redis;
};

}  // namespace lockd_test
