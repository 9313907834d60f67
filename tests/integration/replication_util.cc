#include "replication_util.h"

#include <doctest/doctest.h>

#include <utility>

namespace lockd_test {

std::string PrimaryAddress(int port) { return "127.0.0.1 " + std::to_string(port); }

std::unique_ptr<TestServer> StartNode(const std::string& dir, std::vector<std::string> extra) {
  ServerOptions options;
  options.dir = dir;
  options.appendonly = true;
  options.extra = std::move(extra);
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  return srv;
}

std::unique_ptr<TestServer> StartReplica(const std::string& dir, int primary_port,
                                         std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"--replicaof", PrimaryAddress(primary_port)});
  return StartNode(dir, std::move(extra));
}

bool CaughtUp(const TestServer& primary, const TestServer& replica, int timeout_ms) {
  return WaitFor(
      [&] {
        if (replica.Info("replication", "master_link_status") != "up") return false;
        std::string want = primary.Info("replication", "master_repl_offset");
        return !want.empty() && replica.Info("replication", "slave_repl_offset") == want;
      },
      timeout_ms, 20);
}

}  // namespace lockd_test
