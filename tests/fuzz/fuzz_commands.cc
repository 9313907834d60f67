// Fuzz target: the command dispatcher with several sessions, a manual clock
// and the log's commit path on an in-memory file system.
//
// Fuzzer bytes choose, step by step: a session and a command from the table
// with arguments (drawn from a small vocabulary of keys, holders, numbers
// and options, or raw bytes), a clock advance, or a session closing. After
// every step, as the event loop does: the timers run, the log commits, and
// each session's pending output is read. The checks:
//   - every reply is well-formed RESP in the session's protocol;
//   - the engine's invariants hold (tests/fuzz/engine_checks.h), and the
//     token counter never goes back;
//   - the log is always whole records, and LOCK.GRANT tokens in it strictly
//     increase;
//   - at the end, replaying the log gives the engine's leases: same keys,
//     holders and tokens.
// Commands that fork (BGREWRITEAOF), stop the server, or run Lua (the
// script target covers those) are left out, as is CONFIG SET of the log's
// own settings.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "../unit/fake_files.h"
#include "aof/loader.h"
#include "aof/log_reader.h"
#include "cmd/command_table.h"
#include "cmd/commands.h"
#include "engine_checks.h"
#include "lockd/clock.h"
#include "lockd/config.h"
#include "resp_check.h"
#include "temp_dir.h"
#include "util/log.h"
#include "util/strings.h"

namespace lockd {
namespace {

using fuzz::Broken;

constexpr int kSessions = 3;

class FakeServer final : public ServerHooks {
 public:
  void ForEachSession(const std::function<void(Session&)>& visit) override {
    for (Session* s : sessions) visit(*s);
  }
  Session* FindSession(uint64_t id) override {
    for (Session* s : sessions) {
      if (s->id == id) return s;
    }
    return nullptr;
  }
  void KillSession(Session& s) override { s.close_after_reply = true; }
  void SessionUnblocked(Session&) override {}
  void RequestShutdown() override {}
  ServerStatus Stats() override { return {}; }
  void ResetStats() override {}

  std::vector<Session*> sessions;
};

std::vector<std::string>* g_names;  // the commands the fuzzer may choose

const std::set<std::string> kLeftOut = {
    "bgrewriteaof", "shutdown", "eval", "eval_ro", "evalsha", "evalsha_ro",
    "fcall", "fcall_ro", "function", "debug", "monitor", "sync", "psync",
    "save", "bgsave", "replicaof", "slaveof", "failover",
};

// Words commands take, so that most steps do something.
const char* const kVocabulary[] = {
    "k",      "k2",   "{k}3", "alice", "bob",    "carol", "0",       "1",    "2",
    "3",      "10",   "100",  "1000",  "60000",  "-1",    "WAIT",    "NX",   "XX",
    "GET",    "EX",   "PX",   "EXAT",  "PXAT",   "KEEPTTL", "IFEQ",  "GT",   "LT",
    "MATCH",  "*",    "COUNT", "TYPE", "string", "SET",   "GETNAME", "LIST", "ID",
    "KILL",   "UNBLOCK", "ERROR", "3",  "HELLO",  "AUTH",  "RESETSTAT", "lock-max-waiters",
    "maxclients", "requirepass", "timeout", "9223372036854775807", "-9223372036854775808",
    "4398046511104", "4398046511105", "",
};

struct Harness {
  Harness() : commands(&config, &server, &clock, &fs) {
    config.appendfilename = fuzz::ScratchDir() + "/appendonly.aof";
    for (int i = 0; i < kSessions; ++i) NewSession(i);
  }
  ~Harness() {
    for (auto& s : sessions) commands.SessionClosed(*s);
  }

  void NewSession(int i) {
    if (sessions[i] != nullptr) commands.SessionClosed(*sessions[i]);
    sessions[i] = std::make_unique<Session>(next_id++);
    sessions[i]->authenticated = config.requirepass.empty();
    server.sessions.clear();
    for (auto& s : sessions) {
      if (s != nullptr) server.sessions.push_back(s.get());
    }
  }

  // The loop's end of an iteration: timers, the log commit, the replies.
  void EndOfIteration() {
    const MonoTime now = clock.Now();
    while (commands.engine().Advance(now)) {
    }
    if (!commands.durability().Commit(now)) Broken("Commit failed on a working disk");
    CheckLogTail();
    if (commands.engine().last_token() < last_token) Broken("the token counter went back");
    last_token = commands.engine().last_token();
    fuzz::CheckEngine(commands.engine(), now, /*distinct_tokens=*/true);
    for (int i = 0; i < kSessions; ++i) {
      Session& s = *sessions[i];
      std::string out;
      s.out.ForEachRun(SIZE_MAX, [&](const char* p, size_t n) { out.append(p, n); });
      s.out.Clear();
      // A session's protocol may change mid-buffer (HELLO); each reply is
      // read in the protocol it was written in only when it did not.
      int protocol = s.protocol();
      if (protocol == protocol_seen[i]) {
        fuzz::RespChecker check(out, protocol);
        if (!check.CheckAll()) Broken("a malformed reply:", check.error() + " in " + out);
      }
      protocol_seen[i] = protocol;
      if (s.close_after_reply) NewSession(i);
    }
  }

  // The log holds whole records only, and new GRANTs carry new tokens.
  void CheckLogTail() {
    std::string log = fs.Content(config.appendfilename);
    aof::LogReader reader(std::string_view(log).substr(checked_bytes));
    aof::Record r;
    aof::LogReader::Result result;
    while ((result = reader.Next(&r)) == aof::LogReader::Result::kRecord) {
      if (r.type == aof::RecordType::kGrant) {
        if (r.token <= max_grant) Broken("a GRANT reuses or lowers a token");
        max_grant = r.token;
      }
    }
    // The commit writes whole records; a MULTI unit is written whole too.
    if (result != aof::LogReader::Result::kEnd) Broken("the log is not whole records:", reader.error());
    checked_bytes = log.size();
  }

  // Replaying the log gives the engine's leases.
  void CheckReplay() {
    const MonoTime now = clock.Now();
    while (commands.engine().Advance(now)) {
    }
    if (!commands.durability().Commit(now)) Broken("Commit failed on a working disk");
    std::string log = fs.Content(config.appendfilename);
    std::string path = fuzz::ScratchDir() + "/replay.aof";
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ::write(fd, log.data(), log.size()) != static_cast<ssize_t>(log.size())) {
      Broken("cannot write the replay file");
    }
    ::close(fd);
    struct NoWaits final : WaitListener {
      void OnWaitGranted(void*, Token) override {}
      void OnWaitTimedOut(void*) override {}
    } waits;
    Engine replayed(EngineOptions{}, &waits, nullptr);
    aof::LogLoader loader(path, &replayed, &clock);
    if (!loader.Open().ok()) Broken("cannot open the replay file");
    while (loader.Run(1000) == aof::LogLoader::Step::kMore) {
    }
    if (loader.verdict() != aof::LogReader::Result::kEnd) Broken("the log does not read to its end");
    std::map<std::string, fuzz::LeaseCopy> live, back;
    for (auto& l : fuzz::Leases(commands.engine())) live[l.key] = l;
    for (auto& l : fuzz::Leases(replayed)) back[l.key] = l;
    for (const auto& [key, l] : live) {
      auto it = back.find(key);
      if (it == back.end()) Broken("a held key is not in the log:", key);
      if (it->second.holder != l.holder || it->second.token != l.token ||
          it->second.deadline.has_value() != l.deadline.has_value()) {
        Broken("the log gives another lease for", key);
      }
      back.erase(it);
    }
    if (!back.empty()) Broken("the log holds a key the engine freed:", back.begin()->first);
    if (loader.max_token() > commands.engine().last_token() + aof::kTokenBlock) {
      Broken("the log names a token above the counter");
    }
  }

  Config config;
  FakeServer server;
  ManualClock clock;
  FakeFileSystem fs;
  Commands commands;
  std::unique_ptr<Session> sessions[kSessions];
  int protocol_seen[kSessions] = {2, 2, 2};
  uint64_t next_id = 1;
  Token last_token = 0;
  Token max_grant = 0;
  size_t checked_bytes = 0;
};

bool EqualsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void Run(FuzzedDataProvider& in) {
  Harness h;
  h.config.appendfsync = static_cast<AppendFsync>(in.ConsumeIntegralInRange<int>(0, 2));
  h.config.lock_max_waiters = in.ConsumeIntegralInRange<int>(1, 4);
  h.commands.ConfigChanged();
  if (!h.commands.durability().BeginLoad().ok()) Broken("BeginLoad failed");
  while (!h.commands.durability().LoadSome(1000)) {
  }
  if (!h.commands.durability().FinishLoad().ok()) Broken("FinishLoad failed");

  std::vector<std::string> words;
  std::vector<std::string_view> argv;
  for (int step = 0; step < 64 && in.remaining_bytes() > 0; ++step) {
    switch (in.ConsumeIntegralInRange<int>(0, 7)) {
      case 0:  // the clock moves
        h.clock.AdvanceMillis(in.ConsumeIntegralInRange<int64_t>(0, 3000));
        break;
      case 1:  // a connection closes
        h.NewSession(in.ConsumeIntegralInRange<int>(0, kSessions - 1));
        break;
      default: {  // a command
        Session& s = *h.sessions[in.ConsumeIntegralInRange<int>(0, kSessions - 1)];
        if (s.blocked()) break;  // its next command waits in the input buffer
        words.clear();
        words.push_back((*g_names)[in.ConsumeIntegralInRange<size_t>(0, g_names->size() - 1)]);
        const int nargs = in.ConsumeIntegralInRange<int>(0, 6);
        for (int i = 0; i < nargs; ++i) {
          if (in.ConsumeBool()) {
            words.push_back(kVocabulary[in.ConsumeIntegralInRange<size_t>(
                0, std::size(kVocabulary) - 1)]);
          } else {
            words.push_back(in.ConsumeRandomLengthString(16));
          }
        }
        // The log's own settings: changing them starts a rewrite or moves
        // files, which is the durability tests' ground.
        if (words[0] == "config" &&
            std::any_of(words.begin(), words.end(), [](const std::string& w) {
              return EqualsIgnoreCaseAscii(w, "appendonly") || EqualsIgnoreCaseAscii(w, "appendfilename") ||
                     EqualsIgnoreCaseAscii(w, "dir") || EqualsIgnoreCaseAscii(w, "appendfsync");
            })) {
          break;
        }
        argv.assign(words.begin(), words.end());
        h.commands.Execute(s, argv, h.clock.Now());
        break;
      }
    }
    h.EndOfIteration();
  }
  h.CheckReplay();
}

}  // namespace
}  // namespace lockd

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The log's helper files (token file, replay copy) live in a private
  // directory, as the server's live in its `dir`; the log itself is in
  // memory (FakeFileSystem).
  if (lockd::fuzz::MakeScratchDir("commands").empty()) return 1;
  lockd::LogSetLevel(lockd::LogLevel::kNothing);
  static std::vector<std::string> names;
  for (const lockd::CommandSpec* spec : lockd::CommandTable::Get().All()) {
    if (spec->parent == nullptr && !lockd::kLeftOut.count(spec->name)) names.push_back(spec->name);
  }
  lockd::g_names = &names;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider in(bytes, size);
  lockd::Run(in);
  return 0;
}
