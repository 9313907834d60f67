// Fuzz target: the Lua bridge's conversions, both ways.
//
// A script is either raw fuzzer bytes or built from a small grammar of the
// values a script can return (tables, {ok=}, {err=}, RESP3 forms, numbers
// that do not fit, nested calls...), and runs through src/script directly.
// Its redis.call / redis.pcall reach a fake bridge whose replies are built
// by the fuzzer with ReplyWriter in the protocol the script asked for (RESP2
// or RESP3: every type, nested), so the reply → Lua conversion sees every
// shape a command could send. What the script returns is written in the
// caller's protocol and must be exactly one well-formed reply.
//
// The clock moves 1 ms each time it is read and scripts have a 20 ms limit,
// so an endless loop ends after a few hook calls; the Lua heap is capped
// low so that a runaway allocation ends quickly too.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "lockd/clock.h"
#include "lockd/resp.h"
#include "resp_check.h"
#include "script/scripting.h"
#include "util/log.h"

namespace lockd {
namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "script: %s %s\n", what, detail.c_str());
  std::abort();
}

// Moves a millisecond every time it is read.
class TickingClock final : public Clock {
 public:
  MonoTime Now() const override {
    now_.us += 1000;
    return now_;
  }
  WallTime WallNow() const override { return WallTime{1'700'000'000'000'000 + now_.us}; }

 private:
  mutable MonoTime now_{1'000'000};
};

std::string Drain(OutputBuffer& out) {
  std::string s;
  out.ForEachRun(SIZE_MAX, [&](const char* p, size_t n) { s.append(p, n); });
  out.Clear();
  return s;
}

// One reply of any type, nested up to `depth`.
void WriteReply(FuzzedDataProvider& in, ReplyWriter& w, int depth) {
  const int kind = in.ConsumeIntegralInRange<int>(0, depth > 0 ? 12 : 9);
  switch (kind) {
    case 0: w.Simple(in.ConsumeRandomLengthString(12)); break;
    case 1: w.Error(in.ConsumeBool() ? "ERR " + in.ConsumeRandomLengthString(12)
                                     : in.ConsumeRandomLengthString(12)); break;
    case 2: w.Integer(in.ConsumeIntegral<int64_t>()); break;
    case 3: w.Bulk(in.ConsumeRandomLengthString(24)); break;
    case 4: w.Null(); break;
    case 5: w.NullArray(); break;
    case 6: w.Double(in.ConsumeBool() ? in.ConsumeFloatingPoint<double>()
                                      : static_cast<double>(in.ConsumeIntegral<int16_t>()) / 8);
            break;
    case 7: w.Bool(in.ConsumeBool()); break;
    case 8: w.Verbatim(in.ConsumeRandomLengthString(12)); break;
    case 9: w.Integer(in.ConsumeIntegralInRange<int64_t>(-3, 3)); break;
    case 10: {
      size_t n = in.ConsumeIntegralInRange<size_t>(0, 4);
      w.Array(n);
      for (size_t i = 0; i < n; ++i) WriteReply(in, w, depth - 1);
      break;
    }
    case 11: {
      size_t n = in.ConsumeIntegralInRange<size_t>(0, 3);
      w.Map(n);
      for (size_t i = 0; i < 2 * n; ++i) WriteReply(in, w, depth - 1);
      break;
    }
    default: {
      size_t n = in.ConsumeIntegralInRange<size_t>(0, 3);
      w.Set(n);
      for (size_t i = 0; i < n; ++i) WriteReply(in, w, depth - 1);
      break;
    }
  }
}

// Replies from the fuzzer, in whatever protocol the script asked for.
class FuzzBridge final : public script::CommandBridge {
 public:
  explicit FuzzBridge(FuzzedDataProvider* in) : in_(in) {}

  Outcome Call(const std::vector<std::string_view>& argv, int protocol) override {
    if (argv.empty()) Fail("a call without arguments", "");
    if (in_->ConsumeIntegralInRange<int>(0, 15) == 0) {
      return Outcome{true, "ERR Unknown Redis command called from script"};
    }
    ReplyWriter w(&out_, protocol);
    WriteReply(*in_, w, 3);
    reply_ = Drain(out_);
    fuzz::RespChecker check(reply_, protocol);
    size_t n = 0;
    if (!check.CheckAll(&n) || n != 1) Fail("the fake bridge wrote a bad reply:", check.error());
    return Outcome{false, reply_};
  }
  void NoteError(std::string_view) override {}

 private:
  FuzzedDataProvider* in_;
  OutputBuffer out_;
  std::string reply_;
};

std::string LuaString(const std::string& s) {
  std::string out = "'";
  for (unsigned char c : s) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\%03u", c);
    out += buf;
  }
  return out + "'";
}

// A Lua expression for a value a script may return.
std::string Expr(FuzzedDataProvider& in, int depth) {
  static const char* const kAtoms[] = {
      "r", "nil", "true", "false", "0", "1", "-1", "3.99", "-2.5", "1e300", "0/0", "1/0", "-1/0",
      "2^53", "2^63", "-2^63", "ARGV[1]", "KEYS[1]", "ARGV", "{}", "''",
      "redis.call('get', 'k')", "redis.pcall('get', 'k')", "redis.status_reply('OK')",
      "redis.error_reply('ERR x')", "redis.error_reply('')", "{err='MY error'}", "{ok='fine'}",
      "{err=''}", "{ok=''}", "{double=3.5}", "{double='x'}", "{big_number='123'}",
      "{big_number=''}", "{verbatim_string={format='txt', string='hi'}}",
      "{verbatim_string={}}", "{map={a=1}}", "{set={a=true}}", "{map={}}", "{set=1}",
      "{map={[1]=2, [true]=false}}", "cjson.decode('[1,2,{\"a\":null}]')",
      "cjson.encode({1,2})", "redis.sha1hex('x')", "tostring(r)", "type(r)", "#r",
      "redis.setresp(3)", "redis.setresp(2)", "{1, nil, 3}", "{[1]=1, [3]=3}",
      "setmetatable({}, {__index=function() return 1 end})",
  };
  if (depth <= 0 || in.ConsumeIntegralInRange<int>(0, 3) != 0) {
    if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return LuaString(in.ConsumeRandomLengthString(8));
    return kAtoms[in.ConsumeIntegralInRange<size_t>(0, std::size(kAtoms) - 1)];
  }
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: {
      std::string t = "{";
      int n = in.ConsumeIntegralInRange<int>(0, 4);
      for (int i = 0; i < n; ++i) t += Expr(in, depth - 1) + ",";
      return t + "}";
    }
    case 1: return "{err=" + Expr(in, depth - 1) + "}";
    case 2: return "{ok=" + Expr(in, depth - 1) + "}";
    case 3: return "{map={k=" + Expr(in, depth - 1) + ", [" + Expr(in, depth - 1) + "]=1}}";
    case 4: return "{double=" + Expr(in, depth - 1) + "}";
    default: return "redis.pcall(" + Expr(in, depth - 1) + ", 'k')";
  }
}

std::string BuildScript(FuzzedDataProvider& in) {
  std::string body;
  if (in.ConsumeBool()) body += "redis.setresp(" + std::to_string(in.ConsumeIntegralInRange<int>(1, 4)) + ")\n";
  body += "local r = redis.pcall('get', 'k')\n";
  if (in.ConsumeBool()) body += "r = redis.call('lock.info', 'k')\n";
  body += "return " + Expr(in, 3) + "\n";
  return body;
}

}  // namespace
}  // namespace lockd

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  lockd::LogSetLevel(lockd::LogLevel::kNothing);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace lockd;
  FuzzedDataProvider in(bytes, size);
  const int caller_protocol = in.ConsumeBool() ? 3 : 2;
  std::string body = in.ConsumeBool() ? in.ConsumeRandomLengthString(512) : BuildScript(in);

  TickingClock clock;
  script::Scripting scripting(&clock, size_t{32} << 20);
  std::string sha, error;
  OutputBuffer out;
  ReplyWriter writer(&out, caller_protocol);
  if (!scripting.CompileForEval(body, &sha, &error)) {
    if (error.empty()) Fail("a compile error without text", body);
    return 0;
  }
  FuzzBridge bridge(&in);
  std::vector<std::string_view> keys = {"k"};
  std::vector<std::string_view> args = {"a1", "2"};
  script::ScriptRun run;
  run.sha = sha;
  run.keys = &keys;
  run.args = &args;
  run.read_only = in.ConsumeBool();
  run.time_limit_ms = 20;
  run.bridge = &bridge;
  run.out = &writer;
  scripting.Run(run);
  std::string reply = Drain(out);
  fuzz::RespChecker check(reply, caller_protocol);
  size_t n = 0;
  if (!check.CheckAll(&n) || n != 1) Fail("the script's reply is malformed:", check.error() + "\n" + body + "\n" + reply);
  return 0;
}
