// Fuzz target: the config-file parser on arbitrary text, and the CONFIG GET /
// CONFIG SET round trip.
//
// The input is split at the first NUL byte (or used whole):
//   - before it: redis.conf text for ParseConfigText. On error the config
//     must be untouched. On success, every directive CONFIG SET may change
//     must accept what CONFIG GET prints for it and give back the same
//     CONFIG GET output (setting a value to itself changes nothing);
//   - after it: "name value" lines run as CONFIG SET, one pair at a time and
//     then all at once. A refused set leaves the config unchanged;
//     an accepted one must survive a second round trip unchanged; the
//     all-at-once form is all or nothing.
// A CONFIG GET with a fuzzer-made glob must not crash and must return only
// names the full listing has. `include` is left out: it reads files.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lockd/config.h"

namespace lockd {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

[[noreturn]] void Fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "config: %s %s\n", what, detail.c_str());
  std::abort();
}

Pairs All(const Config& c) {
  Pairs all = ConfigGet(c, "*");
  std::sort(all.begin(), all.end());
  return all;
}

bool MentionsInclude(std::string_view text) {
  std::string lower(text);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return lower.find("include") != std::string::npos;
}

// CONFIG SET name <CONFIG GET name> must be accepted and change nothing.
void RoundTrip(const Config& config) {
  const Pairs before = All(config);
  for (const auto& [name, value] : before) {
    if (!IsConfigMutableAtRuntime(name)) continue;
    Config copy = config;
    Status s = ConfigSetAtRuntime(&copy, name, value);
    // Protected directives (dir, dbfilename) are refused whatever the value.
    if (!s.ok() && s.message().find("protected") != std::string::npos) continue;
    if (!s.ok()) Fail("CONFIG SET refused what CONFIG GET printed:", name + " '" + value + "': " + s.message());
    // Equal configs print alike; only a difference (such as a compat
    // directive now set explicitly to its default) needs the listings.
    if (!(copy == config) && All(copy) != before) {
      Fail("CONFIG SET of the printed value changed the config:", name);
    }
  }
}

void SetPairs(Config config, const Pairs& pairs) {
  for (const auto& [name, value] : pairs) {
    Config copy = config;
    Status s = ConfigSetAtRuntime(&copy, name, value);
    if (!s.ok()) {
      if (!(copy == config)) Fail("a refused CONFIG SET changed the config:", name);
      continue;
    }
    // Whatever was accepted reads back as a value that sets to itself.
    Pairs got = ConfigGet(copy, name);
    for (const auto& [n, v] : got) {
      if (!IsConfigMutableAtRuntime(n)) continue;
      Config again = copy;
      Status s2 = ConfigSetAtRuntime(&again, n, v);
      if (!s2.ok() && s2.message().find("protected") != std::string::npos) continue;
      if (!s2.ok()) Fail("CONFIG GET after CONFIG SET printed a value CONFIG SET refuses:", n + " '" + v + "'");
      if (!(again == copy) && All(again) != All(copy)) Fail("CONFIG SET of the printed value changed the config:", n);
    }
    config = std::move(copy);
  }
  // All at once: all or nothing.
  Config copy = config;
  std::string failed;
  Status s = ConfigSetManyAtRuntime(&copy, pairs, &failed);
  if (!s.ok() && !(copy == config)) Fail("a refused multi-pair CONFIG SET changed the config");
}

}  // namespace
}  // namespace lockd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace lockd;
  std::string_view input(reinterpret_cast<const char*>(bytes), size);
  if (MentionsInclude(input)) return -1;  // reject: never add to the corpus
  size_t nul = input.find('\0');
  std::string_view text = input.substr(0, nul);
  std::string_view sets = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  Config config;
  const Config defaults;
  Status s = ParseConfigText(text, "fuzz.conf", &config);
  if (!s.ok()) {
    if (s.message().empty()) Fail("an error without a message");
    if (!(config == defaults)) Fail("a failed parse changed the config");
  }
  // The round trip is a property of the config alone: the defaults' (what
  // most inputs leave, as most text fails to parse) is checked once.
  static bool defaults_checked = false;
  if (!(config == defaults) || !defaults_checked) {
    RoundTrip(config);
    defaults_checked = defaults_checked || config == defaults;
  }

  // "name value" lines: the first space splits them.
  Pairs pairs;
  size_t pos = 0;
  while (pos < sets.size() && pairs.size() < 8) {
    size_t end = sets.find('\n', pos);
    if (end == std::string_view::npos) end = sets.size();
    std::string_view line = sets.substr(pos, end - pos);
    size_t sp = line.find(' ');
    pairs.emplace_back(std::string(line.substr(0, sp)),
                       sp == std::string_view::npos ? std::string() : std::string(line.substr(sp + 1)));
    pos = end + 1;
  }
  SetPairs(config, pairs);

  // A glob: only names the full listing has.
  if (!pairs.empty()) {
    Pairs all = All(config);
    for (const auto& [n, v] : ConfigGet(config, pairs[0].first)) {
      if (!std::binary_search(all.begin(), all.end(), std::make_pair(n, v))) {
        Fail("CONFIG GET with a pattern returned what '*' does not:", n);
      }
    }
  }
  return 0;
}
