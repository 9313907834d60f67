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
  std::sort(ordered_.begin(), ordered_.end(),
            [](const CommandSpec* a, const CommandSpec* b) { return a->name < b->name; });
}

void CommandTable::Add(CommandSpec spec) {
  std::string name = spec.name;
  LOCKD_CHECK(by_name_.find(name) == by_name_.end());
  by_name_.emplace(std::move(name), std::move(spec));
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  // Command names are short; lowercase into a stack buffer to avoid an
  // allocation on every command.
  char buf[64];
  if (name.size() > sizeof(buf)) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) buf[i] = LowerAscii(name[i]);
  auto it = by_name_.find(std::string(buf, name.size()));
  return it == by_name_.end() ? nullptr : &it->second;
}

}  // namespace lockd
