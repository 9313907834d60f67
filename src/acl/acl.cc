// Users, rules, their description and the permission check, following
// Redis 7.0's acl.c rule by rule (its error texts, its describe algorithm
// that approximates a bitmap with categories, then single commands).
#include "acl/acl.h"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "cmd/command_table.h"
#include "config/split_args.h"
#include "util/check.h"
#include "util/glob.h"
#include "util/strings.h"

namespace lockd::acl {

namespace {

constexpr CategoryInfo kCategories[] = {
    {"keyspace", 1ULL << 0},   {"read", 1ULL << 1},        {"write", 1ULL << 2},
    {"set", 1ULL << 3},        {"sortedset", 1ULL << 4},   {"list", 1ULL << 5},
    {"hash", 1ULL << 6},       {"string", 1ULL << 7},      {"bitmap", 1ULL << 8},
    {"hyperloglog", 1ULL << 9}, {"geo", 1ULL << 10},       {"stream", 1ULL << 11},
    {"pubsub", 1ULL << 12},    {"admin", 1ULL << 13},      {"fast", 1ULL << 14},
    {"slow", 1ULL << 15},      {"blocking", 1ULL << 16},   {"dangerous", 1ULL << 17},
    {"connection", 1ULL << 18}, {"transaction", 1ULL << 19}, {"scripting", 1ULL << 20},
    // lockd's own: the LOCK.* commands.
    {"lock", 1ULL << 21},
};

// Redis's ACLSetUserStringError texts, by the errno its ACLSetUser sets.
constexpr const char* kErrUnknown = "Unknown command or category name in ACL";
constexpr const char* kErrSyntax = "Syntax error";
constexpr const char* kErrKeyAfterAll =
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
    "any effect. Try 'resetkeys' to start with an empty list of patterns";
constexpr const char* kErrChannelAfterAll =
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
    "have any effect. Try 'resetchannels' to start with an empty list of channels";
constexpr const char* kErrNoSuchPassword =
    "The password you are trying to remove from the user does not exist";
constexpr const char* kErrBadHash =
    "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
    "characters";
constexpr const char* kErrFirstArgOfSub = "Allowing first-arg of a subcommand is not supported";
// lockd's own bounds on one user's memory.
constexpr const char* kErrTooMany = "Too many patterns, passwords, selectors or first-args";

bool HasSpaces(std::string_view s) {
  for (char c : s) {
    if (c == 0 || c == ' ' || (c >= '\t' && c <= '\r')) return true;
  }
  return false;
}

bool IsLowerHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Compares without an early exit, so timing says nothing of where they differ.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void SetBit(Selector* s, size_t id, bool on) {
  if (id >= kCommandBits) return;
  if (on) {
    s->allowed[id / 64] |= 1ULL << (id % 64);
  } else {
    s->allowed[id / 64] &= ~(1ULL << (id % 64));
    s->flags &= ~kSelectorAllCommands;
  }
}

// Redis's strict lookup of "cmd" or "cmd|sub".
const CommandSpec* LookupStrict(std::string_view name) {
  size_t bar = name.find('|');
  if (bar == std::string_view::npos) return CommandTable::Get().Find(name);
  std::string_view base = name.substr(0, bar);
  std::string_view sub = name.substr(bar + 1);
  if (sub.find('|') != std::string_view::npos) return nullptr;
  const CommandSpec* spec = CommandTable::Get().Find(base);
  if (spec == nullptr || spec->subcommands.empty()) return nullptr;
  return spec->FindSubcommand(sub);
}

uint64_t CategoriesOfSpec(const CommandSpec& spec) {
  uint64_t bits = 0;
  for (const std::string& c : spec.acl_categories) {
    std::string_view name = c;
    if (name.starts_with("@")) name.remove_prefix(1);
    bits |= CategoryFlag(name);
  }
  return bits;
}

}  // namespace

std::span<const CategoryInfo> Categories() { return kCategories; }

uint64_t CategoryFlag(std::string_view name) {
  for (const CategoryInfo& c : kCategories) {
    if (EqualsIgnoreCase(name, c.name)) return c.flag;
  }
  return 0;
}

std::string HashPassword(std::string_view password) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  LOCKD_CHECK(EVP_Digest(password.data(), password.size(), md, &len, EVP_sha256(), nullptr) == 1);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// ---- Patterns

Pattern Pattern::Compile(std::string_view text, uint8_t perms) {
  Pattern p;
  p.text = std::string(text);
  p.perms = perms;
  auto special = [](char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; };
  size_t first = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    if (special(text[i])) {
      first = i;
      break;
    }
  }
  if (first == text.size()) {
    p.kind = kExact;
  } else if (first == text.size() - 1 && text[first] == '*') {
    p.kind = kPrefix;
  } else {
    p.kind = kGlob;
  }
  return p;
}

bool Pattern::Matches(std::string_view s) const {
  switch (kind) {
    case kExact:
      return s == text;
    case kPrefix:
      return s.starts_with(std::string_view(text).substr(0, text.size() - 1));
    case kGlob:
      return GlobMatch(text, s);
  }
  return false;
}

// ---- Per-command facts the check needs, computed once.

struct Registry::CommandAcl {
  enum KeyMode : uint8_t { kNoKeys, kRange, kEval, kSet };
  enum Channels : uint8_t { kNoChannels, kPublish, kSubscribe, kPSubscribe };
  uint64_t categories = 0;
  uint8_t key_perms = 0;
  KeyMode key_mode = kNoKeys;
  Channels channels = kNoChannels;
};

namespace {

// The permissions each key argument needs, as Redis 7.0's key specs flag
// them (ACCESS needs read; INSERT, DELETE and UPDATE need write; a key a
// command only tests, as EXISTS, needs neither).
uint8_t KeyPermsOf(const CommandSpec& spec) {
  const std::string& n = spec.full_name;
  if (n == "exists" || n == "type" || n == "strlen" || n == "watch") return 0;
  if (n == "get" || n == "ttl" || n == "pttl" || n == "expiretime" || n == "pexpiretime" ||
      n == "lock.fence" || n == "lock.info" || n == "eval_ro" || n == "evalsha_ro") {
    return kKeyRead;
  }
  if (n == "eval" || n == "evalsha" || n == "delifeq" || n == "delex") return kKeyAll;
  if (spec.flags & kCmdWrite) return kKeyWrite;
  return kKeyRead;
}

}  // namespace

Registry::Registry(const Config* config) : config_(config) {
  BuildCommandIndex();
  auto def = MakeDefaultUser();
  default_user_ = def.get();
  users_.emplace("default", std::move(def));
}

Registry::~Registry() = default;

void Registry::BuildCommandIndex() {
  const CommandTable& table = CommandTable::Get();
  LOCKD_CHECK(table.stats_slots() < kFutureCommandsBit);
  commands_.assign(table.stats_slots(), CommandAcl{});
  specs_.assign(table.stats_slots(), nullptr);
  auto index = [&](const CommandSpec& spec) {
    CommandAcl& c = commands_[spec.stats_index];
    specs_[spec.stats_index] = &spec;
    c.categories = CategoriesOfSpec(spec);
    const std::string& n = spec.full_name;
    if (n == "eval" || n == "evalsha" || n == "eval_ro" || n == "evalsha_ro") {
      c.key_mode = CommandAcl::kEval;
    } else if (n == "set") {
      c.key_mode = CommandAcl::kSet;
    } else if (spec.first_key > 0) {
      c.key_mode = CommandAcl::kRange;
    }
    if (c.key_mode != CommandAcl::kNoKeys) c.key_perms = KeyPermsOf(spec);
    if (n == "publish") c.channels = CommandAcl::kPublish;
    if (n == "subscribe") c.channels = CommandAcl::kSubscribe;
    if (n == "psubscribe") c.channels = CommandAcl::kPSubscribe;
    ordered_.push_back(&spec);
  };
  for (const CommandSpec* spec : table.All()) {
    index(*spec);
    for (const CommandSpec& sub : spec->subcommands) index(sub);
  }
}

Selector Registry::NewSelector(uint32_t flags) const {
  Selector s;
  s.flags = flags;
  // acl-pubsub-default: what channels a new selector may use.
  auto it = config_->compat.find("acl-pubsub-default");
  if (it != config_->compat.end() && it->second == "allchannels") s.flags |= kSelectorAllChannels;
  return s;
}

std::unique_ptr<User> Registry::NewUser(std::string_view name) const {
  auto u = std::make_unique<User>();
  u->name = std::string(name);
  u->selectors.push_back(NewSelector(kSelectorRoot));
  Refresh(u.get());
  return u;
}

std::unique_ptr<User> Registry::MakeDefaultUser() const {
  auto u = NewUser("default");
  for (std::string_view op : {"+@all", "~*", "&*", "on", "nopass"}) {
    LOCKD_CHECK(ApplyOp(u.get(), op).empty());
  }
  Refresh(u.get());
  return u;
}

void Registry::Refresh(User* user) const {
  user->unrestricted = false;
  for (const Selector& s : user->selectors) {
    constexpr uint32_t kAll = kSelectorAllCommands | kSelectorAllKeys | kSelectorAllChannels;
    if ((s.flags & kAll) == kAll) user->unrestricted = true;
  }
}

User* Registry::Find(std::string_view name) {
  auto it = users_.find(std::string(name));
  return it == users_.end() ? nullptr : it->second.get();
}

// ---- Rules

void Registry::ChangeCommand(Selector* s, const CommandSpec& spec, bool allow) const {
  SetBit(s, spec.stats_index, allow);
  s->first_args.erase(spec.stats_index);
  for (const CommandSpec& sub : spec.subcommands) SetBit(s, sub.stats_index, allow);
}

void Registry::ChangeCategory(Selector* s, uint64_t category, bool allow) const {
  for (const CommandSpec* spec : CommandTable::Get().All()) {
    if (commands_[spec->stats_index].categories & category) ChangeCommand(s, *spec, allow);
    for (const CommandSpec& sub : spec->subcommands) {
      if (commands_[sub.stats_index].categories & category) ChangeCommand(s, sub, allow);
    }
  }
}

void Registry::CountCategory(const Selector& s, uint64_t category, size_t* on,
                             size_t* off) const {
  *on = *off = 0;
  for (const CommandSpec* spec : ordered_) {
    if (commands_[spec->stats_index].categories & category) {
      ++(s.Allows(spec->stats_index) ? *on : *off);
    }
  }
}

std::string Registry::ApplySelectorOp(Selector* s, std::string_view op) const {
  if (EqualsIgnoreCase(op, "allkeys") || EqualsIgnoreCase(op, "~*")) {
    s->flags |= kSelectorAllKeys;
    s->keys.clear();
  } else if (EqualsIgnoreCase(op, "resetkeys")) {
    s->flags &= ~kSelectorAllKeys;
    s->keys.clear();
  } else if (EqualsIgnoreCase(op, "allchannels") || EqualsIgnoreCase(op, "&*")) {
    s->flags |= kSelectorAllChannels;
    s->channels.clear();
  } else if (EqualsIgnoreCase(op, "resetchannels")) {
    s->flags &= ~kSelectorAllChannels;
    s->channels.clear();
  } else if (EqualsIgnoreCase(op, "allcommands") || EqualsIgnoreCase(op, "+@all")) {
    s->allowed.fill(~0ULL);
    s->flags |= kSelectorAllCommands;
    s->first_args.clear();
  } else if (EqualsIgnoreCase(op, "nocommands") || EqualsIgnoreCase(op, "-@all")) {
    s->allowed.fill(0);
    s->flags &= ~kSelectorAllCommands;
    s->first_args.clear();
  } else if (!op.empty() && (op[0] == '~' || op[0] == '%')) {
    if (s->flags & kSelectorAllKeys) return kErrKeyAfterAll;
    uint8_t perms = 0;
    size_t offset = 1;
    if (op[0] == '%') {
      for (; offset < op.size(); ++offset) {
        char c = static_cast<char>(op[offset] & ~0x20);
        if (c == 'R' && !(perms & kKeyRead)) {
          perms |= kKeyRead;
        } else if (c == 'W' && !(perms & kKeyWrite)) {
          perms |= kKeyWrite;
        } else if (op[offset] == '~') {
          ++offset;
          break;
        } else {
          return kErrSyntax;
        }
      }
      // A pattern without a permission cannot be described back, so it is
      // refused (Redis 7.0.x refuses it likewise); "%R" alone is "%R~".
      if (perms == 0) return kErrSyntax;
    } else {
      perms = kKeyAll;
    }
    std::string_view text = op.substr(offset);
    if (HasSpaces(text)) return kErrSyntax;
    for (Pattern& p : s->keys) {
      if (p.text == text) {
        p.perms |= perms;
        s->flags &= ~kSelectorAllKeys;
        return "";
      }
    }
    if (s->keys.size() >= kMaxPatterns) return kErrTooMany;
    s->keys.push_back(Pattern::Compile(text, perms));
    s->flags &= ~kSelectorAllKeys;
  } else if (!op.empty() && op[0] == '&') {
    if (s->flags & kSelectorAllChannels) return kErrChannelAfterAll;
    std::string_view text = op.substr(1);
    if (HasSpaces(text)) return kErrSyntax;
    if (std::find(s->channels.begin(), s->channels.end(), text) == s->channels.end()) {
      if (s->channels.size() >= kMaxPatterns) return kErrTooMany;
      s->channels.emplace_back(text);
    }
    s->flags &= ~kSelectorAllChannels;
  } else if (!op.empty() && op[0] == '+' && (op.size() < 2 || op[1] != '@')) {
    std::string_view name = op.substr(1);
    size_t bar = name.rfind('|');
    if (bar == std::string_view::npos) {
      const CommandSpec* spec = LookupStrict(name);
      if (spec == nullptr) return kErrUnknown;
      ChangeCommand(s, *spec, true);
      return "";
    }
    const CommandSpec* spec = LookupStrict(name.substr(0, bar));
    std::string_view sub = name.substr(bar + 1);
    if (spec == nullptr) return kErrUnknown;
    if (spec->parent != nullptr) return kErrFirstArgOfSub;
    if (sub.empty()) return kErrSyntax;
    if (!spec->subcommands.empty()) {
      const CommandSpec* full = LookupStrict(name);
      if (full == nullptr) return kErrUnknown;
      ChangeCommand(s, *full, true);
      return "";
    }
    // A first argument of an otherwise denied command (+select|0).
    std::vector<std::string>& args = s->first_args[spec->stats_index];
    for (const std::string& a : args) {
      if (EqualsIgnoreCase(a, sub)) return "";
    }
    if (args.size() >= kMaxFirstArgs) return kErrTooMany;
    args.emplace_back(sub);
  } else if (!op.empty() && op[0] == '-' && (op.size() < 2 || op[1] != '@')) {
    const CommandSpec* spec = LookupStrict(op.substr(1));
    if (spec == nullptr) return kErrUnknown;
    ChangeCommand(s, *spec, false);
  } else if (op.size() >= 2 && (op[0] == '+' || op[0] == '-') && op[1] == '@') {
    uint64_t flag = CategoryFlag(op.substr(2));
    if (flag == 0) return kErrUnknown;
    ChangeCategory(s, flag, op[0] == '+');
  } else {
    return kErrSyntax;
  }
  return "";
}

std::string Registry::ApplyOp(User* u, std::string_view op) const {
  if (op.empty()) return "";
  if (EqualsIgnoreCase(op, "on")) {
    u->flags = (u->flags | kUserEnabled) & ~kUserDisabled;
  } else if (EqualsIgnoreCase(op, "off")) {
    u->flags = (u->flags | kUserDisabled) & ~kUserEnabled;
  } else if (EqualsIgnoreCase(op, "skip-sanitize-payload")) {
    u->flags = (u->flags | kUserSkipSanitize) & ~kUserSanitize;
  } else if (EqualsIgnoreCase(op, "sanitize-payload")) {
    u->flags = (u->flags | kUserSanitize) & ~kUserSkipSanitize;
  } else if (EqualsIgnoreCase(op, "nopass")) {
    u->flags |= kUserNoPass;
    u->passwords.clear();
  } else if (EqualsIgnoreCase(op, "resetpass")) {
    u->flags &= ~kUserNoPass;
    u->passwords.clear();
  } else if (op[0] == '>' || op[0] == '#') {
    std::string hash;
    if (op[0] == '>') {
      hash = HashPassword(op.substr(1));
    } else {
      if (!IsLowerHex64(op.substr(1))) return kErrBadHash;
      hash = std::string(op.substr(1));
    }
    if (std::find(u->passwords.begin(), u->passwords.end(), hash) == u->passwords.end()) {
      if (u->passwords.size() >= kMaxPasswords) return kErrTooMany;
      u->passwords.push_back(std::move(hash));
    }
    u->flags &= ~kUserNoPass;
  } else if (op[0] == '<' || op[0] == '!') {
    std::string hash;
    if (op[0] == '<') {
      hash = HashPassword(op.substr(1));
    } else {
      if (!IsLowerHex64(op.substr(1))) return kErrBadHash;
      hash = std::string(op.substr(1));
    }
    auto it = std::find(u->passwords.begin(), u->passwords.end(), hash);
    if (it == u->passwords.end()) return kErrNoSuchPassword;
    u->passwords.erase(it);
  } else if (op[0] == '(' && op.back() == ')') {
    if (u->selectors.size() >= kMaxSelectors) return kErrTooMany;
    Selector s = NewSelector(0);
    std::vector<std::string> args;
    if (!SplitConfigArgs(op.substr(1, op.size() - 2), &args)) return kErrSyntax;
    for (const std::string& a : args) {
      if (std::string err = ApplySelectorOp(&s, a); !err.empty()) return err;
    }
    u->selectors.push_back(std::move(s));
  } else if (EqualsIgnoreCase(op, "clearselectors")) {
    u->selectors.resize(1);
  } else if (EqualsIgnoreCase(op, "reset")) {
    for (std::string_view step : {"resetpass", "resetkeys", "resetchannels"}) {
      LOCKD_CHECK(ApplyOp(u, step).empty());
    }
    if (NewSelector(0).flags & kSelectorAllChannels) LOCKD_CHECK(ApplyOp(u, "allchannels").empty());
    for (std::string_view step : {"off", "sanitize-payload", "clearselectors", "-@all"}) {
      LOCKD_CHECK(ApplyOp(u, step).empty());
    }
  } else {
    return ApplySelectorOp(&u->selectors[0], op);
  }
  return "";
}

bool Registry::MergeSelectorArgs(std::span<const std::string_view> args,
                                 std::vector<std::string>* out, size_t* bad_index) {
  out->clear();
  std::string selector;
  bool open = false;
  size_t open_at = 0;
  for (size_t j = 0; j < args.size(); ++j) {
    std::string_view op = args[j];
    if (!op.empty() && op[0] == '(' && op.back() != ')') {
      selector = std::string(op);
      open = true;
      open_at = j;
      continue;
    }
    if (open) {
      selector += ' ';
      selector += op;
      if (!op.empty() && op.back() == ')') {
        open = false;
        out->push_back(std::move(selector));
      }
      continue;
    }
    out->emplace_back(op);
  }
  if (open) {
    *bad_index = open_at;
    return false;
  }
  return true;
}

Status Registry::SetUser(std::string_view name, std::span<const std::string_view> ops) {
  User* existing = Find(name);
  std::unique_ptr<User> temp = existing ? std::make_unique<User>(*existing) : NewUser(name);
  for (std::string_view op : ops) {
    if (std::string err = ApplyOp(temp.get(), op); !err.empty()) {
      return Status::Error("Error in ACL SETUSER modifier '" + std::string(op) + "': " + err);
    }
  }
  Refresh(temp.get());
  if (existing != nullptr) {
    // In place: sessions keep pointing at the same user object.
    *existing = std::move(*temp);
  } else {
    users_.emplace(std::string(name), std::move(temp));
  }
  return Status::Ok();
}

std::unique_ptr<User> Registry::Remove(std::string_view name) {
  auto it = users_.find(std::string(name));
  if (it == users_.end() || it->second.get() == default_user_) return nullptr;
  std::unique_ptr<User> u = std::move(it->second);
  users_.erase(it);
  return u;
}

void Registry::SetDefaultPassword(std::string_view password) {
  LOCKD_CHECK(ApplyOp(default_user_, "resetpass").empty());
  if (password.empty()) {
    LOCKD_CHECK(ApplyOp(default_user_, "nopass").empty());
  } else {
    LOCKD_CHECK(ApplyOp(default_user_, ">" + std::string(password)).empty());
  }
}

User* Registry::Authenticate(std::string_view name, std::string_view password) {
  User* u = Find(name);
  if (u == nullptr || (u->flags & kUserDisabled)) return nullptr;
  if (u->flags & kUserNoPass) return u;
  std::string hash = HashPassword(password);
  bool match = false;
  for (const std::string& p : u->passwords) match |= SameSecret(hash, p);
  return match ? u : nullptr;
}

// ---- The check

CheckResult Registry::CheckSelector(const Selector& s, const CommandSpec& spec, size_t id,
                                    std::span<const std::string_view> argv) const {
  const CommandAcl& c = commands_[id];
  if (!(s.flags & kSelectorAllCommands) && !(spec.flags & kCmdNoAuth) && !s.Allows(id)) {
    // Maybe allowed with this first argument only.
    auto it = s.first_args.find(id);
    if (argv.size() < 2 || it == s.first_args.end()) return {Denied::kCommand, 0};
    std::string_view first = argv[spec.parent ? 2 : 1];
    bool found = false;
    for (const std::string& a : it->second) found |= EqualsIgnoreCase(a, first);
    if (!found) return {Denied::kCommand, 0};
  }
  if (!(s.flags & kSelectorAllKeys) && c.key_mode != CommandAcl::kNoKeys) {
    auto key_ok = [&](std::string_view key, uint8_t need) {
      for (const Pattern& p : s.keys) {
        if ((p.perms & need) == need && p.Matches(key)) return true;
      }
      return false;
    };
    size_t first = 0, last = 0, step = 1;
    uint8_t need = c.key_perms;
    switch (c.key_mode) {
      case CommandAcl::kEval: {
        int64_t numkeys = 0;
        if (argv.size() >= 3 && ParseInt64(argv[2], &numkeys) && numkeys > 0) {
          first = 3;
          last = std::min<size_t>(argv.size() - 1, 2 + static_cast<size_t>(numkeys));
        }
        break;
      }
      case CommandAcl::kSet:
        first = last = 1;
        need = kKeyWrite;
        for (size_t i = 3; i < argv.size(); ++i) {
          if (EqualsIgnoreCase(argv[i], "get")) need = kKeyAll;
        }
        break;
      default:
        first = static_cast<size_t>(spec.first_key);
        last = spec.last_key < 0 ? argv.size() - static_cast<size_t>(-spec.last_key)
                                 : static_cast<size_t>(spec.last_key);
        step = static_cast<size_t>(std::max(spec.key_step, 1));
        break;
    }
    if (first > 0) {
      for (size_t i = first; i <= last && i < argv.size(); i += step) {
        if (!key_ok(argv[i], need)) return {Denied::kKey, i};
      }
    }
  }
  if (!(s.flags & kSelectorAllChannels) && c.channels != CommandAcl::kNoChannels) {
    size_t last = c.channels == CommandAcl::kPublish ? std::min<size_t>(1, argv.size() - 1)
                                                     : argv.size() - 1;
    bool literal = c.channels == CommandAcl::kPSubscribe;
    for (size_t i = 1; i <= last; ++i) {
      bool ok = false;
      for (const std::string& p : s.channels) {
        if (literal ? p == argv[i] : GlobMatch(p, argv[i])) {
          ok = true;
          break;
        }
      }
      if (!ok) return {Denied::kChannel, i};
    }
  }
  return {};
}

CheckResult Registry::Check(const User& user, const CommandSpec& spec,
                            std::span<const std::string_view> argv) const {
  if (user.unrestricted) return {};
  CheckResult relevant{Denied::kCommand, 0};
  for (const Selector& s : user.selectors) {
    CheckResult r = CheckSelector(s, spec, spec.stats_index, argv);
    if (r.denied == Denied::kNone) return r;
    if (r.denied > relevant.denied || (r.denied == relevant.denied && r.arg > relevant.arg)) {
      relevant = r;
    }
  }
  return relevant;
}

bool Registry::ChannelAllowed(const User& user, std::string_view channel, bool literal) const {
  for (const Selector& s : user.selectors) {
    if (s.flags & kSelectorAllChannels) return true;
    for (const std::string& p : s.channels) {
      if (literal ? p == channel : GlobMatch(p, channel)) return true;
    }
  }
  return false;
}

// ---- Descriptions

std::string Registry::DescribeCommands(const Selector& s) const {
  // Redis's approach: start from +@all or -@all, add the categories that
  // fit best, then the single commands that still differ, applying each
  // rule to a fake selector to know what is left.
  Selector fake;
  std::string rules;
  bool additive;
  if (s.Allows(kFutureCommandsBit)) {
    additive = false;
    rules = "+@all ";
    ApplySelectorOp(&fake, "+@all");
  } else {
    additive = true;
    rules = "-@all ";
    ApplySelectorOp(&fake, "-@all");
  }
  Selector temp;
  temp.allowed = s.allowed;
  std::vector<bool> applied(std::size(kCategories), false);
  while (true) {
    int best = -1;
    size_t min_diff = INT_MAX, max_same = 0;
    for (size_t j = 0; j < std::size(kCategories); ++j) {
      if (applied[j]) continue;
      size_t on, off;
      CountCategory(temp, kCategories[j].flag, &on, &off);
      size_t diff = additive ? off : on;
      size_t same = additive ? on : off;
      if (same > diff && (diff < min_diff || (diff == min_diff && same > max_same))) {
        best = static_cast<int>(j);
        min_diff = diff;
        max_same = same;
      }
    }
    if (best < 0) break;
    ChangeCategory(&fake, kCategories[best].flag, additive);
    ChangeCategory(&temp, kCategories[best].flag, !additive);
    rules += additive ? "+@" : "-@";
    rules += kCategories[best].name;
    rules += ' ';
    applied[static_cast<size_t>(best)] = true;
  }
  auto single = [&](const CommandSpec& spec) {
    bool user_bit = s.Allows(spec.stats_index);
    if (user_bit != fake.Allows(spec.stats_index)) {
      rules += user_bit ? '+' : '-';
      rules += spec.full_name;
      rules += ' ';
      ChangeCommand(&fake, spec, user_bit);
    }
  };
  for (const CommandSpec* spec : CommandTable::Get().All()) {
    single(*spec);
    for (const CommandSpec& sub : spec->subcommands) single(sub);
    auto it = s.first_args.find(spec->stats_index);
    if (!s.Allows(spec->stats_index) && it != s.first_args.end()) {
      for (const std::string& a : it->second) rules += "+" + spec->full_name + "|" + a + " ";
    }
  }
  if (!rules.empty()) rules.pop_back();
  return rules;
}

namespace {

std::string PatternString(const Pattern& p) {
  const char* prefix = p.perms == kKeyAll ? "~" : p.perms == kKeyRead ? "%R~" : "%W~";
  return prefix + p.text;
}

}  // namespace

std::string Registry::DescribeKeys(const Selector& s) {
  if (s.flags & kSelectorAllKeys) return "~*";
  std::string out;
  for (const Pattern& p : s.keys) {
    if (!out.empty()) out += ' ';
    out += PatternString(p);
  }
  return out;
}

std::string Registry::DescribeChannels(const Selector& s) {
  if (s.flags & kSelectorAllChannels) return "&*";
  std::string out;
  for (const std::string& c : s.channels) {
    if (!out.empty()) out += ' ';
    out += "&" + c;
  }
  return out;
}

std::string Registry::Describe(const User& u) const {
  std::string out;
  static const std::pair<uint32_t, const char*> kFlags[] = {
      {kUserEnabled, "on"},
      {kUserDisabled, "off"},
      {kUserNoPass, "nopass"},
      {kUserSkipSanitize, "skip-sanitize-payload"},
      {kUserSanitize, "sanitize-payload"},
  };
  for (const auto& [flag, name] : kFlags) {
    if (u.flags & flag) {
      out += name;
      out += ' ';
    }
  }
  for (const std::string& p : u.passwords) out += "#" + p + " ";
  for (const Selector& s : u.selectors) {
    std::string d;
    if (s.flags & kSelectorAllKeys) {
      d += "~* ";
    } else {
      for (const Pattern& p : s.keys) d += PatternString(p) + " ";
    }
    if (s.flags & kSelectorAllChannels) {
      d += "&* ";
    } else {
      d += "resetchannels ";
      for (const std::string& c : s.channels) d += "&" + c + " ";
    }
    d += DescribeCommands(s);
    if (s.flags & kSelectorRoot) {
      out += d;
    } else {
      out += " (" + d + ")";
    }
  }
  return out;
}

std::vector<std::string> Registry::CommandsIn(uint64_t category) const {
  std::vector<std::string> out;
  for (const CommandSpec* spec : ordered_) {
    if (commands_[spec->stats_index].categories & category) out.push_back(spec->full_name);
  }
  return out;
}

// ---- The log

void Registry::AddLog(LogEntry e) {
  // Redis groups a repeat of one of the last 10 entries within a minute.
  size_t scan = std::min<size_t>(10, log_.size());
  for (size_t i = 0; i < scan; ++i) {
    LogEntry& cur = log_[i];
    if (cur.reason == e.reason && cur.context == e.context &&
        std::abs(cur.ctime_ms - e.ctime_ms) <= 60000 && cur.object == e.object &&
        cur.username == e.username) {
      LogEntry moved = std::move(cur);
      log_.erase(log_.begin() + static_cast<std::ptrdiff_t>(i));
      moved.client_info = std::move(e.client_info);
      moved.ctime_ms = e.ctime_ms;
      ++moved.count;
      log_.push_front(std::move(moved));
      return;
    }
  }
  log_.push_front(std::move(e));
  int64_t max_len = 128;
  auto it = config_->compat.find("acllog-max-len");
  if (it != config_->compat.end()) ParseInt64(it->second, &max_len);
  while (!log_.empty() && static_cast<int64_t>(log_.size()) > max_len) log_.pop_back();
}

}  // namespace lockd::acl
