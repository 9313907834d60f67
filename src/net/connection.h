// Connection: one client socket and everything the network layer keeps for
// it. Ownership: the Server allocates a Connection on accept and deletes it
// only in the libuv close callback of its stream handle, so every pending
// libuv request on the handle has completed (or been cancelled) first.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <vector>

#include "cmd/session.h"
#include "http/http_api.h"
#include "lockd/resp.h"
#include "net/input_buffer.h"
#include "net/tls_stream.h"

namespace lockd {

class Server;

struct Connection {
  Connection(Server* owner, uint64_t id) : server(owner), session(id) {
    handle.tcp.data = this;
    write_req.data = this;
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
  uv_handle_t* as_handle() { return reinterpret_cast<uv_handle_t*>(&handle); }

  Server* server;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;

  Session session;
  InputBuffer input;
  RequestParser parser;
  std::vector<std::string_view> args;  // reused for every command

  // A uv_write of `write_bytes` from the head of session.out is in flight;
  // those bytes must stay put until OnWrite.
  uv_write_t write_req;
  bool write_in_flight = false;
  size_t write_bytes = 0;

  bool closing = false;          // uv_close called; waiting for the callback
  bool reading = false;          // uv_read_start is active
  bool paused_for_output = false;  // too much unsent output: not reading
  bool in_flush_list = false;
  bool in_ready_list = false;
  // Reading stopped for the rest of this loop iteration: it read its share
  // (Server::kReadBudgetPerIteration); BeforeSleep starts it again.
  bool read_throttled = false;
  uint64_t read_iteration = 0;  // the loop iteration read_bytes counts for
  // Refused a read by the iteration's budget (Server::WaitForReadTurn):
  // `read_refused` between OnAlloc and OnRead; `awaiting_read_turn` while
  // in line; `read_turn` is the iteration whose reads it may not be refused.
  bool read_refused = false;
  bool awaiting_read_turn = false;
  uint64_t read_turn = 0;
  size_t read_bytes = 0;        // bytes read in that iteration
  MonoTime soft_limit_since;     // when output first passed the soft limit; 0 if below

  // Output held until the log is durable (see Server::HoldForSync): from
  // stream position `from` (OutputBuffer::consumed_total() counting) on,
  // nothing leaves before the log's durable_lsn() reaches `lsn` and the
  // replicas that min-replicas-to-write asks for have acknowledged the
  // replication stream up to `ack_offset` (0: no ack needed). Positions
  // and lsns increase along the deque; a later hold may need no ack while
  // an earlier one does, and then waits behind it (output leaves in order).
  struct Hold {
    uint64_t from;
    uint64_t lsn;
    uint64_t ack_offset;
  };
  std::deque<Hold> holds;
  bool in_held_list = false;
  bool in_deferred_flushes = false;
  bool in_deferred_input = false;  // its commands wait for the next iteration

  // Set for a connection to the HTTP listener: its input is HTTP requests,
  // and the session's replies are rendered as HTTP responses.
  std::unique_ptr<http::HttpExchange> http;

  // Set for a connection to a TLS listener (tls-port, or the HTTP listener
  // with http-tls): reads and writes pass through it (net/server_tls.cc).
  std::unique_ptr<TlsStream> tls;
};

}  // namespace lockd
