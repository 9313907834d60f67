// The HTTP/JSON API (the original lockd API) as a codec over a Session:
// each request becomes the LOCK.* command a RESP client would send, run by
// the same dispatcher, so waits share the keys' FIFO queues with RESP
// waiters, and output limits, `timeout` and the log's group commit apply
// unchanged. The session's replies (RESP3) go to a private buffer; each
// complete reply is rendered as one HTTP response into the session's
// output, in request order.
//
// One request runs at a time per connection: a request that waits for a
// lock holds back the ones pipelined behind it, as a blocked RESP command
// does. Ownership: the network layer's Connection owns one HttpExchange.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/commands.h"
#include "cmd/session.h"
#include "http/http_codec.h"
#include "lockd/clock.h"
#include "lockd/resp.h"

namespace lockd::http {

// Larger request bodies are refused with 413.
inline constexpr size_t kMaxBodyBytes = 1024 * 1024;
// A request must arrive whole within this long of its first byte; past it
// the connection is answered 408 and closed, so that clients that trickle
// headers (slowloris) cannot hold connection slots for ever.
inline constexpr int64_t kRequestTimeoutMicros = 10'000'000;

// Runs one command for the session, as the network layer runs RESP ones.
using ExecuteFn = std::function<void(const std::vector<std::string_view>& argv)>;

class HttpExchange {
 public:
  HttpExchange(Commands* commands, Session* session);
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Where the session's ReplyWriter writes while this exchange owns it.
  OutputBuffer* replies() { return &replies_; }

  // Reads from `input` (*consumed: bytes used) and runs at most one
  // request. False when nothing more can happen until more bytes come, a
  // wait ends, or the connection closes (session.close_after_reply).
  bool Step(std::string_view input, MonoTime now, const ExecuteFn& execute, size_t* consumed);

  // A wait ended (its reply is in replies()): answers it. Harmless when no
  // request is pending.
  void FinishPending(MonoTime now);

  bool pending() const { return pending_.kind != Kind::kNone; }

  // A request has been arriving for longer than kRequestTimeoutMicros.
  bool RequestOverdue(MonoTime now) const {
    return request_started_.us != 0 && now.us - request_started_.us >= kRequestTimeoutMicros;
  }
  // Answers 408 and marks the session to close once it is sent.
  void TimeOut();

 private:
  enum class Kind { kNone, kAcquire, kRenew, kRelease, kFence, kInfo };
  struct Pending {
    Kind kind = Kind::kNone;
    std::string key;
    std::string holder;
    int64_t token = 0;
    bool keep_alive = true;
  };

  void Dispatch(const Request& request, MonoTime now, const ExecuteFn& execute);
  void Run(Pending pending, std::vector<std::string> argv, MonoTime now, const ExecuteFn& execute);
  void Answer(MonoTime now);
  // Unix milliseconds at which `holder`'s lease on `key` (with `token`)
  // ends; now when it is no longer theirs.
  int64_t ExpiresAtUnixMs(const Pending& p, MonoTime now);
  void Respond(int status, std::string_view body, bool keep_alive,
               std::string_view content_type = "application/json",
               std::string_view extra_headers = {});
  void Fail(int status, std::string_view message, bool keep_alive,
            std::string_view extra_headers = {});
  // The ACL user a request runs as (null: the default user): Basic
  // credentials name any user, a Bearer token is the default user's
  // password, and with neither the default user when it needs none. False:
  // the request is refused with 401.
  bool Authorize(const Request& request, acl::User** user);

  Commands* commands_;
  Session* session_;
  HttpRequestReader reader_;
  OutputBuffer replies_;
  Pending pending_;
  MonoTime request_started_{0};  // the first byte of the incomplete request; 0: none
};

}  // namespace lockd::http
