// Endpoint → command mapping and RESP reply → HTTP response rendering for
// the HTTP/JSON API (see http_api.h). Request bodies are read with
// simdjson; responses are written with fmt.
#include "http/http_api.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <utility>

#include "http/metrics.h"
#include "util/errors.h"

namespace lockd::http {

namespace {

// ---- RESP replies, as the few commands the API runs give them.

struct RespValue {
  char type = 0;  // the RESP type byte; '_' for every kind of null
  int64_t integer = 0;
  std::string text;              // simple strings, errors, bulks
  std::vector<RespValue> items;  // arrays; maps as key, value, key, value
};

bool ReadLine(std::string_view in, size_t* pos, std::string_view* line) {
  size_t end = in.find("\r\n", *pos);
  if (end == std::string_view::npos) return false;
  *line = in.substr(*pos, end - *pos);
  *pos = end + 2;
  return true;
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool DecodeResp(std::string_view in, size_t* pos, RespValue* v, int depth = 0) {
  if (depth > 8 || *pos >= in.size()) return false;
  v->type = in[(*pos)++];
  std::string_view line;
  if (!ReadLine(in, pos, &line)) return false;
  switch (v->type) {
    case '+':
    case '-':
      v->text = line;
      return true;
    case ':':
      return ParseInt(line, &v->integer);
    case '_':
      return true;
    case '#':
      v->integer = line == "t" ? 1 : 0;
      return true;
    case '$':
    case '=': {
      int64_t len = 0;
      if (!ParseInt(line, &len)) return false;
      if (len < 0) {
        v->type = '_';
        return true;
      }
      if (*pos + static_cast<size_t>(len) + 2 > in.size()) return false;
      v->text = in.substr(*pos, static_cast<size_t>(len));
      *pos += static_cast<size_t>(len) + 2;
      return true;
    }
    case '*':
    case '%': {
      int64_t n = 0;
      if (!ParseInt(line, &n)) return false;
      if (n < 0) {
        v->type = '_';
        return true;
      }
      if (v->type == '%') n *= 2;
      v->items.resize(static_cast<size_t>(n));
      for (RespValue& item : v->items) {
        if (!DecodeResp(in, pos, &item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// The HTTP status of an error reply, by its code.
int StatusOfError(std::string_view message) {
  std::string_view code = message.substr(0, message.find(' '));
  if (code == "LOADING" || code == "MISCONF") return 503;
  if (code == "NOAUTH") return 401;
  if (code == "MAXWAITERS") return 429;
  if (code == "UNBLOCKED") return 409;
  return 400;
}

// ---- Request bodies.

struct Fields {
  std::string key;
  std::string holder;
  int64_t ttl_ms = 0;
  int64_t wait_ms = 0;
  int64_t token = 0;
};

enum FieldSet : unsigned {
  kKey = 1,
  kHolder = 2,
  kTtl = 4,
  kWait = 8,  // optional
  kToken = 16,
};

// Reads the fields in `wanted` from a JSON object; the error names the
// field. Empty when all is well.
std::string ReadFields(const std::string& body, unsigned wanted, Fields* f) {
  // One parser for the whole server (one loop thread); it keeps the room of
  // the largest body it read, at most about kMaxBodyBytes' worth.
  static simdjson::dom::parser parser;
  simdjson::dom::element doc;
  // simdjson checks UTF-8 as it parses: a body that is not UTF-8 is refused.
  if (auto err = parser.parse(body).get(doc); err) {
    return fmt::format(fmt::runtime(errors::kHttpBadJsonFormat), simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return errors::kHttpNotObject;
  auto string_field = [&](const char* name, std::string* out) -> std::string {
    simdjson::dom::element e;
    if (obj[name].get(e)) return fmt::format(fmt::runtime(errors::kHttpMissingFieldFormat), name);
    std::string_view s;
    if (e.get_string().get(s)) return fmt::format(fmt::runtime(errors::kHttpNotStringFormat), name);
    if (s.empty()) return fmt::format(fmt::runtime(errors::kHttpEmptyFieldFormat), name);
    *out = s;
    return "";
  };
  auto int_field = [&](const char* name, int64_t* out, bool optional, int64_t min,
                       const char* what) -> std::string {
    simdjson::dom::element e;
    if (obj[name].get(e)) return optional ? "" : fmt::format(fmt::runtime(errors::kHttpMissingFieldFormat), name);
    int64_t v = 0;
    if (e.get_int64().get(v) || v < min) return fmt::format(fmt::runtime(errors::kHttpBadNumberFormat), name, what);
    *out = v;
    return "";
  };
  std::string err;
  if ((wanted & kKey) && !(err = string_field("key", &f->key)).empty()) return err;
  if ((wanted & kHolder) && !(err = string_field("holder", &f->holder)).empty()) return err;
  if ((wanted & kToken) &&
      !(err = int_field("token", &f->token, false, 1, "a positive integer")).empty()) {
    return err;
  }
  if ((wanted & kTtl) &&
      !(err = int_field("ttl_ms", &f->ttl_ms, false, 1, "a positive integer")).empty()) {
    return err;
  }
  if ((wanted & kWait) &&
      !(err = int_field("wait_ms", &f->wait_ms, true, 0, "a non-negative integer")).empty()) {
    return err;
  }
  return "";
}

}  // namespace

HttpExchange::HttpExchange(Commands* commands, Session* session)
    : commands_(commands), session_(session), reader_(kMaxBodyBytes) {}

void HttpExchange::Respond(int status, std::string_view body, bool keep_alive,
                           std::string_view content_type, std::string_view extra_headers) {
  RenderResponse(&session_->out, status, content_type, body, keep_alive, extra_headers);
  if (!keep_alive) session_->close_after_reply = true;
}

void HttpExchange::Fail(int status, std::string_view message, bool keep_alive,
                        std::string_view extra_headers) {
  RenderError(&session_->out, status, message, keep_alive, extra_headers);
  if (!keep_alive) session_->close_after_reply = true;
}

bool HttpExchange::Step(std::string_view input, MonoTime now, const ExecuteFn& execute,
                        size_t* consumed) {
  HttpRequestReader::Result r = reader_.Read(input, consumed);
  if (r == HttpRequestReader::Result::kRequest || !reader_.in_request()) {
    request_started_ = MonoTime{0};
  } else if (request_started_.us == 0) {
    request_started_ = now;
  }
  switch (r) {
    case HttpRequestReader::Result::kNeedMore:
      return false;
    case HttpRequestReader::Result::kHeadersReady:
      // The client waits for this before it sends the body.
      session_->out.Append("HTTP/1.1 100 Continue\r\n\r\n");
      return *consumed > 0;
    case HttpRequestReader::Result::kBodyTooLarge:
      Fail(413, fmt::format(fmt::runtime(errors::kHttpBodyTooLargeFormat), kMaxBodyBytes), false);
      return false;
    case HttpRequestReader::Result::kHeadersTooLarge:
      Fail(431, errors::kHttpHeadersTooLarge, false);
      return false;
    case HttpRequestReader::Result::kBadRequest:
      Fail(400, fmt::format(fmt::runtime(errors::kHttpBadRequestFormat), reader_.error()), false);
      return false;
    case HttpRequestReader::Result::kRequest:
      Dispatch(reader_.request(), now, execute);
      return true;
  }
  return false;
}

void HttpExchange::TimeOut() {
  request_started_ = MonoTime{0};
  Fail(408, errors::kHttpRequestTimeout, false);
}

namespace {

// Standard base64 with padding, as Basic credentials are sent; false on
// anything else.
bool DecodeBase64(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return false;
  out->clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = value(c)) < 0) {
        return false;
      }
    }
    uint32_t n = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                 (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out->push_back(static_cast<char>(n >> 16));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

// Whether `auth` starts with `scheme` (case-insensitive) and a space.
bool HasScheme(std::string_view auth, std::string_view scheme) {
  if (auth.size() <= scheme.size() || auth[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(auth[i])) != scheme[i]) return false;
  }
  return true;
}

}  // namespace

bool HttpExchange::Authorize(const Request& request, acl::User** user) {
  acl::Registry& acl = commands_->acl();
  std::string_view auth = request.authorization;
  *user = nullptr;
  if (HasScheme(auth, "basic")) {
    // Basic user:password names any ACL user, as AUTH user password does.
    std::string decoded;
    if (!DecodeBase64(auth.substr(6), &decoded)) return false;
    size_t colon = decoded.find(':');
    if (colon == std::string::npos) return false;
    acl::User* u = acl.Authenticate(std::string_view(decoded).substr(0, colon),
                                    std::string_view(decoded).substr(colon + 1));
    if (u == nullptr) return false;
    *user = u == &acl.default_user() ? nullptr : u;
    return true;
  }
  if (HasScheme(auth, "bearer")) {
    // A bearer token is the default user's password (requirepass).
    return acl.Authenticate("default", auth.substr(7)) != nullptr;
  }
  return commands_->DefaultUserOpen();
}

void HttpExchange::Dispatch(const Request& request, MonoTime now, const ExecuteFn& execute) {
  bool keep_alive = request.keep_alive;
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(request.url.data(), request.url.size(), 0, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    return Fail(400, errors::kHttpBadTarget, keep_alive);
  }
  std::string_view url = request.url;
  std::string_view path = url.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  std::string_view query;
  if (u.field_set & (1 << UF_QUERY)) {
    query = url.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
  }

  enum class Route { kAcquire, kRenew, kRelease, kFence, kLocks, kMetrics, kHealth };
  Route route;
  constexpr std::string_view kLocksPrefix = "/v1/locks/";
  if (path == "/v1/acquire") {
    route = Route::kAcquire;
  } else if (path == "/v1/renew") {
    route = Route::kRenew;
  } else if (path == "/v1/release") {
    route = Route::kRelease;
  } else if (path == "/v1/fence") {
    route = Route::kFence;
  } else if (path.size() > kLocksPrefix.size() && path.starts_with(kLocksPrefix)) {
    route = Route::kLocks;
  } else if (path == "/metrics") {
    route = Route::kMetrics;
  } else if (path == "/healthz") {
    route = Route::kHealth;
  } else {
    return Fail(404, errors::kHttpNoEndpoint, keep_alive);
  }
  bool post = route == Route::kAcquire || route == Route::kRenew || route == Route::kRelease;
  if (request.method != (post ? HTTP_POST : HTTP_GET)) {
    return Fail(405, fmt::format(fmt::runtime(errors::kHttpMethodFormat), http_method_str(request.method)),
                keep_alive, post ? "Allow: POST\r\n" : "Allow: GET\r\n");
  }
  // A health check answers load balancers, which hold no password.
  acl::User* user = nullptr;
  if (route != Route::kHealth && !Authorize(request, &user)) {
    return Fail(401, errors::kHttpAuthRequired, keep_alive,
                "WWW-Authenticate: Bearer realm=\"lockd\"\r\n"
                "WWW-Authenticate: Basic realm=\"lockd\"\r\n");
  }
  session_->authenticated = true;
  session_->user = user;

  Pending p;
  p.keep_alive = keep_alive;
  Fields f;
  std::string err;
  switch (route) {
    case Route::kAcquire: {
      if (!(err = ReadFields(request.body, kKey | kHolder | kTtl | kWait, &f)).empty()) break;
      p.kind = Kind::kAcquire;
      p.key = f.key;
      p.holder = f.holder;
      std::vector<std::string> argv = {"LOCK.ACQUIRE", f.key, f.holder, std::to_string(f.ttl_ms)};
      if (f.wait_ms > 0) {
        argv.push_back("WAIT");
        argv.push_back(std::to_string(f.wait_ms));
      }
      return Run(std::move(p), std::move(argv), now, execute);
    }
    case Route::kRenew: {
      if (!(err = ReadFields(request.body, kKey | kHolder | kToken | kTtl, &f)).empty()) break;
      p.kind = Kind::kRenew;
      p.key = f.key;
      p.holder = f.holder;
      p.token = f.token;
      return Run(std::move(p),
                 {"LOCK.RENEW", f.key, f.holder, std::to_string(f.token), std::to_string(f.ttl_ms)},
                 now, execute);
    }
    case Route::kRelease: {
      if (!(err = ReadFields(request.body, kKey | kHolder | kToken, &f)).empty()) break;
      p.kind = Kind::kRelease;
      p.key = f.key;
      p.holder = f.holder;
      p.token = f.token;
      return Run(std::move(p), {"LOCK.RELEASE", f.key, f.holder, std::to_string(f.token)}, now,
                 execute);
    }
    case Route::kFence: {
      // key=K among the query's parameters, percent-decoded.
      bool found = false;
      while (!query.empty() && !found) {
        std::string_view param = query.substr(0, query.find('&'));
        query.remove_prefix(std::min(query.size(), param.size() + 1));
        if (param.starts_with("key=")) {
          if (!PercentDecode(param.substr(4), true, &p.key)) {
            return Fail(400, errors::kHttpBadKeyParam, keep_alive);
          }
          found = true;
        }
      }
      if (!found || p.key.empty()) {
        return Fail(400, errors::kHttpMissingKeyParam, keep_alive);
      }
      p.kind = Kind::kFence;
      std::string key = p.key;
      return Run(std::move(p), {"LOCK.FENCE", key}, now, execute);
    }
    case Route::kLocks: {
      if (!PercentDecode(path.substr(kLocksPrefix.size()), false, &p.key)) {
        return Fail(400, errors::kHttpBadKeyPath, keep_alive);
      }
      p.kind = Kind::kInfo;
      std::string key = p.key;
      return Run(std::move(p), {"LOCK.INFO", key}, now, execute);
    }
    case Route::kMetrics:
      // The figures reveal lock state (the last token): like a reply to
      // INFO, they leave after the log covers it.
      session_->awaits_commit = true;
      return Respond(200, RenderMetrics(*commands_, now), keep_alive,
                     "text/plain; version=0.0.4; charset=utf-8");
    case Route::kHealth: {
      std::string why = Unhealthy(*commands_);
      if (why.empty()) return Respond(200, "{\"status\":\"ok\"}", keep_alive);
      return Respond(503, fmt::format("{{\"status\":{}}}", JsonQuote(why)), keep_alive);
    }
  }
  Fail(400, err, keep_alive);
}

void HttpExchange::Run(Pending pending, std::vector<std::string> argv, MonoTime now,
                       const ExecuteFn& execute) {
  pending_ = std::move(pending);
  std::vector<std::string_view> views(argv.begin(), argv.end());
  execute(views);
  // A wait: the reply comes when it ends (FinishPending).
  if (session_->blocked()) return;
  Answer(now);
}

void HttpExchange::FinishPending(MonoTime now) {
  if (pending_.kind == Kind::kNone) {
    // No request asked for it: nothing a client could be shown.
    replies_.Clear();
    return;
  }
  if (session_->blocked() || replies_.empty()) return;
  Answer(now);
}

int64_t HttpExchange::ExpiresAtUnixMs(const Pending& p, MonoTime now) {
  const Clock& clock = commands_->clock();
  int64_t offset_us = clock.WallNow().us - clock.Now().us;
  std::optional<LeaseView> lease = commands_->engine().Find(p.key, now);
  if (!lease || acl::VisibleHolder(lease->holder) != p.holder || lease->token != static_cast<Token>(p.token) ||
      !lease->deadline) {
    return (now.us + offset_us) / 1000;
  }
  // Rounded down: a client never believes it holds the lock for longer
  // than it does.
  return (lease->deadline->us + offset_us) / 1000;
}

void HttpExchange::Answer(MonoTime now) {
  Pending p = std::move(pending_);
  pending_ = Pending{};
  std::string bytes;
  replies_.ForEachRun(SIZE_MAX, [&](const char* data, size_t len) { bytes.append(data, len); });
  replies_.Clear();
  RespValue v;
  size_t pos = 0;
  if (!DecodeResp(bytes, &pos, &v)) return Fail(500, errors::kHttpUnexpectedReply, p.keep_alive);
  if (v.type == '-') return Fail(StatusOfError(v.text), v.text, p.keep_alive);
  std::string key = JsonQuote(p.key);
  switch (p.kind) {
    case Kind::kNone:
      return;
    case Kind::kAcquire:
      if (v.type != ':') return Fail(409, errors::kHttpHeld, p.keep_alive);
      p.token = v.integer;
      return Respond(200,
                     fmt::format("{{\"key\":{},\"holder\":{},\"token\":{},\"expires_at_unix_ms\":{}}}",
                                 key, JsonQuote(p.holder), p.token, ExpiresAtUnixMs(p, now)),
                     p.keep_alive);
    case Kind::kRenew:
      if (v.integer != 1) {
        return Fail(409, errors::kHttpNotHolder, p.keep_alive);
      }
      return Respond(200,
                     fmt::format("{{\"key\":{},\"holder\":{},\"token\":{},\"expires_at_unix_ms\":{}}}",
                                 key, JsonQuote(p.holder), p.token, ExpiresAtUnixMs(p, now)),
                     p.keep_alive);
    case Kind::kRelease:
      if (v.integer != 1) {
        return Fail(409, errors::kHttpNotHolder, p.keep_alive);
      }
      return Respond(200,
                     fmt::format("{{\"key\":{},\"holder\":{},\"token\":{},\"released\":true}}", key,
                                 JsonQuote(p.holder), p.token),
                     p.keep_alive);
    case Kind::kFence:
      if (v.type != ':') {
        return Respond(200, fmt::format("{{\"key\":{},\"held\":false,\"token\":null}}", key),
                       p.keep_alive);
      }
      return Respond(200, fmt::format("{{\"key\":{},\"held\":true,\"token\":{}}}", key, v.integer),
                     p.keep_alive);
    case Kind::kInfo: {
      if (v.type == '_') return Fail(404, errors::kHttpNotHeld, p.keep_alive);
      std::string holder;
      int64_t token = 0, ttl_ms = 0, waiters = 0;
      for (size_t i = 0; i + 1 < v.items.size(); i += 2) {
        const std::string& name = v.items[i].text;
        const RespValue& value = v.items[i + 1];
        if (name == "holder") holder = value.text;
        if (name == "token") token = value.integer;
        if (name == "ttl_ms") ttl_ms = value.integer;
        if (name == "waiters") waiters = value.integer;
      }
      return Respond(200,
                     fmt::format("{{\"key\":{},\"holder\":{},\"token\":{},\"ttl_ms\":{},"
                                 "\"waiters\":{}}}",
                                 key, JsonQuote(holder), token, ttl_ms, waiters),
                     p.keep_alive);
    }
  }
}

}  // namespace lockd::http
