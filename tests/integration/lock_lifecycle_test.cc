// The life of one lease: grant, re-acquire by the holder,
// refusal to others, inspection through the lock and key commands, renewal,
// release, expiry, and token order across keys.
#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

#include "harness.h"

using namespace lockd_test;

namespace {

int64_t Acquire(Client& c, const std::string& key, const std::string& holder,
                const std::string& ttl_ms) {
  Reply r = c.Cmd({"LOCK.ACQUIRE", key, holder, ttl_ms});
  REQUIRE_MESSAGE(r.is_int(), "LOCK.ACQUIRE ", key, " ", holder, ": ", r.Describe());
  return r.integer();
}

}  // namespace

TEST_CASE("lease: acquire grants a token, the holder re-acquires it, others get nil") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());

  int64_t t1 = Acquire(*c, "seat:1", "alice", "10000");
  CHECK(t1 > 0);

  // The same holder gets the same token back, and the deadline is reset.
  Reply r = c->Cmd({"LOCK.ACQUIRE", "seat:1", "alice", "60000"});
  CHECK_MESSAGE(r.integer() == t1, r.Describe());
  r = c->Cmd({"PTTL", "seat:1"});
  CHECK_MESSAGE((r.integer() > 10000 && r.integer() <= 60000), r.Describe());

  // Another holder is refused at once, with or without WAIT 0.
  r = c->Cmd({"LOCK.ACQUIRE", "seat:1", "bob", "10000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"LOCK.ACQUIRE", "seat:1", "bob", "10000", "WAIT", "0"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  // Holders are compared exactly (case matters, prefixes do not match).
  r = c->Cmd({"LOCK.ACQUIRE", "seat:1", "Alice", "10000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"LOCK.ACQUIRE", "seat:1", "alic", "10000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());

  // The refusals changed nothing.
  r = c->Cmd({"LOCK.FENCE", "seat:1"});
  CHECK_MESSAGE(r.integer() == t1, r.Describe());
  r = c->Cmd({"GET", "seat:1"});
  CHECK_MESSAGE(r.str() == "alice", r.Describe());

  // Command names and options are case-insensitive.
  r = c->Cmd({"lock.acquire", "seat:1", "alice", "60000", "wait", "10"});
  CHECK_MESSAGE(r.integer() == t1, r.Describe());
  r = c->Cmd({"Lock.Fence", "seat:1"});
  CHECK_MESSAGE(r.integer() == t1, r.Describe());
}

TEST_CASE("lease: LOCK.FENCE, LOCK.INFO and the key commands see the lock") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());

  // Free keys first.
  Reply r = c->Cmd({"LOCK.FENCE", "seat:1"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"LOCK.INFO", "seat:1"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"GET", "seat:1"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"EXISTS", "seat:1"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"TYPE", "seat:1"});
  CHECK_MESSAGE((r.is_status() && r.str() == "none"), r.Describe());
  r = c->Cmd({"PTTL", "seat:1"});
  CHECK_MESSAGE(r.integer() == -2, r.Describe());
  r = c->Cmd({"TTL", "seat:1"});
  CHECK_MESSAGE(r.integer() == -2, r.Describe());
  r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());

  int64_t t1 = Acquire(*c, "seat:1", "alice", "10000");
  int64_t t2 = Acquire(*c, "seat:2", "bob", "20000");
  int64_t t3 = Acquire(*c, "row:9", "carol", "30000");

  r = c->Cmd({"LOCK.FENCE", "seat:1"});
  CHECK_MESSAGE(r.integer() == t1, r.Describe());
  r = c->Cmd({"LOCK.FENCE", "seat:2"});
  CHECK_MESSAGE(r.integer() == t2, r.Describe());

  // LOCK.INFO: holder, token, ttl_ms (counting down, never -1 for an
  // acquired key) and waiters, in that order.
  r = c->Cmd({"LOCK.INFO", "seat:1"});
  std::optional<LockInfo> info = ParseLockInfo(r);
  REQUIRE_MESSAGE(info.has_value(), r.Describe());
  CHECK(info->holder == "alice");
  CHECK(info->token == t1);
  CHECK(info->ttl_ms > 0);
  CHECK(info->ttl_ms <= 10000);
  CHECK(info->ttl_ms > 5000);  // generous: a loaded machine may pause between commands
  CHECK(info->waiters == 0);
  std::this_thread::sleep_for(Millis(50));
  r = c->Cmd({"LOCK.INFO", "seat:1"});
  std::optional<LockInfo> later = ParseLockInfo(r);
  REQUIRE_MESSAGE(later.has_value(), r.Describe());
  CHECK(later->ttl_ms < info->ttl_ms);
  CHECK(later->ttl_ms > 0);
  CHECK(later->token == t1);

  // The key commands see the same locks as string keys holding the holder.
  r = c->Cmd({"GET", "seat:2"});
  CHECK_MESSAGE(r.str() == "bob", r.Describe());
  r = c->Cmd({"EXISTS", "seat:1", "seat:2", "nope", "seat:1"});
  CHECK_MESSAGE(r.integer() == 3, r.Describe());
  r = c->Cmd({"TYPE", "seat:1"});
  CHECK_MESSAGE((r.is_status() && r.str() == "string"), r.Describe());
  r = c->Cmd({"PTTL", "seat:2"});
  CHECK_MESSAGE((r.integer() > 19000 && r.integer() <= 20000), r.Describe());
  r = c->Cmd({"TTL", "row:9"});
  CHECK_MESSAGE((r.integer() >= 29 && r.integer() <= 30), r.Describe());
  r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 3, r.Describe());

  r = c->Cmd({"KEYS", "seat:*"});
  REQUIRE_MESSAGE(r.is_array(), r.Describe());
  std::vector<std::string> keys;
  for (size_t i = 0; i < r.size(); ++i) keys.push_back(ElementString(r.at(i)));
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"seat:1", "seat:2"});
  r = c->Cmd({"KEYS", "*"});
  CHECK_MESSAGE(r.size() == 3, r.Describe());
  r = c->Cmd({"KEYS", "nothing*"});
  CHECK_MESSAGE((r.is_array() && r.size() == 0), r.Describe());

  bool ok = false;
  CHECK(ScanAll(*c, {}, &ok) == std::vector<std::string>{"row:9", "seat:1", "seat:2"});
  CHECK(ok);
  CHECK(ScanAll(*c, {"MATCH", "seat:*", "COUNT", "1"}, &ok) ==
        std::vector<std::string>{"seat:1", "seat:2"});
  CHECK(ok);
  CHECK(ScanAll(*c, {"TYPE", "string"}, &ok) ==
        std::vector<std::string>{"row:9", "seat:1", "seat:2"});
  CHECK(ok);
  CHECK(ScanAll(*c, {"TYPE", "hash"}, &ok).empty());
  CHECK(ok);
  CHECK(ScanAll(*c, {"MATCH", "row:?", "TYPE", "string", "COUNT", "100"}, &ok) ==
        std::vector<std::string>{"row:9"});
  CHECK(ok);
  (void)t3;
}

TEST_CASE("lease: LOCK.RENEW and LOCK.RELEASE check holder and token") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  int64_t t = Acquire(*c, "seat:1", "alice", "5000");

  Reply r = c->Cmd({"LOCK.RENEW", "seat:1", "alice", std::to_string(t), "60000"});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = c->Cmd({"PTTL", "seat:1"});
  CHECK_MESSAGE((r.integer() > 50000 && r.integer() <= 60000), r.Describe());
  r = c->Cmd({"LOCK.FENCE", "seat:1"});
  CHECK_MESSAGE(r.integer() == t, r.Describe());

  // Wrong token, wrong holder, free key: :0 and nothing changes.
  r = c->Cmd({"LOCK.RENEW", "seat:1", "alice", std::to_string(t + 1), "1000"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"LOCK.RENEW", "seat:1", "bob", std::to_string(t), "1000"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"LOCK.RENEW", "seat:404", "alice", std::to_string(t), "1000"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"PTTL", "seat:1"});
  CHECK_MESSAGE(r.integer() > 50000, r.Describe());

  r = c->Cmd({"LOCK.RELEASE", "seat:1", "alice", std::to_string(t + 1)});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"LOCK.RELEASE", "seat:1", "bob", std::to_string(t)});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"LOCK.RELEASE", "seat:1", "alice", "0"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"LOCK.FENCE", "seat:1"});
  CHECK_MESSAGE(r.integer() == t, r.Describe());

  r = c->Cmd({"LOCK.RELEASE", "seat:1", "alice", std::to_string(t)});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  r = c->Cmd({"LOCK.FENCE", "seat:1"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"EXISTS", "seat:1"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  // A second release, or a renew, of the freed key does nothing.
  r = c->Cmd({"LOCK.RELEASE", "seat:1", "alice", std::to_string(t)});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  r = c->Cmd({"LOCK.RENEW", "seat:1", "alice", std::to_string(t), "1000"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());

  // Free again: anyone may take it, with a larger token.
  int64_t t2 = Acquire(*c, "seat:1", "bob", "5000");
  CHECK(t2 > t);
}

TEST_CASE("lease: expiry frees the key after ttl, and the next grant has a larger token") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());

  auto start = Clock::now();
  int64_t t = Acquire(*c, "seat:1", "alice", "100");
  Reply r = c->Cmd({"LOCK.FENCE", "seat:1"});
  bool early_check = ElapsedMs(start) < 90;
  if (early_check) CHECK_MESSAGE(r.integer() == t, r.Describe());

  bool freed = WaitFor([&] { return c->Cmd({"LOCK.FENCE", "seat:1"}).is_nil(); }, 3000, 5);
  int64_t elapsed = ElapsedMs(start);
  REQUIRE_MESSAGE(freed, "lease of 100 ms still held after 3 s");
  // Never freed before its deadline (the client's clock started first).
  CHECK(elapsed >= 100);
  CHECK(elapsed < 2500);  // freed promptly (bounded by the 3 s wait), never early

  r = c->Cmd({"GET", "seat:1"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"LOCK.INFO", "seat:1"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"PTTL", "seat:1"});
  CHECK_MESSAGE(r.integer() == -2, r.Describe());
  r = c->Cmd({"LOCK.RENEW", "seat:1", "alice", std::to_string(t), "1000"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());

  int64_t t2 = Acquire(*c, "seat:1", "bob", "10000");
  CHECK(t2 > t);
  // The same holder re-acquiring after expiry gets a new token too.
  int64_t t3 = Acquire(*c, "seat:2", "alice", "50");
  CHECK(WaitFor([&] { return c->Cmd({"EXISTS", "seat:2"}).integer() == 0; }, 3000, 5));
  int64_t t4 = Acquire(*c, "seat:2", "alice", "10000");
  CHECK(t4 > t3);
}

TEST_CASE("lease: expired keys are cleaned up without being touched") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  for (int i = 0; i < 20; ++i) Acquire(*c, "short:" + std::to_string(i), "h", "100");
  Acquire(*c, "long", "h", "60000");
  // Only INFO, which looks at no key, is asked: the expiry timer must act.
  bool cleaned = WaitFor(
      [&] {
        std::string info = c->Cmd({"INFO", "locks"}).str();
        return InfoField(info, "locks_held") == "1";
      },
      3000, 20);
  std::string info = c->Cmd({"INFO", "locks"}).str();
  CHECK_MESSAGE(cleaned, info);
  CHECK(InfoField(info, "locks_expiries") == "20");
  Reply r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
}

TEST_CASE("lease: tokens strictly increase across keys, releases and holders") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  int64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < 10; ++k) {
      std::string key = "k" + std::to_string(k);
      std::string holder = "h" + std::to_string(round);
      int64_t t = Acquire(*c, key, holder, "60000");
      CHECK_MESSAGE(t > last, "key ", key, " round ", round, ": ", t, " after ", last);
      last = t;
      Reply r = c->Cmd({"LOCK.RELEASE", key, holder, std::to_string(t)});
      CHECK_MESSAGE(r.integer() == 1, r.Describe());
    }
  }
  std::string info = c->Cmd({"INFO", "locks"}).str();
  CHECK(InfoField(info, "locks_last_token") == std::to_string(last));
  CHECK(InfoField(info, "locks_held") == "0");
}

TEST_CASE("lease: SCAN with a small COUNT visits every one of many keys") {
  START_SERVER(srv);
  auto c = srv.Connect(10000);
  REQUIRE(c->ok());
  constexpr int kKeys = 3000;
  for (int i = 0; i < kKeys; ++i) c->Append({"LOCK.ACQUIRE", "many:" + std::to_string(i), "h", "60000"});
  REQUIRE(c->Flush());
  for (int i = 0; i < kKeys; ++i) REQUIRE(c->GetReply().is_int());
  Acquire(*c, "other", "h", "60000");

  bool ok = false;
  std::vector<std::string> keys = ScanAll(*c, {"MATCH", "many:*", "COUNT", "7"}, &ok);
  REQUIRE(ok);
  // Redis may return a key twice during a resize; here nothing resizes.
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  CHECK(keys.size() == kKeys);
  CHECK(std::find(keys.begin(), keys.end(), "other") == keys.end());
  Reply r = c->Cmd({"KEYS", "many:*"});
  CHECK_MESSAGE(r.size() == kKeys, r.size());
  r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == kKeys + 1, r.Describe());
  std::string info = c->Cmd({"INFO", "keyspace"}).str();
  CHECK_MESSAGE(info.find("db0:keys=" + std::to_string(kKeys + 1)) != std::string::npos, info);
}
