// Connection and server commands: CLIENT, SELECT, ECHO, PING, QUIT,
// RESET, TIME, DBSIZE, CONFIG, INFO, COMMAND, SHUTDOWN and SIGTERM.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <ctime>

#include "harness.h"

using namespace lockd_test;

namespace {

// The line of CLIENT LIST for client `id`, or "".
std::string ClientLine(const std::string& list, int64_t id) {
  std::string key = "id=" + std::to_string(id) + " ";
  size_t at = 0;
  while (at < list.size()) {
    size_t end = list.find('\n', at);
    if (end == std::string::npos) end = list.size();
    std::string line = list.substr(at, end - at);
    if (line.rfind(key, 0) == 0) return line;
    at = end + 1;
  }
  return "";
}

// The value of `field=` in a CLIENT LIST/INFO line.
std::string ClientField(const std::string& line, const std::string& field) {
  std::string key = field + "=";
  size_t at = 0;
  if (line.rfind(key, 0) != 0) {
    at = line.find(" " + key);
    if (at == std::string::npos) return "";
    at += 1;
  }
  size_t start = at + key.size();
  size_t end = line.find_first_of(" \r\n", start);
  return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// A reply element that is a map in RESP2 (flat array): the value after `name`.
const redisReply* MapValue(const redisReply* map, const std::string& name) {
  if (map == nullptr || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (size_t i = 0; i + 1 < map->elements; i += 2) {
    if (ElementString(map->element[i]) == name) return map->element[i + 1];
  }
  return nullptr;
}

}  // namespace

TEST_CASE("server commands: CLIENT ID, SETNAME, GETNAME, LIST, INFO, SETINFO, NO-EVICT, NO-TOUCH") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply r = c->Cmd({"CLIENT", "ID"});
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  int64_t id = r.integer();
  CHECK(id > 0);
  auto other = srv.Connect();
  r = other->Cmd({"CLIENT", "ID"});
  CHECK_MESSAGE(r.integer() > id, r.Describe());

  r = c->Cmd({"CLIENT", "GETNAME"});
  CHECK_MESSAGE(r.is_nil(), r.Describe());
  r = c->Cmd({"CLIENT", "SETNAME", "worker-1"});
  CHECK_MESSAGE((r.is_status() && r.str() == "OK"), r.Describe());
  r = c->Cmd({"CLIENT", "GETNAME"});
  CHECK_MESSAGE(r.str() == "worker-1", r.Describe());
  r = c->Cmd({"CLIENT", "SETNAME", "bad name"});
  CHECK_MESSAGE(r.is_error(), r.Describe());

  r = c->Cmd({"CLIENT", "SETINFO", "lib-name", "mylib"});
  CHECK_MESSAGE(r.str() == "OK", r.Describe());
  r = c->Cmd({"CLIENT", "SETINFO", "lib-ver", "1.2.3"});
  CHECK_MESSAGE(r.str() == "OK", r.Describe());
  r = c->Cmd({"CLIENT", "SETINFO", "lib-colour", "red"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  r = c->Cmd({"CLIENT", "NO-EVICT", "on"});
  CHECK_MESSAGE(r.str() == "OK", r.Describe());
  r = c->Cmd({"CLIENT", "NO-TOUCH", "on"});
  CHECK_MESSAGE(r.str() == "OK", r.Describe());
  r = c->Cmd({"CLIENT", "NO-EVICT", "maybe"});
  CHECK_MESSAGE(r.is_error(), r.Describe());

  r = c->Cmd({"CLIENT", "INFO"});
  REQUIRE_MESSAGE(r.is_string(), r.Describe());
  std::string line = r.str();
  CHECK(ClientField(line, "id") == std::to_string(id));
  CHECK(ClientField(line, "name") == "worker-1");
  CHECK(ClientField(line, "lib-name") == "mylib");
  CHECK(ClientField(line, "lib-ver") == "1.2.3");
  CHECK(ClientField(line, "db") == "0");
  CHECK(!ClientField(line, "addr").empty());

  r = other->Cmd({"CLIENT", "LIST"});
  REQUIRE_MESSAGE(r.is_string(), r.Describe());
  std::string mine = ClientLine(r.str(), id);
  CHECK_MESSAGE(!mine.empty(), r.str());
  CHECK(ClientField(mine, "name") == "worker-1");
  CHECK(ClientField(mine, "addr") == ClientField(line, "addr"));
  CHECK(ClientField(mine, "cmd") == "client|info");
  r = other->Cmd({"CLIENT", "LIST", "ID", std::to_string(id)});
  CHECK_MESSAGE(!ClientLine(r.str(), id).empty(), r.Describe());
  r = other->Cmd({"CLIENT", "LIST", "ID", std::to_string(id + 1000)});
  CHECK_MESSAGE((r.is_string() && r.str().empty()), r.Describe());
}

TEST_CASE("server commands: CLIENT KILL by address and by ID") {
  START_SERVER(srv);
  auto killer = srv.Connect();
  REQUIRE(killer->ok());

  auto victim = srv.ConnectRaw();
  std::string id_reply = victim->Command({"CLIENT", "ID"});
  REQUIRE(id_reply.rfind(":", 0) == 0);
  int64_t vid = std::stoll(id_reply.substr(1));
  std::string addr = ClientField(ClientLine(killer->Cmd({"CLIENT", "LIST"}).str(), vid), "addr");
  REQUIRE(!addr.empty());

  Reply r = killer->Cmd({"CLIENT", "KILL", addr});
  CHECK_MESSAGE((r.is_status() && r.str() == "OK"), r.Describe());
  bool closed = false;
  victim->ReadUntilClosed(2000, &closed);
  CHECK(closed);
  r = killer->Cmd({"CLIENT", "KILL", addr});
  CHECK_MESSAGE((r.is_error() && r.str() == "ERR No such client"), r.Describe());

  auto victim2 = srv.ConnectRaw();
  id_reply = victim2->Command({"CLIENT", "ID"});
  REQUIRE(id_reply.rfind(":", 0) == 0);
  std::string vid2 = id_reply.substr(1, id_reply.size() - 3);
  r = killer->Cmd({"CLIENT", "KILL", "ID", vid2});
  CHECK_MESSAGE(r.integer() == 1, r.Describe());
  closed = false;
  victim2->ReadUntilClosed(2000, &closed);
  CHECK(closed);
  r = killer->Cmd({"CLIENT", "KILL", "ID", vid2});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  // SKIPME yes (the default) spares the caller.
  r = killer->Cmd({"CLIENT", "ID"});
  r = killer->Cmd({"CLIENT", "KILL", "ID", std::to_string(r.integer())});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  CHECK(killer->Cmd({"PING"}).str() == "PONG");
}

TEST_CASE("server commands: SELECT, ECHO, PING, QUIT, RESET, TIME, DBSIZE") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply r = c->Cmd({"SELECT", "0"});
  CHECK_MESSAGE((r.is_status() && r.str() == "OK"), r.Describe());
  r = c->Cmd({"SELECT", "1"});
  CHECK_MESSAGE((r.is_error() && r.str() == "ERR DB index is out of range"), r.Describe());
  r = c->Cmd({"ECHO", "hello world"});
  CHECK_MESSAGE((r.is_string() && r.str() == "hello world"), r.Describe());
  r = c->Cmd({"PING"});
  CHECK_MESSAGE((r.is_status() && r.str() == "PONG"), r.Describe());
  r = c->Cmd({"PING", "are you there"});
  CHECK_MESSAGE((r.is_string() && r.str() == "are you there"), r.Describe());

  r = c->Cmd({"TIME"});
  REQUIRE_MESSAGE((r.is_array() && r.size() == 2), r.Describe());
  int64_t secs = std::stoll(ElementString(r.at(0)));
  int64_t micros = std::stoll(ElementString(r.at(1)));
  CHECK(std::llabs(secs - static_cast<int64_t>(std::time(nullptr))) <= 5);
  CHECK(micros >= 0);
  CHECK(micros < 1000000);

  r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 0, r.Describe());
  c->Cmd({"LOCK.ACQUIRE", "a", "h", "60000"});
  c->Cmd({"LOCK.ACQUIRE", "b", "h", "60000"});
  r = c->Cmd({"DBSIZE"});
  CHECK_MESSAGE(r.integer() == 2, r.Describe());

  auto raw = srv.ConnectRaw();
  CHECK(raw->Command({"HELLO", "3"}).rfind("%7", 0) == 0);
  CHECK(raw->Command({"CLIENT", "SETNAME", "n1"}) == "+OK\r\n");
  CHECK(raw->Command({"LOCK.FENCE", "free"}) == "_\r\n");
  CHECK(raw->Command({"RESET"}) == "+RESET\r\n");
  CHECK(raw->Command({"LOCK.FENCE", "free"}) == "$-1\r\n");
  CHECK(raw->Command({"CLIENT", "GETNAME"}) == "$-1\r\n");
  CHECK(raw->Command({"QUIT"}) == "+OK\r\n");
  bool closed = false;
  raw->ReadUntilClosed(2000, &closed);
  CHECK(closed);
}

TEST_CASE("server commands: CONFIG GET, SET, RESETSTAT") {
  START_SERVER(srv, "--maxclients", "100");
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply r = c->Cmd({"CONFIG", "GET", "maxclients"});
  REQUIRE_MESSAGE((r.is_array() && r.size() == 2), r.Describe());
  CHECK(ElementString(r.at(0)) == "maxclients");
  CHECK(ElementString(r.at(1)) == "100");

  r = c->Cmd({"CONFIG", "SET", "lock-max-waiters", "7"});
  CHECK_MESSAGE((r.is_status() && r.str() == "OK"), r.Describe());
  r = c->Cmd({"CONFIG", "GET", "lock-max-waiters"});
  REQUIRE_MESSAGE((r.is_array() && r.size() == 2), r.Describe());
  CHECK(ElementString(r.at(1)) == "7");

  r = c->Cmd({"CONFIG", "SET", "port", "1234"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  CHECK_MESSAGE(r.str().find("can't set immutable config") != std::string::npos, r.Describe());
  r = c->Cmd({"CONFIG", "GET", "port"});
  CHECK(ElementString(r.at(1)) == std::to_string(srv.port()));
  r = c->Cmd({"CONFIG", "SET", "no-such-thing", "1"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  r = c->Cmd({"CONFIG", "SET", "lock-max-waiters", "many"});
  CHECK_MESSAGE(r.is_error(), r.Describe());
  r = c->Cmd({"CONFIG", "GET", "lock-max-waiters"});
  CHECK(ElementString(r.at(1)) == "7");

  // RESETSTAT zeroes the counters.
  for (int i = 0; i < 5; ++i) c->Cmd({"LOCK.ACQUIRE", "k" + std::to_string(i), "h", "60000"});
  std::string before = c->Cmd({"INFO"}).str();
  CHECK(std::stoll(InfoField(before, "total_commands_processed")) >= 10);
  CHECK(InfoField(before, "locks_grants") == "5");
  r = c->Cmd({"CONFIG", "RESETSTAT"});
  CHECK_MESSAGE((r.is_status() && r.str() == "OK"), r.Describe());
  std::string after = c->Cmd({"INFO"}).str();
  CHECK(std::stoll(InfoField(after, "total_commands_processed")) <= 2);
  CHECK(InfoField(after, "locks_grants") == "0");
  // What is held stays held.
  CHECK(InfoField(after, "locks_held") == "5");
}

TEST_CASE("server commands: INFO sections and fields") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply t = c->Cmd({"LOCK.ACQUIRE", "seat", "h", "60000"});
  REQUIRE(t.is_int());
  auto waiter = srv.Connect(8000);
  waiter->Append({"LOCK.ACQUIRE", "seat", "w", "1000", "WAIT", "5000"});
  REQUIRE(waiter->Flush());
  REQUIRE(WaitFor([&] { return WaitersOf(*c, "seat") == 1; }, 2000));

  REQUIRE(WaitFor(
      [&] { return InfoField(c->Cmd({"INFO", "clients"}).str(), "connected_clients") == "2"; },
      2000));
  Reply r = c->Cmd({"INFO"});
  REQUIRE_MESSAGE(r.is_string(), r.Describe());
  std::string info = r.str();
  CHECK(!InfoField(info, "redis_version").empty());
  CHECK(InfoField(info, "loading") == "0");
  CHECK(InfoField(info, "connected_clients") == "2");
  CHECK(InfoField(info, "blocked_clients") == "1");
  CHECK(!InfoField(info, "used_memory").empty());
  CHECK(InfoField(info, "tcp_port") == std::to_string(srv.port()));
  CHECK(info.find("# Server\r\n") != std::string::npos);
  CHECK(info.find("# Clients\r\n") != std::string::npos);
  CHECK(info.find("# Locks\r\n") != std::string::npos);
  CHECK(InfoField(info, "locks_held") == "1");
  CHECK(InfoField(info, "locks_waiters") == "1");
  CHECK(InfoField(info, "locks_last_token") == std::to_string(t.integer()));
  CHECK(info.find("db0:keys=1") != std::string::npos);

  // One section only.
  std::string locks = c->Cmd({"INFO", "locks"}).str();
  CHECK(locks.rfind("# Locks\r\n", 0) == 0);
  CHECK(locks.find("# Server") == std::string::npos);
  CHECK(InfoField(locks, "locks_held") == "1");
  std::string two = c->Cmd({"INFO", "server", "clients"}).str();
  CHECK(two.find("# Server") != std::string::npos);
  CHECK(two.find("# Clients") != std::string::npos);
  CHECK(two.find("# Locks") == std::string::npos);
}

TEST_CASE("server commands: COMMAND COUNT, INFO and DOCS describe LOCK.ACQUIRE") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  Reply r = c->Cmd({"COMMAND", "COUNT"});
  REQUIRE_MESSAGE(r.is_int(), r.Describe());
  CHECK(r.integer() > 0);
  Reply all = c->Cmd({"COMMAND"});
  CHECK_MESSAGE(static_cast<int64_t>(all.size()) == r.integer(), all.size());

  r = c->Cmd({"COMMAND", "INFO", "lock.acquire"});
  REQUIRE_MESSAGE((r.is_array() && r.size() == 1), r.Describe());
  const redisReply* entry = r.at(0);
  REQUIRE(entry->type == REDIS_REPLY_ARRAY);
  REQUIRE(entry->elements >= 6);
  CHECK(ElementString(entry->element[0]) == "lock.acquire");
  CHECK(entry->element[1]->type == REDIS_REPLY_INTEGER);
  CHECK(entry->element[1]->integer == -4);
  CHECK(entry->element[3]->integer == 1);  // first key
  CHECK(entry->element[4]->integer == 1);  // last key
  CHECK(entry->element[5]->integer == 1);  // step

  r = c->Cmd({"COMMAND", "INFO", "LOCK.RENEW", "nosuch"});
  REQUIRE_MESSAGE((r.is_array() && r.size() == 2), r.Describe());
  CHECK(ElementString(r.at(0)->element[0]) == "lock.renew");
  CHECK(r.at(0)->element[1]->integer == 5);
  CHECK(r.at(1)->type == REDIS_REPLY_NIL);

  r = c->Cmd({"COMMAND", "DOCS", "lock.acquire"});
  REQUIRE_MESSAGE((r.is_array() && r.size() == 2), r.Describe());
  CHECK(ElementString(r.at(0)) == "lock.acquire");
  const redisReply* args = MapValue(r.at(1), "arguments");
  REQUIRE_MESSAGE(args != nullptr, r.Describe());
  REQUIRE(args->type == REDIS_REPLY_ARRAY);
  std::vector<std::string> names;
  bool wait_token = false;
  for (size_t i = 0; i < args->elements; ++i) {
    names.push_back(ElementString(MapValue(args->element[i], "name")));
    if (ElementString(MapValue(args->element[i], "token")) == "WAIT") {
      wait_token = true;
      const redisReply* flags = MapValue(args->element[i], "flags");
      REQUIRE(flags != nullptr);
      bool optional = false;
      for (size_t j = 0; j < flags->elements; ++j) {
        optional = optional || ElementString(flags->element[j]) == "optional";
      }
      CHECK(optional);
    }
  }
  CHECK(names.size() == 4);
  CHECK(std::find(names.begin(), names.end(), "key") != names.end());
  CHECK(std::find(names.begin(), names.end(), "holder") != names.end());
  CHECK(std::find(names.begin(), names.end(), "ttl_ms") != names.end());
  CHECK(wait_token);
}

TEST_CASE("server commands: SHUTDOWN makes the server exit with code 0") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  c->Cmd({"LOCK.ACQUIRE", "seat", "h", "60000"});
  Reply r = c->Cmd({"SHUTDOWN"});
  // As in Redis, a successful SHUTDOWN closes the connection without a reply.
  CHECK_MESSAGE(!r, r.Describe());
  std::optional<int> code = srv.WaitExit(5000);
  REQUIRE_MESSAGE(code.has_value(), "server still running 5 s after SHUTDOWN");
  CHECK(*code == 0);
}

TEST_CASE("server commands: SIGTERM and SIGINT make the server exit with code 0") {
  SUBCASE("SIGTERM") {
    START_SERVER(srv);
    auto c = srv.Connect();
    c->Cmd({"LOCK.ACQUIRE", "seat", "h", "60000"});
    CHECK(srv.StopWith(SIGTERM, 5000) == 0);
    CHECK(srv.ReadLog().find("Received SIGTERM") != std::string::npos);
  }
  SUBCASE("SIGINT") {
    START_SERVER(srv);
    CHECK(srv.StopWith(SIGINT, 5000) == 0);
  }
}
