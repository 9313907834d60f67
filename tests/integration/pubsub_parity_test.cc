// Pub/sub and keyspace notifications, compared byte for byte with a real
// redis-server 7.0 in RESP2 and RESP3 (the helpers of parity.h): the
// subscription confirmations, messages and pattern messages (pushes in
// RESP3), the subscribed-mode refusals of RESP2, PUBSUB's counts, and the
// keyspace/keyevent messages of the Redis-view commands. Skipped without a
// redis-server binary.
#include <doctest/doctest.h>

#include <regex>

#include "harness.h"
#include "parity.h"

using namespace lockd_test;

namespace {

// HELLO's reply with the connection id and the server version blanked.
std::string NormalizeHello(const std::string& reply) {
  std::string out =
      std::regex_replace(reply, std::regex(R"(\$2\r\nid\r\n:\d+\r\n)"), "$$2\r\nid\r\n:ID\r\n");
  return std::regex_replace(out, std::regex(R"(\$7\r\nversion\r\n\$\d+\r\n[0-9.]+\r\n)"),
                            "$$7\r\nversion\r\nVERSION\r\n");
}

void SameHello(Pair& p) {
  std::string l = p.lockd.Command({"HELLO", "3"});
  std::string r = p.redis.Command({"HELLO", "3"});
  REQUIRE_MESSAGE(NormalizeHello(l) == NormalizeHello(r), "\n  redis: ", Show(r),
                  "\n  lockd: ", Show(l));
}

// Sends `line` to both and compares `replies` values read from each (a
// SUBSCRIBE of n channels replies n times).
void SameN(Pair& p, const std::string& line, size_t replies) {
  std::vector<std::string> args = Words(line);
  REQUIRE(p.lockd.Send(Multibulk(args)));
  REQUIRE(p.redis.Send(Multibulk(args)));
  for (size_t i = 0; i < replies; ++i) {
    std::string l = p.lockd.ReadValue();
    std::string r = p.redis.ReadValue();
    CHECK_MESSAGE(l == r, line, " (reply ", i + 1, ")\n  redis: ", Show(r), "\n  lockd: ", Show(l));
  }
}

// Nothing more arrives on either side within `wait_ms`.
void NothingMore(Pair& p, int wait_ms = 100) {
  CHECK_FALSE(p.lockd.Readable(wait_ms));
  CHECK_FALSE(p.redis.Readable(0));
}

// Runs `line` on a fresh connection to each server (the publisher side),
// comparing the replies.
void SameFromOther(int lockd_port, int redis_port, const std::string& line) {
  Pair other(lockd_port, redis_port);
  other.Same(Words(line));
}

// Reads the next value from both subscribers and compares them.
void SameNext(Pair& p, const char* what, int timeout_ms = 5000) {
  std::string l = p.lockd.ReadValue(timeout_ms);
  std::string r = p.redis.ReadValue(timeout_ms);
  CHECK_MESSAGE(!r.empty(), what, ": redis sent nothing");
  CHECK_MESSAGE(l == r, what, "\n  redis: ", Show(r), "\n  lockd: ", Show(l));
}

}  // namespace

TEST_CASE("pubsub parity: subscriptions, messages and PUBSUB, RESP2 and RESP3") {
  START_REDIS(redis);
  START_SERVER(srv);
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair p(srv.port(), redis.port());
    if (proto == 3) SameHello(p);
    // Nothing to unsubscribe: one reply with a null name.
    SameN(p, "UNSUBSCRIBE", 1);
    SameN(p, "PUNSUBSCRIBE", 1);
    SameN(p, "SUBSCRIBE chan", 1);
    SameN(p, "SUBSCRIBE chan other", 2);  // a repeated channel still replies
    SameN(p, "PSUBSCRIBE ch*", 1);
    // RESP2's subscribed mode: only a few commands, and PING's own shape.
    SameN(p, "PING", 1);
    SameN(p, "PING hello", 1);
    SameN(p, "GET k", 1);
    if (proto == 2) SameN(p, "CLIENT LIST", 1);  // refused; RESP3 lists fields that differ
    SameN(p, "PUBSUB NUMSUB chan other none", 1);
    SameN(p, "PUBSUB NUMPAT", 1);
    SameN(p, "PUBSUB CHANNELS ch*", 1);
    SameN(p, "PUBSUB SHARDCHANNELS", 1);
    NothingMore(p);

    // Messages from another client: exact and pattern subscribers.
    SameFromOther(srv.port(), redis.port(), "PUBLISH chan hello");
    SameNext(p, "message");
    SameNext(p, "pmessage");
    SameFromOther(srv.port(), redis.port(), "PUBLISH chx bye");
    SameNext(p, "pmessage only");
    SameFromOther(srv.port(), redis.port(), "PUBLISH nobody x");
    NothingMore(p);

    SameN(p, "UNSUBSCRIBE chan", 1);
    SameN(p, "UNSUBSCRIBE never", 1);
    SameN(p, "PUNSUBSCRIBE", 1);
    SameN(p, "UNSUBSCRIBE", 1);  // the one left: other
    SameN(p, "UNSUBSCRIBE", 1);  // none left
    // Out of subscribed mode, everything runs again.
    SameN(p, "PING", 1);
    SameN(p, "GET k", 1);
    // RESET leaves pub/sub silently.
    SameN(p, "SUBSCRIBE again", 1);
    SameN(p, "RESET", 1);
    SameFromOther(srv.port(), redis.port(), "PUBLISH again x");
    SameN(p, "PING", 1);
    NothingMore(p);
  }
  // Errors of the commands themselves.
  Pair p(srv.port(), redis.port());
  for (const char* line :
       {"SUBSCRIBE", "PSUBSCRIBE", "PUBLISH a", "PUBLISH a b c", "PUBSUB", "PUBSUB NUMPAT x",
        "PUBSUB NOSUCH", "PUBSUB CHANNELS a b", "PUBSUB HELP",
        "COMMAND INFO subscribe unsubscribe psubscribe punsubscribe publish"}) {
    p.Same(Words(line));
  }
}

TEST_CASE("notifications parity: keyspace and keyevent messages of the Redis-view commands") {
  START_REDIS(redis);
  START_SERVER(srv);
  for (int proto : {2, 3}) {
    CAPTURE(proto);
    Pair setup(srv.port(), redis.port());
    setup.Same(Words("CONFIG SET notify-keyspace-events KEA"));
    setup.Same(Words("CONFIG GET notify-keyspace-events"));
    Pair p(srv.port(), redis.port());
    if (proto == 3) SameHello(p);
    SameN(p, "PSUBSCRIBE __key*@0__:*", 1);
    for (const char* line :
         {"SET k v", "SET k w EX 100", "EXPIRE k 200", "PERSIST k", "PERSIST k", "DEL k", "DEL k",
          "SET j v", "PEXPIRE j 100000", "EXPIRE j -1", "SET n v NX", "SET n v NX", "SET n x XX"}) {
      setup.Same(Words(line));
    }
    // set, set, expire, expire, persist, del, set, expire, del, set, set:
    // each as a keyspace then a keyevent message.
    for (int i = 0; i < 22; ++i) SameNext(p, "event");
    // A lease that reaches its deadline: "expired" (Redis finds it within
    // its active-expire cycle, lockd at its deadline).
    setup.Same(Words("SET gone v PX 50"));
    for (int i = 0; i < 4; ++i) SameNext(p, "set + expire");
    SameNext(p, "expired (keyspace)", 10000);
    SameNext(p, "expired (keyevent)", 10000);
    // FLUSHALL tells nothing per key, as in Redis.
    setup.Same(Words("SET f v"));
    SameNext(p, "set f");
    SameNext(p, "set f");
    setup.Same(Words("FLUSHALL"));
    NothingMore(p, 200);
    // Classes: only keyevent messages of the generic class.
    setup.Same(Words("CONFIG SET notify-keyspace-events Eg"));
    setup.Same(Words("SET g v"));
    setup.Same(Words("DEL g"));
    SameNext(p, "del only");
    NothingMore(p);
  }
}
