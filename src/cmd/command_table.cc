// The command table: built once from each family's entries, looked up
// case-insensitively on every command.
#include "cmd/command_table.h"

#include <algorithm>

#include "util/check.h"
#include "util/strings.h"

namespace lockd {

namespace {

// Sets full names and parent links on a command and its subcommands.
void Link(CommandSpec* spec) {
  spec->full_name = spec->name;
  for (CommandSpec& sub : spec->subcommands) {
    sub.full_name = spec->name + "|" + sub.name;
    sub.parent = spec;
  }
}

}  // namespace

const CommandSpec* CommandSpec::FindSubcommand(std::string_view name) const {
  std::string lower = ToLowerAscii(name);
  for (const CommandSpec& sub : subcommands) {
    if (sub.name == lower) return &sub;
  }
  return nullptr;
}

const CommandTable& CommandTable::Get() {
  static const CommandTable* table = new CommandTable();
  return *table;
}

CommandTable::CommandTable() {
  std::vector<CommandSpec> specs;
  AddLockCommands(&specs);
  AddKeyCommands(&specs);
  AddKeyWriteCommands(&specs);
  AddTransactionCommands(&specs);
  AddClusterCommands(&specs);
  AddConnectionCommands(&specs);
  AddServerCommands(&specs);
  AddScriptCommands(&specs);
  AddPubSubCommands(&specs);
  AddOpsCommands(&specs);
  AddReplicationCommands(&specs);
  AddAclCommands(&specs);
  by_name_.reserve(specs.size() * 2);
  for (CommandSpec& spec : specs) Add(std::move(spec));
  // Link after every insertion: unordered_map nodes do not move, so the
  // parent pointers stay valid.
  for (auto& [name, spec] : by_name_) {
    Link(&spec);
    spec.stats_index = stats_slots_++;
    for (CommandSpec& sub : spec.subcommands) sub.stats_index = stats_slots_++;
    ordered_.push_back(&spec);
  }
  BuildIndex();
  std::sort(ordered_.begin(), ordered_.end(),
            [](const CommandSpec* a, const CommandSpec* b) { return a->name < b->name; });
}

void CommandTable::Add(CommandSpec spec) {
  std::string name = spec.name;
  LOCKD_CHECK(by_name_.find(name) == by_name_.end());
  by_name_.emplace(std::move(name), std::move(spec));
}

// Every command runs one lookup, so it hashes and compares the name as sent,
// folding case on the fly: no lowercased copy, no std::hash over a string.
// Folding with | 0x20 also merges a few non-letters ('@' and '`'); that only
// shares a hash, the comparison below folds letters alone.
uint32_t CommandTable::NameHash(std::string_view name) {
  uint32_t h = 2166136261u ^ static_cast<uint32_t>(name.size());
  for (char c : name) h = (h ^ (static_cast<uint8_t>(c) | 0x20u)) * 16777619u;
  return h;
}

void CommandTable::BuildIndex() {
  // At most a quarter full, so that a probe ends within a slot or two.
  size_t size = 16;
  while (size < by_name_.size() * 4) size *= 2;
  index_.assign(size, nullptr);
  index_mask_ = size - 1;
  for (const auto& [name, spec] : by_name_) {
    max_name_len_ = std::max(max_name_len_, name.size());
    size_t slot = NameHash(name) & index_mask_;
    while (index_[slot] != nullptr) slot = (slot + 1) & index_mask_;
    index_[slot] = &spec;
  }
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  if (name.size() > max_name_len_) return nullptr;
  for (size_t slot = NameHash(name) & index_mask_;; slot = (slot + 1) & index_mask_) {
    const CommandSpec* spec = index_[slot];
    if (spec == nullptr) return nullptr;
    // Table names are lowercase: only the name sent needs folding.
    const std::string& stored = spec->name;
    if (stored.size() != name.size()) continue;
    size_t i = 0;
    while (i < name.size() && LowerAscii(name[i]) == stored[i]) ++i;
    if (i == name.size()) return spec;
  }
}

}  // namespace lockd
