// Session: what the command layer knows of one client connection.
//
// The network layer owns the connection and embeds one Session in it; the
// command layer reads and changes the session (protocol, name, auth, blocked
// waiter) and appends replies to its output buffer. Nothing here knows
// sockets or libuv.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lockd/clock.h"
#include "lockd/engine.h"
#include "lockd/resp.h"

namespace lockd {

struct CommandSpec;
namespace acl {
struct User;
}

struct Session {
  explicit Session(uint64_t client_id) : id(client_id), reply(&out, 2) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const uint64_t id;
  std::string addr;   // "ip:port" of the peer, or "path:0" for a unix socket
  std::string laddr;  // the local address it connected to
  int fd = -1;
  bool unix_socket = false;

  std::string name;  // CLIENT SETNAME
  std::string lib_name;
  std::string lib_ver;
  bool authenticated = false;
  // The ACL user the connection runs as; null for the default user. Users
  // live in acl::Registry; a deleted user's sessions are moved off it first.
  acl::User* user = nullptr;
  bool no_evict = false;
  bool no_touch = false;

  MonoTime created;
  MonoTime last_interaction;
  // The last command run, for CLIENT LIST cmd= (entries of the static command
  // table live as long as the process); null before the first.
  const CommandSpec* last_command = nullptr;

  // Set while the client is blocked in LOCK.ACQUIRE ... WAIT: its queued
  // waiter in the engine. Commands pipelined behind it wait in the input buffer.
  Waiter* waiter = nullptr;
  MonoTime blocked_since;

  // MULTI ... EXEC (cmd/transaction_commands.cc). While in_multi, commands
  // other than EXEC, DISCARD, MULTI, WATCH, QUIT and RESET are queued here,
  // arguments copied, and run by EXEC.
  bool in_multi = false;
  // A command was refused while queuing (unknown, arity, ...): EXEC replies
  // EXECABORT and runs nothing, as Redis's CLIENT_DIRTY_EXEC.
  bool multi_refused = false;
  // A WATCHed key changed since WATCH: EXEC replies a null array, as
  // Redis's CLIENT_DIRTY_CAS. Cleared by EXEC, DISCARD, UNWATCH, RESET.
  bool watch_dirty = false;
  uint32_t queued_flags = 0;  // the union of the queued commands' CommandFlags
  size_t queued_bytes = 0;    // argument bytes held in `queued`, for CLIENT LIST
  struct QueuedCommand {
    const CommandSpec* spec;  // an entry of the static command table
    std::vector<std::string> argv;
  };
  std::vector<QueuedCommand> queued;
  // Keys this session WATCHes; Commands keeps the index from key to sessions.
  std::vector<std::string> watched;

  // Output appended since the last log commit may reveal state that commit
  // is to cover (a token, a held or free key): it must not leave before the
  // commit. False only while everything appended since then came from
  // commands flagged kCmdRevealsNoState, so a PING is not held behind
  // another client's fdatasync.
  bool awaits_commit = false;

  // Pub/sub (cmd/pubsub.h): the channels and patterns this client
  // subscribes to, in the order it subscribed. Any subscription puts a RESP2
  // client in subscribed mode; PubSub keeps the index from channel to clients.
  std::vector<std::string> channels;
  std::vector<std::string> patterns;
  // MONITOR: the client receives a line for every command others run.
  bool monitor = false;

  // Replication (src/repl/): this connection is a replica of this server
  // (it said PSYNC), or this client is blocked in WAIT for replicas' acks.
  bool replica = false;
  bool waiting_replicas = false;

  // QUIT, a protocol error, CLIENT KILL: send what is pending, then close.
  bool close_after_reply = false;

  // Pending replies, drained by the network layer before the loop sleeps.
  OutputBuffer out;
  ReplyWriter reply;

  // Filled by the network layer for CLIENT LIST / INFO.
  size_t query_buffer_bytes = 0;
  size_t query_buffer_capacity = 0;

  int protocol() const { return reply.protocol(); }
  bool blocked() const { return waiter != nullptr || waiting_replicas; }
  bool subscribed() const { return !channels.empty() || !patterns.empty(); }
  // Receives output it did not ask for (messages, MONITOR lines), so its
  // output is bounded by the pubsub class of client-output-buffer-limit
  // rather than by pausing its reads.
  bool receives_pushes() const { return monitor || subscribed(); }
};

}  // namespace lockd
