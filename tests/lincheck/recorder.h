// The recorder: many concurrent clients, each a thread with its own
// connection, drive a real build/lockd-server on a small key space and write
// down every operation with its invoke and response times and its reply.
//
// The mix: LOCK.ACQUIRE with and without WAIT, RENEW, RELEASE, FENCE, INFO,
// the Redis view (SET NX PX, GET, DEL, PEXPIRE, redis-py's release script) and
// MULTI/EXEC of an acquire and a fence. Leases are tens of milliseconds, so
// expiries and hand-offs happen during a history. One client sometimes drops
// its connection while it waits; another's waits are ended by CLIENT UNBLOCK
// from a side connection. Crash histories SIGKILL the server (appendfsync
// always) at random moments and restart it in the same directory.
#pragma once

#include <cstdint>
#include <string>

#include "history.h"

namespace lincheck {

struct RecordOptions {
  int clients = 8;
  int keys = 5;
  int ops_per_client = 35;
  uint64_t seed = 1;
  std::string key_prefix = "lc:";
  // Lease lengths are drawn from [ttl_min_ms, ttl_max_ms].
  int ttl_min_ms = 10;
  int ttl_max_ms = 50;
  // Crash histories only: SIGKILL + restart cycles during the history.
  int kills = 0;
};

// Records one history against a running server on `port` (its log settings
// are the caller's). `error` receives what went wrong outside the contract
// (an unexpected reply type, a connection that cannot be made).
History RecordHistory(int port, const RecordOptions& options, std::string* error);

// Records one crash history: starts its own server with appendfsync always in
// a scratch directory, and kills and restarts it `options.kills` times.
History RecordCrashHistory(const RecordOptions& options, std::string* error);

}  // namespace lincheck
