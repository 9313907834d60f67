// The ACL core apart from the server: rules and their errors, the
// description Redis 7.0 would give of them, the permission check (commands,
// categories, key patterns with read/write permissions, channels,
// selectors), passwords, the aclfile round trip, the bounds on one user,
// and the stored form of a bound holder.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "acl/acl.h"
#include "acl/holder_binding.h"
#include "cmd/command_table.h"
#include "config/config_rewrite.h"
#include "lockd/config.h"

namespace lockd {
namespace {

using acl::Denied;

const CommandSpec& Spec(std::string_view name) {
  const CommandSpec* s = CommandTable::Get().Find(name);
  REQUIRE(s != nullptr);
  return *s;
}

Denied Check(acl::Registry& r, std::string_view user, std::vector<std::string_view> argv) {
  acl::User* u = r.Find(user);
  REQUIRE(u != nullptr);
  const CommandSpec* spec = &Spec(argv[0]);
  if (!spec->subcommands.empty() && argv.size() > 1) spec = spec->FindSubcommand(argv[1]);
  REQUIRE(spec != nullptr);
  return r.Check(*u, *spec, argv).denied;
}

Status Set(acl::Registry& r, std::string_view user, std::vector<std::string_view> ops) {
  return r.SetUser(user, ops);
}

TEST_CASE("acl: the default user and a new user read as Redis 7.0 describes them") {
  Config c;
  acl::Registry r(&c);
  CHECK(r.Describe(r.default_user()) == "on nopass ~* &* +@all");
  CHECK(Set(r, "bob", {}).ok());
  CHECK(r.Describe(*r.Find("bob")) == "off resetchannels -@all");
  CHECK(Set(r, "bob", {"reset"}).ok());
  CHECK(r.Describe(*r.Find("bob")) == "off sanitize-payload resetchannels -@all");
  CHECK(Set(r, "alice", {"on", ">pw", "~seat:*", "+@read", "+lock.fence"}).ok());
  CHECK(r.Describe(*r.Find("alice")) ==
        "on #" + acl::HashPassword("pw") + " ~seat:* resetchannels -@all +@read");
  CHECK(Set(r, "carol", {"on", "nopass", "allkeys", "allchannels", "+@all", "-lock.release"}).ok());
  CHECK(r.Describe(*r.Find("carol")) == "on nopass ~* &* +@all -lock.release");
}

TEST_CASE("acl: rules are checked all or nothing, with Redis's error texts") {
  Config c;
  acl::Registry r(&c);
  Status s = Set(r, "u", {"on", "+nosuch"});
  CHECK(s.message() == "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name "
                       "in ACL");
  CHECK(r.Find("u") == nullptr);  // nothing applied, not even "on"
  CHECK(Set(r, "u", {"+@nosuch"}).message().ends_with("Unknown command or category name in ACL"));
  CHECK(Set(r, "u", {"bogus"}).message().ends_with(": Syntax error"));
  CHECK(Set(r, "u", {"allkeys", "~a"}).message().find("Try 'resetkeys'") != std::string::npos);
  CHECK(Set(r, "u", {"allchannels", "&a"}).message().find("Try 'resetchannels'") !=
        std::string::npos);
  CHECK(Set(r, "u", {"#abc"}).message().ends_with(
      "The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
      "characters"));
  CHECK(Set(r, "u", {"<nope"}).message().ends_with(
      "The password you are trying to remove from the user does not exist"));
  CHECK(Set(r, "u", {"+client|id|x"}).message().ends_with(
      "Allowing first-arg of a subcommand is not supported"));
  CHECK(Set(r, "u", {"~a b"}).message().ends_with("Syntax error"));
}

TEST_CASE("acl: commands, subcommands, categories and first arguments") {
  Config c;
  acl::Registry r(&c);
  REQUIRE(Set(r, "u", {"on", "allkeys", "+@read", "-lock.info", "+client|id", "+select|0"}).ok());
  CHECK(Check(r, "u", {"get", "k"}) == Denied::kNone);
  CHECK(Check(r, "u", {"lock.fence", "k"}) == Denied::kNone);
  CHECK(Check(r, "u", {"lock.info", "k"}) == Denied::kCommand);
  CHECK(Check(r, "u", {"set", "k", "v"}) == Denied::kCommand);
  CHECK(Check(r, "u", {"client", "id"}) == Denied::kNone);
  CHECK(Check(r, "u", {"client", "kill", "x"}) == Denied::kCommand);
  CHECK(Check(r, "u", {"select", "0"}) == Denied::kNone);
  CHECK(Check(r, "u", {"select", "1"}) == Denied::kCommand);
  // AUTH and the other no-auth commands are never denied.
  CHECK(Check(r, "u", {"auth", "x"}) == Denied::kNone);
  // @lock names the lock commands, and only them.
  std::vector<std::string> lock = r.CommandsIn(acl::CategoryFlag("lock"));
  CHECK(lock == std::vector<std::string>{"lock.acquire", "lock.fence", "lock.info", "lock.release",
                                         "lock.renew"});
  REQUIRE(Set(r, "w", {"on", "allkeys", "+@lock", "-@write"}).ok());
  CHECK(Check(r, "w", {"lock.fence", "k"}) == Denied::kNone);
  CHECK(Check(r, "w", {"lock.acquire", "k", "h", "10"}) == Denied::kCommand);
  CHECK(r.Describe(*r.Find("w")) == "on ~* resetchannels -@all +lock.fence +lock.info");
}

TEST_CASE("acl: key patterns with read and write permissions") {
  Config c;
  acl::Registry r(&c);
  REQUIRE(Set(r, "u", {"on", "+@all", "%R~r:*", "%W~w:*", "~both"}).ok());
  CHECK(Check(r, "u", {"get", "r:1"}) == Denied::kNone);
  CHECK(Check(r, "u", {"set", "r:1", "v"}) == Denied::kKey);
  CHECK(Check(r, "u", {"set", "w:1", "v"}) == Denied::kNone);
  CHECK(Check(r, "u", {"set", "w:1", "v", "GET"}) == Denied::kKey);  // GET reads the key too
  CHECK(Check(r, "u", {"get", "w:1"}) == Denied::kKey);
  CHECK(Check(r, "u", {"exists", "w:1"}) == Denied::kNone);  // EXISTS needs neither
  CHECK(Check(r, "u", {"exists", "other"}) == Denied::kKey);
  CHECK(Check(r, "u", {"lock.acquire", "w:1", "h", "10"}) == Denied::kNone);
  CHECK(Check(r, "u", {"lock.acquire", "r:1", "h", "10"}) == Denied::kKey);
  CHECK(Check(r, "u", {"lock.fence", "r:1"}) == Denied::kNone);
  CHECK(Check(r, "u", {"del", "both", "w:2", "r:1"}) == Denied::kKey);
  CHECK(Check(r, "u", {"del", "both", "w:2"}) == Denied::kNone);
  // EVAL's keys are its KEYS, not its script or arguments.
  CHECK(Check(r, "u", {"eval", "return 1", "1", "both", "r:1"}) == Denied::kNone);
  CHECK(Check(r, "u", {"eval", "return 1", "1", "r:1"}) == Denied::kKey);
  CHECK(r.Describe(*r.Find("u")) == "on %R~r:* %W~w:* ~both resetchannels +@all");
  // The same pattern again widens its permissions instead of repeating it.
  REQUIRE(Set(r, "u", {"%R~w:*"}).ok());
  CHECK(acl::Registry::DescribeKeys(r.Find("u")->selectors[0]) == "%R~r:* ~w:* ~both");
}

TEST_CASE("acl: channels, literal for PSUBSCRIBE, and selectors") {
  Config c;
  acl::Registry r(&c);
  REQUIRE(Set(r, "u", {"on", "+@all", "allkeys", "&news.*"}).ok());
  CHECK(Check(r, "u", {"publish", "news.x", "m"}) == Denied::kNone);
  CHECK(Check(r, "u", {"publish", "other", "m"}) == Denied::kChannel);
  CHECK(Check(r, "u", {"subscribe", "news.a", "other"}) == Denied::kChannel);
  CHECK(Check(r, "u", {"psubscribe", "news.*"}) == Denied::kNone);
  CHECK(Check(r, "u", {"psubscribe", "news.a*"}) == Denied::kChannel);

  REQUIRE(Set(r, "s", {"on", "-@all", "(~x:* +get)", "(%W~y:* +set)"}).ok());
  CHECK(Check(r, "s", {"get", "x:1"}) == Denied::kNone);
  CHECK(Check(r, "s", {"get", "y:1"}) == Denied::kKey);
  CHECK(Check(r, "s", {"set", "y:1", "v"}) == Denied::kNone);
  CHECK(Check(r, "s", {"lock.fence", "x:1"}) == Denied::kCommand);
  CHECK(r.Describe(*r.Find("s")) ==
        "on resetchannels -@all (~x:* resetchannels -@all +get) (%W~y:* resetchannels -@all +set)");
  // Selector arguments split over several words are merged first.
  std::vector<std::string_view> words = {"(~a:*", "+get)", "on"};
  std::vector<std::string> merged;
  size_t bad = 0;
  REQUIRE(acl::Registry::MergeSelectorArgs(words, &merged, &bad));
  CHECK(merged == std::vector<std::string>{"(~a:* +get)", "on"});
  std::vector<std::string_view> open = {"on", "(~a:*"};
  CHECK_FALSE(acl::Registry::MergeSelectorArgs(open, &merged, &bad));
  CHECK(bad == 1);
}

TEST_CASE("acl: passwords, nopass, off and requirepass") {
  Config c;
  acl::Registry r(&c);
  REQUIRE(Set(r, "u", {"on", ">one", ">two"}).ok());
  CHECK(r.Authenticate("u", "one") != nullptr);
  CHECK(r.Authenticate("u", "two") != nullptr);
  CHECK(r.Authenticate("u", "three") == nullptr);
  CHECK(r.Authenticate("nobody", "one") == nullptr);
  REQUIRE(Set(r, "u", {"<one"}).ok());
  CHECK(r.Authenticate("u", "one") == nullptr);
  REQUIRE(Set(r, "u", {"off"}).ok());
  CHECK(r.Authenticate("u", "two") == nullptr);
  REQUIRE(Set(r, "u", {"on", "nopass"}).ok());
  CHECK(r.Authenticate("u", "anything") != nullptr);
  r.SetDefaultPassword("secret");
  CHECK(r.Authenticate("default", "secret") == &r.default_user());
  CHECK(r.Authenticate("default", "") == nullptr);
  CHECK(r.Describe(r.default_user()) == "on #" + acl::HashPassword("secret") + " ~* &* +@all");
  r.SetDefaultPassword("");
  CHECK(r.Describe(r.default_user()) == "on nopass ~* &* +@all");
}

TEST_CASE("acl: ACL SAVE's file loads back to the same users; errors change nothing") {
  Config c;
  char dir_template[] = "/tmp/lockd-acl-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string path = std::string(dir_template) + "/users.acl";
  acl::Registry a(&c);
  REQUIRE(Set(a, "alice", {"on", ">pw", "%R~seat:*", "&ch", "+@read", "-get", "(~x +set)"}).ok());
  REQUIRE(Set(a, "default", {"resetpass", ">root"}).ok());
  REQUIRE(a.SaveFile(path).ok());

  acl::Registry b(&c);
  std::vector<std::unique_ptr<acl::User>> dropped;
  REQUIRE(Set(b, "gone", {"on"}).ok());
  REQUIRE(b.LoadFile(path, &dropped).ok());
  CHECK(dropped.size() == 1);
  CHECK(b.Find("gone") == nullptr);
  for (const char* name : {"alice", "default"}) {
    CHECK(b.Describe(*b.Find(name)) == a.Describe(*a.Find(name)));
  }
  CHECK(b.Authenticate("default", "root") == &b.default_user());

  std::ofstream(path) << "user alice on +nosuch\nnot a user line\n";
  Status s = b.LoadFile(path, &dropped);
  CHECK(s.message().find(":1: Unknown command or category name in ACL. ") != std::string::npos);
  CHECK(s.message().find(":2 should start with user keyword") != std::string::npos);
  CHECK(s.message().ends_with("no change to the previously active ACL rules was performed"));
  CHECK(b.Find("alice") != nullptr);
  std::remove(path.c_str());
  rmdir(dir_template);
}

TEST_CASE("acl: user lines in the config; with an aclfile as well, the start is refused") {
  Config c;
  c.acl_users = {{"default", "on", ">pw", "~*", "+@all"}, {"ro", "on", "nopass", "+@read"}};
  acl::Registry r(&c);
  r.SetDefaultPassword("requirepass-loses");
  REQUIRE(r.LoadAtStartup().ok());
  CHECK(r.Authenticate("default", "pw") != nullptr);
  CHECK(r.Authenticate("default", "requirepass-loses") == nullptr);
  CHECK(r.Find("ro") != nullptr);
  c.compat["aclfile"] = "/nonexistent/users.acl";
  acl::Registry both(&c);
  CHECK(both.LoadAtStartup().message().find("not both") != std::string::npos);
  c.acl_users = {{"bad", "+nosuch"}};
  c.compat.erase("aclfile");
  acl::Registry bad(&c);
  CHECK(bad.LoadAtStartup().message() ==
        "Error loading ACL rule '+nosuch' for the user named 'bad': Unknown command or category "
        "name in ACL");
}

TEST_CASE("acl: CONFIG REWRITE keeps the user lines of the file") {
  Config c;
  c.acl_users = {{"ro", "on", "nopass", "+@read"}};
  const std::string text = "port 6379\nuser ro on nopass +@read\n";
  std::string out = RewriteConfigText(text, c);
  CHECK_MESSAGE(out.find("\nuser ro on nopass +@read\n") != std::string::npos, out);
  CHECK(out.find("# ???") == std::string::npos);
}

TEST_CASE("acl: one user stays bounded whatever SETUSER sends") {
  Config c;
  acl::Registry r(&c);
  // Thousands of command rules cost nothing more than one bitmap.
  std::vector<std::string> rules;
  for (int i = 0; i < 5000; ++i) rules.push_back(i % 2 ? "+get" : "-get");
  rules.push_back("+@read");
  rules.push_back("-@write");
  std::vector<std::string_view> views(rules.begin(), rules.end());
  CHECK(r.SetUser("many", views).ok());
  // Key patterns are capped per selector.
  std::vector<std::string> patterns;
  for (size_t i = 0; i <= acl::kMaxPatterns; ++i) patterns.push_back("~k" + std::to_string(i));
  std::vector<std::string_view> pviews(patterns.begin(), patterns.end());
  Status s = r.SetUser("pats", pviews);
  CHECK_FALSE(s.ok());
  CHECK(r.Find("pats") == nullptr);
  pviews.pop_back();
  CHECK(r.SetUser("pats", pviews).ok());
  CHECK(r.Find("pats")->selectors[0].keys.size() == acl::kMaxPatterns);
}

TEST_CASE("acl: patterns are compiled to exact, prefix or glob matches") {
  CHECK(acl::Pattern::Compile("seat:1", acl::kKeyAll).kind == acl::Pattern::kExact);
  CHECK(acl::Pattern::Compile("seat:*", acl::kKeyAll).kind == acl::Pattern::kPrefix);
  CHECK(acl::Pattern::Compile("s?at:*", acl::kKeyAll).kind == acl::Pattern::kGlob);
  CHECK(acl::Pattern::Compile("seat:*", acl::kKeyAll).Matches("seat:"));
  CHECK(acl::Pattern::Compile("seat:*", acl::kKeyAll).Matches("seat:12"));
  CHECK_FALSE(acl::Pattern::Compile("seat:*", acl::kKeyAll).Matches("seat"));
  CHECK(acl::Pattern::Compile("s[ae]at", acl::kKeyAll).Matches("seat"));
  CHECK_FALSE(acl::Pattern::Compile("seat:1", acl::kKeyAll).Matches("seat:12"));
  CHECK(acl::Pattern::Compile("*", acl::kKeyAll).Matches(""));
}

TEST_CASE("holder binding: the stored form carries the user and shows only the holder") {
  std::string buf;
  std::string stored(acl::BindHolder("alice", "worker-1", &buf));
  CHECK(stored == std::string("\0alice\0worker-1", 15));
  std::string_view user;
  REQUIRE(acl::BoundUser(stored, &user));
  CHECK(user == "alice");
  CHECK(acl::VisibleHolder(stored) == "worker-1");
  // A holder taken while the directive was off is not bound.
  CHECK_FALSE(acl::BoundUser("worker-1", &user));
  CHECK(acl::VisibleHolder("worker-1") == "worker-1");
  // A holder that itself starts with NUL comes back exactly.
  std::string odd("\0x\0y", 4);
  std::string stored_odd(acl::BindHolder("bob", odd, &buf));
  CHECK(acl::VisibleHolder(stored_odd) == odd);
  REQUIRE(acl::BoundUser(stored_odd, &user));
  CHECK(user == "bob");
}

}  // namespace
}  // namespace lockd
