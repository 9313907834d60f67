// RESP3 after HELLO 3, byte for byte on a raw socket:
// hiredis 0.14 has no RESP3 parser.
#include <doctest/doctest.h>

#include "harness.h"

using namespace lockd_test;

namespace {

// The HELLO reply's expected bytes for protocol `proto` (a map in RESP3, a
// flat array in RESP2).
std::string ExpectedHello(int proto, const std::string& version, int64_t id) {
  std::string out = proto == 3 ? "%7\r\n" : "*14\r\n";
  out += BulkBytes("server") + BulkBytes("redis");
  out += BulkBytes("version") + BulkBytes(version);
  out += BulkBytes("proto") + ":" + std::to_string(proto) + "\r\n";
  out += BulkBytes("id") + ":" + std::to_string(id) + "\r\n";
  out += BulkBytes("mode") + BulkBytes("standalone");
  out += BulkBytes("role") + BulkBytes("master");
  out += BulkBytes("modules") + "*0\r\n";
  return out;
}

}  // namespace

TEST_CASE("resp3: HELLO 3 switches the connection to RESP3") {
  START_SERVER(srv);
  auto c = srv.Connect();
  REQUIRE(c->ok());
  std::string version = InfoField(c->Cmd({"INFO", "server"}).str(), "redis_version");
  REQUIRE(!version.empty());

  auto conn = srv.ConnectRaw();
  REQUIRE(conn->ok());
  std::string id_reply = conn->Command({"CLIENT", "ID"});
  REQUIRE_MESSAGE(id_reply.size() > 3, id_reply);
  REQUIRE(id_reply[0] == ':');
  int64_t id = std::stoll(id_reply.substr(1));

  std::string hello = conn->Command({"HELLO", "3"});
  // The map's fields, one by one, for a readable failure...
  std::optional<RespValue> v = ParseResp(hello);
  REQUIRE_MESSAGE(v.has_value(), hello);
  CHECK(v->type == '%');
  REQUIRE(v->elems.size() == 14);
  CHECK(v->elems[0].str == "server");
  CHECK(v->elems[2].str == "version");
  CHECK(v->elems[3].str == version);
  CHECK(v->elems[4].str == "proto");
  CHECK(v->elems[5].type == ':');
  CHECK(v->elems[5].integer == 3);
  CHECK(v->elems[6].str == "id");
  CHECK(v->elems[7].integer == id);
  CHECK(v->elems[8].str == "mode");
  CHECK(v->elems[10].str == "role");
  CHECK(v->elems[12].str == "modules");
  CHECK(v->elems[13].type == '*');
  // ...and the exact bytes.
  CHECK(hello == ExpectedHello(3, version, id));

  // Nulls are '_': an acquire not granted, a fence, info and get of a free key.
  Reply granted = c->Cmd({"LOCK.ACQUIRE", "seat", "alice", "30000"});
  REQUIRE_MESSAGE(granted.is_int(), granted.Describe());
  int64_t token = granted.integer();
  CHECK(conn->Command({"LOCK.ACQUIRE", "seat", "bob", "30000"}) == "_\r\n");
  CHECK(conn->Command({"LOCK.FENCE", "free"}) == "_\r\n");
  CHECK(conn->Command({"LOCK.INFO", "free"}) == "_\r\n");
  CHECK(conn->Command({"GET", "free"}) == "_\r\n");
  CHECK(conn->Command({"LOCK.ACQUIRE", "seat", "bob", "30000", "WAIT", "50"}) == "_\r\n");
  // Integers are unchanged.
  CHECK(conn->Command({"LOCK.FENCE", "seat"}) == ":" + std::to_string(token) + "\r\n");
  CHECK(conn->Command({"PING"}) == "+PONG\r\n");

  // LOCK.INFO is a map of four pairs.
  std::string info = conn->Command({"LOCK.INFO", "seat"});
  std::optional<RespValue> m = ParseResp(info);
  REQUIRE_MESSAGE(m.has_value(), info);
  REQUIRE(m->type == '%');
  REQUIRE(m->elems.size() == 8);
  int64_t ttl = m->elems[5].integer;
  CHECK(ttl > 0);
  CHECK(ttl <= 30000);
  std::string expected_info = "%4\r\n" + BulkBytes("holder") + BulkBytes("alice") +
                              BulkBytes("token") + ":" + std::to_string(token) + "\r\n" +
                              BulkBytes("ttl_ms") + ":" + std::to_string(ttl) + "\r\n" +
                              BulkBytes("waiters") + ":0\r\n";
  CHECK(info == expected_info);

  // HELLO 2 goes back to RESP2: nulls are $-1, LOCK.INFO a flat array.
  std::string hello2 = conn->Command({"HELLO", "2"});
  CHECK(hello2 == ExpectedHello(2, version, id));
  CHECK(conn->Command({"LOCK.FENCE", "free"}) == "$-1\r\n");
  CHECK(conn->Command({"LOCK.ACQUIRE", "seat", "bob", "30000"}) == "$-1\r\n");
  std::string info2 = conn->Command({"LOCK.INFO", "seat"});
  CHECK(info2.rfind("*8\r\n" + BulkBytes("holder") + BulkBytes("alice"), 0) == 0);
}

TEST_CASE("resp3: HELLO with an unsupported version, and HELLO SETNAME") {
  START_SERVER(srv);
  auto conn = srv.ConnectRaw();
  REQUIRE(conn->ok());
  std::string r = conn->Command({"HELLO", "4"});
  CHECK_MESSAGE(r.rfind("-NOPROTO ", 0) == 0, r);
  r = conn->Command({"HELLO", "1"});
  CHECK_MESSAGE(r.rfind("-NOPROTO ", 0) == 0, r);
  // The connection stays open and in RESP2.
  CHECK(conn->Command({"LOCK.FENCE", "free"}) == "$-1\r\n");

  r = conn->Command({"HELLO", "3", "SETNAME", "conn-name"});
  CHECK_MESSAGE(r.rfind("%7\r\n", 0) == 0, r);
  CHECK(conn->Command({"CLIENT", "GETNAME"}) == BulkBytes("conn-name"));
  CHECK(conn->Command({"LOCK.FENCE", "free"}) == "_\r\n");
  // HELLO with no version keeps the current protocol.
  r = conn->Command({"HELLO"});
  std::optional<RespValue> v = ParseResp(r);
  REQUIRE_MESSAGE(v.has_value(), r);
  CHECK(v->type == '%');
  REQUIRE(v->elems.size() == 14);
  CHECK(v->elems[5].integer == 3);
}
