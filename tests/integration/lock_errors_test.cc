// Argument errors of the lock commands, with their exact texts, and the
// unknown-command reply.
#include <doctest/doctest.h>

#include "harness.h"

using namespace lockd_test;

namespace {

void CheckError(Client& c, const std::vector<std::string>& args, const std::string& text) {
  Reply r = c.Cmd(args);
  std::string cmd;
  for (const std::string& a : args) cmd += (cmd.empty() ? "" : " ") + a;
  CHECK_MESSAGE(r.is_error(), cmd, " -> ", r.Describe());
  CHECK_MESSAGE(r.str() == text, cmd, " -> ", r.Describe());
}

}  // namespace

TEST_CASE("errors: wrong number of arguments for each lock command") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h"}, "ERR wrong number of arguments for 'lock.acquire' command");
  CheckError(*c, {"LOCK.ACQUIRE", "k"}, "ERR wrong number of arguments for 'lock.acquire' command");
  CheckError(*c, {"LOCK.ACQUIRE"}, "ERR wrong number of arguments for 'lock.acquire' command");
  CheckError(*c, {"LOCK.RENEW", "k", "h", "1"}, "ERR wrong number of arguments for 'lock.renew' command");
  CheckError(*c, {"LOCK.RENEW", "k", "h", "1", "100", "x"},
             "ERR wrong number of arguments for 'lock.renew' command");
  CheckError(*c, {"LOCK.RELEASE", "k", "h"}, "ERR wrong number of arguments for 'lock.release' command");
  CheckError(*c, {"LOCK.RELEASE", "k", "h", "1", "x"},
             "ERR wrong number of arguments for 'lock.release' command");
  CheckError(*c, {"LOCK.FENCE"}, "ERR wrong number of arguments for 'lock.fence' command");
  CheckError(*c, {"LOCK.FENCE", "a", "b"}, "ERR wrong number of arguments for 'lock.fence' command");
  CheckError(*c, {"LOCK.INFO"}, "ERR wrong number of arguments for 'lock.info' command");
  CheckError(*c, {"LOCK.INFO", "a", "b"}, "ERR wrong number of arguments for 'lock.info' command");
  // The name in the message is the command's, whatever case was sent.
  CheckError(*c, {"lock.Acquire", "k"}, "ERR wrong number of arguments for 'lock.acquire' command");
  // Nothing was granted by any of these.
  Reply r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
}

TEST_CASE("errors: bad ttl, wait, holder and options of LOCK.ACQUIRE") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  const std::string not_int = "ERR value is not an integer or out of range";
  const std::string bad_expire = "ERR invalid expire time in 'lock.acquire' command";

  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "abc"}, not_int);
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "1.5"}, not_int);
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", ""}, not_int);
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "99999999999999999999999"}, not_int);
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "0"}, bad_expire);
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "-100"}, bad_expire);

  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "1000", "WAIT", "-1"}, "ERR timeout is negative");
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "1000", "WAIT", "soon"}, not_int);
  CheckError(*c, {"LOCK.ACQUIRE", "k", "", "1000"}, "ERR holder must not be empty");
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "1000", "FOREVER"}, "ERR syntax error");
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "1000", "WAIT"}, "ERR syntax error");
  CheckError(*c, {"LOCK.ACQUIRE", "k", "h", "1000", "WAIT", "10", "NX"}, "ERR syntax error");

  // None of the refused commands took the key.
  Reply r = c->Cmd({"EXISTS", "k"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());

  // The same checks on LOCK.RENEW and LOCK.RELEASE.
  r = c->Cmd({"LOCK.ACQUIRE", "k", "h", "10000"});
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  std::string t = std::to_string(r.integer());
  CheckError(*c, {"LOCK.RENEW", "k", "h", t, "0"}, "ERR invalid expire time in 'lock.renew' command");
  CheckError(*c, {"LOCK.RENEW", "k", "h", t, "x"}, not_int);
  CheckError(*c, {"LOCK.RENEW", "k", "h", "tok", "1000"}, not_int);
  CheckError(*c, {"LOCK.RENEW", "k", "", t, "1000"}, "ERR holder must not be empty");
  CheckError(*c, {"LOCK.RELEASE", "k", "h", "tok"}, not_int);
  CheckError(*c, {"LOCK.RELEASE", "k", "", t}, "ERR holder must not be empty");
  r = c->Cmd({"LOCK.FENCE", "k"});
  CHECK_MESSAGE(r.integer() == std::stoll(t), r.Describe());
}

TEST_CASE("errors: lock-max-waiters bounds each key's queue") {
  START_SERVER(srv, "--lock-max-waiters", "2");
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply r = c->Cmd({"LOCK.ACQUIRE", "k", "owner", "30000"});
  REQUIRE_MESSAGE(r.is_int(), r.Describe());

  std::vector<std::unique_ptr<Client>> waiters;
  for (int i = 0; i < 2; ++i) {
    auto w = srv.Connect(8000);
    REQUIRE(w->ok());
    w->Append({"LOCK.ACQUIRE", "k", "w" + std::to_string(i), "1000", "WAIT", "5000"});
    REQUIRE(w->Flush());
    REQUIRE(WaitFor([&] { return WaitersOf(*c, "k") == i + 1; }, 2000));
    waiters.push_back(std::move(w));
  }
  // The third waiter is refused at once, on this key only.
  CheckError(*c, {"LOCK.ACQUIRE", "k", "w2", "1000", "WAIT", "5000"},
             "MAXWAITERS too many waiters on this key");
  CHECK(WaitersOf(*c, "k") == 2);
  // Without WAIT there is no queueing, so no limit: a plain nil.
  r = c->Cmd({"LOCK.ACQUIRE", "k", "w2", "1000"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  // Another key has its own queue.
  r = c->Cmd({"LOCK.ACQUIRE", "other", "owner", "30000"});
  REQUIRE(r.is_int());
  auto w = srv.Connect(8000);
  w->Append({"LOCK.ACQUIRE", "other", "x", "1000", "WAIT", "5000"});
  REQUIRE(w->Flush());
  CHECK(WaitFor([&] { return WaitersOf(*c, "other") == 1; }, 2000));

  // CONFIG SET raises the limit for later waits.
  r = c->Cmd({"CONFIG", "SET", "lock-max-waiters", "3"});
  CHECK_MESSAGE((r.is_status() && r.str() == "OK"), r.Describe());
  auto third = srv.Connect(8000);
  third->Append({"LOCK.ACQUIRE", "k", "w2", "1000", "WAIT", "5000"});
  REQUIRE(third->Flush());
  CHECK(WaitFor([&] { return WaitersOf(*c, "k") == 3; }, 2000));
  CheckError(*c, {"LOCK.ACQUIRE", "k", "w3", "1000", "WAIT", "5000"},
             "MAXWAITERS too many waiters on this key");
}

TEST_CASE("errors: unknown command, in Redis's words") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  CheckError(*c, {"foo", "a", "b"}, "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
  CheckError(*c, {"foo"}, "ERR unknown command 'foo', with args beginning with: ");
  CheckError(*c, {"LOCK.GRAB", "k"}, "ERR unknown command 'LOCK.GRAB', with args beginning with: 'k' ");
  // The connection goes on working.
  Reply r = c->Cmd({"PING"});
  CHECK_MESSAGE(r.str() == "PONG", r.Describe());
}
