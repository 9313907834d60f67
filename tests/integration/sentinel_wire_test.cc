// What redis-sentinel 7.0 sends to the nodes it monitors, and parses from
// their replies, checked on a lockd primary and replica: the PING reply type,
// the INFO fields (CRLF lines, run_id, role first, slaveN lines, the replica's
// master_* and slave_* fields), PUBLISH of the hello message on a replica
// delivered to its subscribers, and the failover transaction (MULTI, SLAVEOF,
// CONFIG REWRITE, CLIENT KILL TYPE normal, CLIENT KILL TYPE pubsub, EXEC) as
// Sentinel pipelines it, which must switch the role and disconnect the
// clients of each type. The whole failover, driven by real sentinels, is
// scripts/sentinel-tests.py.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace lockd_test {
namespace {

std::unique_ptr<TestServer> StartWireNode(std::vector<std::string> extra = {}) {
  ServerOptions options;
  options.appendonly = true;
  options.extra = std::move(extra);
  auto srv = std::make_unique<TestServer>(options);
  REQUIRE_MESSAGE(srv->started(), srv->start_error());
  return srv;
}

// A primary and one replica whose link is up, both with `extra`.
struct WirePair {
  explicit WirePair(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    primary = StartWireNode(extra_);
    std::vector<std::string> r = extra_;
    r.insert(r.end(), {"--replicaof", "127.0.0.1 " + std::to_string(primary->port())});
    replica = StartWireNode(r);
    REQUIRE(WaitFor([&] { return replica->Info("replication", "master_link_status") == "up"; },
                    15000, 20));
  }
  std::vector<std::string> extra_;
  std::unique_ptr<TestServer> primary;
  std::unique_ptr<TestServer> replica;
};

// The failover block of Sentinel's sentinelSendSlaveOf, pipelined in one
// write as Sentinel sends it; `slaveof` is {"NO", "ONE"} or {host, port}.
std::string FailoverBlock(const std::vector<std::string>& slaveof) {
  std::vector<std::string> cmd = {"SLAVEOF"};
  cmd.insert(cmd.end(), slaveof.begin(), slaveof.end());
  return Multibulk({"MULTI"}) + Multibulk(cmd) + Multibulk({"CONFIG", "REWRITE"}) +
         Multibulk({"CLIENT", "KILL", "TYPE", "normal"}) +
         Multibulk({"CLIENT", "KILL", "TYPE", "pubsub"}) + Multibulk({"EXEC"});
}

// Reads the five replies before EXEC's and returns EXEC's.
std::string ReadBlockReplies(RawConn& c) {
  CHECK(c.ReadValue() == "+OK\r\n");
  for (int i = 0; i < 4; ++i) CHECK(c.ReadValue() == "+QUEUED\r\n");
  return c.ReadValue(10000);
}

TEST_CASE("sentinel wire: PING is a status reply, INFO has the fields Sentinel parses") {
  WirePair pair;
  for (TestServer* node : {pair.primary.get(), pair.replica.get()}) {
    auto raw = node->ConnectRaw();
    REQUIRE(raw->ok());
    // hiredis type STATUS with text PONG; a bulk "PONG" would not count.
    CHECK(raw->Command({"PING"}) == "+PONG\r\n");
    auto c = node->Connect();
    std::string info = c->Cmd({"INFO"}).str();
    // Sentinel splits on CRLF only.
    CHECK(info.find("\r\n# Replication\r\n") != std::string::npos);
    CHECK(info.find("\n") == info.find("\r\n") + 1);
    std::string run_id = InfoField(info, "run_id");
    CHECK(run_id.size() == 40);
    std::string replication = info.substr(info.find("# Replication\r\n"));
    // role: comes first: the replica fields only count on later lines.
    CHECK(replication.find("# Replication\r\nrole:") == 0);
  }
  std::string p = pair.primary->Connect()->Cmd({"INFO", "replication"}).str();
  CHECK(InfoField(p, "role") == "master");
  std::string want = "slave0:ip=127.0.0.1,port=" + std::to_string(pair.replica->port()) +
                     ",state=online,offset=";
  CHECK_MESSAGE(p.find(want) != std::string::npos, p);
  std::string r = pair.replica->Connect()->Cmd({"INFO", "replication"}).str();
  CHECK(InfoField(r, "role") == "slave");
  CHECK(r.find("role:slave") < r.find("master_host:"));
  CHECK(InfoField(r, "master_host") == "127.0.0.1");
  CHECK(InfoField(r, "master_port") == std::to_string(pair.primary->port()));
  CHECK(InfoField(r, "master_link_status") == "up");
  CHECK(InfoField(r, "slave_priority") == "100");
  CHECK(!InfoField(r, "slave_repl_offset").empty());
  CHECK(InfoField(r, "master_link_down_since_seconds").empty());  // only while down
}

TEST_CASE("sentinel wire: the hello PUBLISH works on a read-only replica and reaches its subscribers") {
  WirePair pair;
  auto sub = pair.replica->ConnectRaw();
  REQUIRE(sub->ok());
  CHECK(sub->Command({"SUBSCRIBE", "__sentinel__:hello"}) ==
        "*3\r\n$9\r\nsubscribe\r\n$18\r\n__sentinel__:hello\r\n:1\r\n");
  auto cmd = pair.replica->Connect();
  const std::string hello = "127.0.0.1,26379,0123456789012345678901234567890123456789,0,m,127.0.0.1," +
                            std::to_string(pair.primary->port()) + ",0";
  CHECK(cmd->Cmd({"PUBLISH", "__sentinel__:hello", hello}).integer() == 1);
  CHECK(sub->ReadValue() == "*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n" + BulkBytes(hello));
  // The replica still refuses writes.
  CHECK(cmd->Cmd({"LOCK.ACQUIRE", "k", "h", "1000"}).str().rfind("READONLY", 0) == 0);
}

TEST_CASE("sentinel wire: CLIENT KILL TYPE pubsub closes subscribers, TYPE normal the others") {
  START_SERVER(srv);
  auto admin = srv.ConnectRaw();
  auto normal = srv.ConnectRaw();
  auto sub = srv.ConnectRaw();
  REQUIRE((admin->ok() && normal->ok() && sub->ok()));
  CHECK(normal->Command({"PING"}) == "+PONG\r\n");
  CHECK(sub->Command({"SUBSCRIBE", "ch"}) == "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
  // CLIENT LIST TYPE sorts clients the same way.
  std::string listed = admin->Command({"CLIENT", "LIST", "TYPE", "pubsub"});
  CHECK(listed.find("cmd=subscribe") != std::string::npos);
  CHECK(listed.find("cmd=ping") == std::string::npos);
  listed = admin->Command({"CLIENT", "LIST", "TYPE", "normal"});
  CHECK(listed.find("cmd=subscribe") == std::string::npos);
  CHECK(listed.find("cmd=ping") != std::string::npos);
  // TYPE normal skips the caller (SKIPME yes) and the subscriber.
  CHECK(admin->Command({"CLIENT", "KILL", "TYPE", "normal"}) == ":1\r\n");
  bool closed = false;
  normal->ReadUntilClosed(5000, &closed);
  CHECK(closed);
  CHECK(!sub->Readable(200));
  CHECK(admin->Command({"CLIENT", "KILL", "TYPE", "pubsub"}) == ":1\r\n");
  closed = false;
  sub->ReadUntilClosed(5000, &closed);
  CHECK(closed);
  CHECK(admin->Command({"CLIENT", "KILL", "TYPE", "pubsub"}) == ":0\r\n");
  CHECK(admin->Command({"CLIENT", "KILL", "TYPE", "bogus"}) == "-ERR Unknown client type 'bogus'\r\n");
}

TEST_CASE("sentinel wire: the failover block promotes a replica and demotes the old primary") {
  WirePair pair;
  // A client of the replica and a subscriber (Sentinel's own pubsub link is
  // one): both must reconnect after the switch.
  auto client = pair.replica->ConnectRaw();
  auto sub = pair.replica->ConnectRaw();
  REQUIRE((client->ok() && sub->ok()));
  CHECK(client->Command({"PING"}) == "+PONG\r\n");
  CHECK(sub->Command({"SUBSCRIBE", "__sentinel__:hello"}).rfind("*3\r\n", 0) == 0);

  auto sentinel = pair.replica->ConnectRaw();
  REQUIRE(sentinel->ok());
  REQUIRE(sentinel->Send(FailoverBlock({"NO", "ONE"})));
  // SLAVEOF's +OK, CONFIG REWRITE's error (no config file: harmless at exec
  // time), one normal client and one subscriber killed.
  std::string exec = ReadBlockReplies(*sentinel);
  CHECK_MESSAGE(exec.rfind("*4\r\n+OK\r\n-ERR The server is running without a config file\r\n:", 0) == 0,
                exec);
  CHECK_MESSAGE(exec.size() > 5, exec);
  CHECK_MESSAGE(exec.substr(exec.size() - 6) == "\r\n:1\r\n", exec);  // the one subscriber
  bool closed = false;
  client->ReadUntilClosed(5000, &closed);
  CHECK(closed);
  closed = false;
  sub->ReadUntilClosed(5000, &closed);
  CHECK(closed);
  CHECK(sentinel->Command({"PING"}) == "+PONG\r\n");  // SKIPME: its own link survives
  std::string info = pair.replica->Connect()->Cmd({"INFO", "replication"}).str();
  CHECK(InfoField(info, "role") == "master");

  // The old primary gets the block with the new primary's address: it turns
  // replica and refuses writes.
  auto old_link = pair.primary->ConnectRaw();
  REQUIRE(old_link->ok());
  REQUIRE(old_link->Send(FailoverBlock({"127.0.0.1", std::to_string(pair.replica->port())})));
  exec = ReadBlockReplies(*old_link);
  CHECK(exec.rfind("*4\r\n+OK\r\n-ERR The server is running without a config file\r\n:", 0) == 0);
  auto old = pair.primary->Connect();
  CHECK(WaitFor(
      [&] {
        std::string r = old->Cmd({"INFO", "replication"}).str();
        return InfoField(r, "role") == "slave" && InfoField(r, "master_link_status") == "up" &&
               InfoField(r, "master_port") == std::to_string(pair.replica->port());
      },
      15000, 50));
  CHECK(old->Cmd({"LOCK.ACQUIRE", "k", "h", "1000"}).str() ==
        "READONLY You can't write against a read only replica.");
  // And the new primary lists it for Sentinel to find.
  std::string p = pair.replica->Connect()->Cmd({"INFO", "replication"}).str();
  CHECK(p.find("slave0:ip=127.0.0.1,port=" + std::to_string(pair.primary->port())) !=
        std::string::npos);
}

TEST_CASE("sentinel wire: under lock-replica-ack always the promotion's reply does not wait for replicas") {
  // The promoted node has no replica yet: Sentinel reconfigures the others
  // only after this reply and an INFO that says role:master, both on this
  // link. Its reservation is no change a reply reveals.
  WirePair pair({"--min-replicas-to-write", "1", "--lock-replica-ack", "always"});
  auto holder = pair.primary->Connect();
  REQUIRE(holder->Cmd({"LOCK.ACQUIRE", "k", "h", "60000"}).is_int());
  auto sentinel = pair.replica->ConnectRaw();
  REQUIRE(sentinel->ok());
  REQUIRE(sentinel->Send(FailoverBlock({"NO", "ONE"})));
  std::string exec = ReadBlockReplies(*sentinel);
  CHECK_MESSAGE(exec.rfind("*4\r\n+OK\r\n", 0) == 0, "EXEC reply: '" << exec << "'");
  CHECK(sentinel->Command({"PING"}) == "+PONG\r\n");
  std::string info = sentinel->Command({"INFO", "replication"});
  CHECK(info.find("role:master") != std::string::npos);
  // Writes still need the replica that is not there.
  CHECK(sentinel->Command({"LOCK.ACQUIRE", "other", "h2", "1000"}) ==
        "-NOREPLICAS Not enough good replicas to write.\r\n");
}

}  // namespace
}  // namespace lockd_test
