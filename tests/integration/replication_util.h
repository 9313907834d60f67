// Helpers of the replication tests: lockd nodes with the log on in a given
// directory, replicas of them, and waiting for a replica to catch up.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace lockd_test {

// The value of `replicaof` for a primary on 127.0.0.1:`port`.
std::string PrimaryAddress(int port);

// A lockd node with appendonly on in `dir`, plus the directives `extra`;
// the test stops (REQUIRE) if it does not start.
std::unique_ptr<TestServer> StartNode(const std::string& dir, std::vector<std::string> extra = {});

// A node replicating the primary on `primary_port`.
std::unique_ptr<TestServer> StartReplica(const std::string& dir, int primary_port,
                                         std::vector<std::string> extra = {});

// Waits until the replica's link is up and it processed everything the
// primary streamed so far.
bool CaughtUp(const TestServer& primary, const TestServer& replica, int timeout_ms = 10000);

}  // namespace lockd_test
