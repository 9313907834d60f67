// The client threads of recorder.h and the server lifecycle around them.
//
// A server "generation" is one process: the crash controller kills a
// generation and starts the next in the same directory. A client whose
// connection fails records its op as optional, then waits for the next
// generation and reconnects under a new holder name (a new connection is a
// new client to the server; its old waits died with the old connection).
#include "recorder.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "../integration/harness.h"

namespace lincheck {

namespace {

using lockd_test::Client;
using lockd_test::Reply;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// redis-py's Lock release script, byte for byte.
constexpr char kRedisPyRelease[] =
    "local token = redis.call('get', KEYS[1])\n"
    "if not token or token ~= ARGV[1] then\n"
    "    return 0\n"
    "end\n"
    "redis.call('del', KEYS[1])\n"
    "return 1\n";

std::string HolderName(int holder) { return "h" + std::to_string(holder); }

int ParseHolder(const std::string& s) {
  if (s.size() < 2 || s[0] != 'h') return -2;
  return std::stoi(s.substr(1));
}

// What the clients share with the controller.
struct Shared {
  std::atomic<int> port{0};
  std::atomic<int> generation{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> victim_id{-1};  // CLIENT ID of the unblockable client
  std::mutex mu;
  std::string error;
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (error.empty()) error = what;
  }
};

struct Recorded {
  Op op;
  int generation = 0;
};

class ClientThread {
 public:
  ClientThread(int index, const RecordOptions& options, Shared* shared)
      : index_(index), options_(options), shared_(shared),
        rng_(options.seed * 1000003 + static_cast<uint64_t>(index) * 7919 + 17) {}

  void Run() {
    bool victim = index_ == options_.clients - 2;
    bool dropper = index_ == options_.clients - 1;
    for (int n = 0; n < options_.ops_per_client && !shared_->stop; ++n) {
      if (!Connect(victim)) return;
      if (Chance(30)) std::this_thread::sleep_for(std::chrono::microseconds(Uniform(0, 4000)));
      Op op = NextOp(victim);
      int gen = generation_;
      if (dropper && op.kind == OpKind::kAcquire && op.wait_ms > 0 && Chance(40)) {
        Drop(&op);
      } else {
        Send(&op);
      }
      if (!op.known && conn_) {
        // The server went away: wait for the next generation.
        failed_generation_ = generation_;
        conn_.reset();
      }
      recorded_.push_back({op, gen});
    }
    conn_.reset();
  }

  std::vector<Recorded>& recorded() { return recorded_; }

 private:
  bool Chance(int percent) { return Uniform(0, 99) < percent; }
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  // (Re)connects when the last op left no connection, to the newest server
  // generation; a new connection gets a new holder name.
  bool Connect(bool victim) {
    if (conn_) return true;
    for (int attempt = 0; attempt < 2000 && !shared_->stop; ++attempt) {
      int gen = shared_->generation;
      if (gen == failed_generation_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      auto c = std::make_unique<Client>(shared_->port, 3000);
      if (!c->ok()) {
        failed_generation_ = gen;
        continue;
      }
      if (victim) {
        Reply id = c->Cmd({"CLIENT", "ID"});
        if (!id.is_int()) {
          failed_generation_ = gen;
          continue;
        }
        shared_->victim_id = id.integer();
      }
      conn_ = std::move(c);
      generation_ = gen;
      holder_ = index_ * 1000 + (++incarnation_);
      tokens_.clear();
      return true;
    }
    if (!shared_->stop) shared_->Fail("client " + std::to_string(index_) + " cannot reconnect");
    return false;
  }

  Op NextOp(bool victim) {
    Op op;
    op.client = index_;
    op.key = options_.key_prefix + std::to_string(Uniform(0, options_.keys - 1));
    op.holder = holder_;
    op.ttl_ms = Uniform(options_.ttl_min_ms, options_.ttl_max_ms);
    int64_t r = Uniform(0, 99);
    int64_t mine = tokens_.count(op.key) ? tokens_[op.key] : Uniform(1, 1000);
    // Now and then a stale or made-up token, which must be refused.
    int64_t token = Chance(15) ? mine + Uniform(-2, 2) : mine;
    if (token < 1) token = 1;
    if (r < 18) {
      op.kind = OpKind::kAcquire;
    } else if (r < 34) {
      op.kind = OpKind::kAcquire;
      op.wait_ms = victim ? Uniform(40, 150) : Uniform(5, 60);
      op.unblockable = victim;
    } else if (r < 44) {
      op.kind = OpKind::kRenew;
      op.token_arg = token;
    } else if (r < 56) {
      op.kind = OpKind::kRelease;
      op.token_arg = token;
      op.ttl_ms = 0;
    } else if (r < 63) {
      op.kind = OpKind::kFence;
    } else if (r < 69) {
      op.kind = OpKind::kInfo;
    } else if (r < 77) {
      op.kind = OpKind::kSetNxPx;
    } else if (r < 81) {
      op.kind = OpKind::kGet;
    } else if (r < 84) {
      op.kind = OpKind::kDel;
    } else if (r < 88) {
      op.kind = OpKind::kPexpire;
    } else if (r < 94) {
      op.kind = OpKind::kEvalRelease;
    } else {
      op.kind = OpKind::kMultiAcquire;
    }
    if (op.kind == OpKind::kFence || op.kind == OpKind::kInfo || op.kind == OpKind::kGet ||
        op.kind == OpKind::kDel || op.kind == OpKind::kEvalRelease) {
      op.ttl_ms = 0;
    }
    if (op.kind == OpKind::kFence || op.kind == OpKind::kInfo || op.kind == OpKind::kGet ||
        op.kind == OpKind::kDel || op.kind == OpKind::kPexpire) {
      op.holder = kNoHolder;
    }
    return op;
  }

  std::vector<std::string> Args(const Op& op) {
    std::string h = HolderName(op.holder);
    std::string ttl = std::to_string(op.ttl_ms);
    switch (op.kind) {
      case OpKind::kAcquire:
        if (op.wait_ms > 0) {
          return {"LOCK.ACQUIRE", op.key, h, ttl, "WAIT", std::to_string(op.wait_ms)};
        }
        return {"LOCK.ACQUIRE", op.key, h, ttl};
      case OpKind::kRenew:
        return {"LOCK.RENEW", op.key, h, std::to_string(op.token_arg), ttl};
      case OpKind::kRelease:
        return {"LOCK.RELEASE", op.key, h, std::to_string(op.token_arg)};
      case OpKind::kFence: return {"LOCK.FENCE", op.key};
      case OpKind::kInfo: return {"LOCK.INFO", op.key};
      case OpKind::kSetNxPx: return {"SET", op.key, h, "NX", "PX", ttl};
      case OpKind::kGet: return {"GET", op.key};
      case OpKind::kDel: return {"DEL", op.key};
      case OpKind::kPexpire: return {"PEXPIRE", op.key, ttl};
      case OpKind::kEvalRelease: return {"EVAL", kRedisPyRelease, "1", op.key, h};
      default: return {};
    }
  }

  // Sends the op, waits for its reply and parses it into the op.
  void Send(Op* op) {
    op->invoke_us = NowUs();
    if (op->kind == OpKind::kMultiAcquire) {
      SendMulti(op);
      return;
    }
    Reply r = conn_->Cmd(Args(*op));
    op->response_us = NowUs();
    if (!r) {
      op->known = false;
      op->response_us = kForever;
      return;
    }
    op->known = true;
    auto bad = [&] {
      shared_->Fail(std::string("unexpected reply to ") + OpKindName(op->kind) + ": " + r.Describe());
    };
    switch (op->kind) {
      case OpKind::kAcquire:
      case OpKind::kFence:
        if (r.is_nil()) break;
        if (!r.is_int()) return bad();
        op->nil = false;
        op->value = r.integer();
        if (op->kind == OpKind::kAcquire) tokens_[op->key] = op->value;
        break;
      case OpKind::kRenew:
      case OpKind::kRelease:
      case OpKind::kDel:
      case OpKind::kPexpire:
      case OpKind::kEvalRelease:
        if (!r.is_int()) return bad();
        op->nil = false;
        op->value = r.integer();
        break;
      case OpKind::kInfo: {
        if (r.is_nil()) break;
        std::optional<lockd_test::LockInfo> info = lockd_test::ParseLockInfo(r);
        if (!info) return bad();
        op->nil = false;
        op->holder_seen = ParseHolder(info->holder);
        op->value = info->token;
        op->info_ttl_ms = info->ttl_ms;
        op->info_waiters = info->waiters;
        break;
      }
      case OpKind::kSetNxPx:
        if (r.is_nil()) break;
        if (!r.is_status() || r.str() != "OK") return bad();
        op->nil = false;
        op->value = 1;
        break;
      case OpKind::kGet:
        if (r.is_nil()) break;
        if (!r.is_string()) return bad();
        op->nil = false;
        op->holder_seen = ParseHolder(r.str());
        break;
      default:
        return bad();
    }
  }

  void SendMulti(Op* op) {
    std::string h = HolderName(op->holder);
    conn_->Append({"MULTI"});
    conn_->Append({"LOCK.ACQUIRE", op->key, h, std::to_string(op->ttl_ms)});
    conn_->Append({"LOCK.FENCE", op->key});
    conn_->Append({"EXEC"});
    Reply replies[4];
    bool ok = conn_->Flush();
    for (int i = 0; i < 4 && ok; ++i) {
      replies[i] = conn_->GetReply();
      ok = static_cast<bool>(replies[i]);
    }
    op->response_us = NowUs();
    if (!ok) {
      op->known = false;
      op->response_us = kForever;
      return;
    }
    op->known = true;
    const Reply& exec = replies[3];
    if (!exec.is_array() || exec.size() != 2) {
      shared_->Fail("unexpected EXEC reply: " + exec.Describe());
      return;
    }
    const redisReply* acq = exec.at(0);
    const redisReply* fence = exec.at(1);
    if (acq->type == REDIS_REPLY_INTEGER) {
      op->nil = false;
      op->value = acq->integer;
      tokens_[op->key] = op->value;
    } else if (acq->type != REDIS_REPLY_NIL) {
      shared_->Fail("unexpected EXEC acquire reply");
    }
    if (fence->type == REDIS_REPLY_INTEGER) {
      op->nil2 = false;
      op->value2 = fence->integer;
    } else if (fence->type != REDIS_REPLY_NIL) {
      shared_->Fail("unexpected EXEC fence reply");
    }
  }

  // Sends a wait and closes the connection before reading its reply: the
  // server must drop the waiter (or may have granted it just before).
  void Drop(Op* op) {
    op->invoke_us = NowUs();
    conn_->Append(Args(*op));
    conn_->Flush();
    std::this_thread::sleep_for(std::chrono::microseconds(Uniform(0, 30000)));
    conn_->Close();
    conn_.reset();
    op->known = false;
    op->response_us = kForever;
  }

  int index_;
  RecordOptions options_;
  Shared* shared_;
  std::mt19937_64 rng_;
  std::unique_ptr<Client> conn_;
  int generation_ = -1;
  int failed_generation_ = -1;
  int holder_ = 0;
  int incarnation_ = 0;
  std::map<std::string, int64_t> tokens_;
  std::vector<Recorded> recorded_;
};

// Ends the unblockable client's waits from another connection now and then.
void RunUnblocker(const RecordOptions& options, Shared* shared) {
  std::mt19937_64 rng(options.seed * 31 + 7);
  while (!shared->stop) {
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(3000, 25000)(rng)));
    int64_t id = shared->victim_id;
    if (id < 0) continue;
    Client c(shared->port, 1000);
    if (c.ok()) c.Cmd({"CLIENT", "UNBLOCK", std::to_string(id)});
  }
}

// Runs the clients until they are done; `during` runs on this thread
// meanwhile (the crash controller), then the clients are stopped.
std::vector<Recorded> RunClients(const RecordOptions& options, Shared* shared,
                                 const std::function<void()>& during) {
  std::vector<std::unique_ptr<ClientThread>> clients;
  std::vector<std::thread> threads;
  for (int i = 0; i < options.clients; ++i) {
    clients.push_back(std::make_unique<ClientThread>(i, options, shared));
  }
  for (auto& c : clients) threads.emplace_back([&c] { c->Run(); });
  // Client ids start again at 1 in each server process, so across kills an
  // unblock could hit another client: crash histories leave it out.
  std::thread unblocker([&] {
    if (options.kills == 0) RunUnblocker(options, shared);
  });
  if (during) during();
  for (auto& t : threads) t.join();
  shared->stop = true;
  unblocker.join();
  std::vector<Recorded> all;
  for (auto& c : clients) {
    for (Recorded& r : c->recorded()) all.push_back(std::move(r));
  }
  return all;
}

}  // namespace

History RecordHistory(int port, const RecordOptions& options, std::string* error) {
  Shared shared;
  shared.port = port;
  std::vector<Recorded> all = RunClients(options, &shared, nullptr);
  History h;
  for (Recorded& r : all) h.ops.push_back(std::move(r.op));
  *error = shared.error;
  return h;
}

History RecordCrashHistory(const RecordOptions& options, std::string* error) {
  lockd_test::ScratchDir dir;
  auto start = [&]() {
    lockd_test::ServerOptions o;
    o.dir = dir.path;
    o.appendonly = true;
    o.extra = {"--appendfsync", "always"};
    return std::make_unique<lockd_test::TestServer>(o);
  };
  Shared shared;
  std::unique_ptr<lockd_test::TestServer> server = start();
  if (!server->started()) {
    *error = "server did not start: " + server->start_error();
    return {};
  }
  shared.port = server->port();
  std::map<int, int64_t> killed_at;  // generation -> the point it was dead by
  std::vector<int64_t> crashes;
  std::mt19937_64 rng(options.seed * 131 + 3);
  auto controller = [&] {
    for (int k = 0; k < options.kills; ++k) {
      std::this_thread::sleep_for(
          std::chrono::microseconds(std::uniform_int_distribution<int>(5000, 40000)(rng)));
      server->Kill();
      int64_t dead = NowUs();
      killed_at[shared.generation] = dead;
      crashes.push_back(dead);
      server = start();
      if (!server->started()) {
        shared.Fail("restart failed: " + server->start_error());
        shared.stop = true;
        return;
      }
      shared.port = server->port();
      ++shared.generation;
    }
  };
  std::vector<Recorded> all = RunClients(options, &shared, controller);
  History h;
  for (Recorded& r : all) {
    Op& op = r.op;
    if (!op.known) {
      auto dead = killed_at.find(r.generation);
      // Sent to a server that was already dead: it never arrived anywhere.
      if (dead != killed_at.end() && op.invoke_us > dead->second) continue;
      // In flight at a kill: it happened before the server died, or never.
      auto next = std::upper_bound(crashes.begin(), crashes.end(), op.invoke_us);
      if (next != crashes.end()) op.response_us = *next - 1;
    }
    h.ops.push_back(std::move(op));
  }
  for (int64_t k : crashes) {
    Op crash;
    crash.kind = OpKind::kCrash;
    crash.client = -1;
    crash.invoke_us = crash.response_us = k;
    crash.known = true;
    h.ops.push_back(crash);
  }
  *error = shared.error;
  return h;
}

}  // namespace lincheck
