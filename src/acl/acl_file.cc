// Users from files: the `user` lines of the configuration and the aclfile
// (ACL LOAD, ACL SAVE, and both at start), with Redis 7.0's rules and
// messages. A load is all or nothing: users are built in a fresh set and
// swapped in only when every line applied.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "acl/acl.h"
#include "lockd/clock.h"
#include "util/check.h"

namespace lockd::acl {

namespace {

std::string_view TrimChars(std::string_view s, std::string_view chars) {
  size_t b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(chars);
  return s.substr(b, e - b + 1);
}

// Redis's sdssplitlen on one byte: empty pieces between separators kept.
std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

bool NameHasSpaces(std::string_view s) {
  for (char c : s) {
    if (c == 0 || c == ' ' || (c >= '\t' && c <= '\r')) return true;
  }
  return false;
}

}  // namespace

Status Registry::LoadAtStartup() {
  auto file_it = config_->compat.find("aclfile");
  const std::string aclfile = file_it == config_->compat.end() ? "" : file_it->second;
  if (!aclfile.empty() && !config_->acl_users.empty()) {
    return Status::Error(
        "Configuring Redis with users defined in redis.conf and at the same setting an ACL file "
        "path is invalid. This setup is very likely to lead to configuration errors and security "
        "holes, please define either an ACL file or declare users directly in your redis.conf, "
        "but not both.");
  }
  for (const std::vector<std::string>& line : config_->acl_users) {
    const std::string& name = line[0];
    if (NameHasSpaces(name)) return Status::Error("Spaces not allowed in ACL usernames");
    User* u = Find(name);
    if (u == nullptr) {
      users_.emplace(name, NewUser(name));
      u = Find(name);
    } else {
      LOCKD_CHECK(ApplyOp(u, "reset").empty());
    }
    std::vector<std::string_view> args(line.begin() + 1, line.end());
    std::vector<std::string> ops;
    size_t bad = 0;
    if (!MergeSelectorArgs(args, &ops, &bad)) {
      return Status::Error(fmt::format("Unmatched parenthesis in selector definition of the user "
                                       "named '{}'", name));
    }
    for (const std::string& op : ops) {
      if (std::string err = ApplyOp(u, op); !err.empty()) {
        return Status::Error(fmt::format("Error loading ACL rule '{}' for the user named '{}': {}",
                                         op, name, err));
      }
    }
    Refresh(u);
  }
  if (!aclfile.empty()) {
    std::vector<std::unique_ptr<User>> dropped;
    if (Status s = LoadFile(aclfile, &dropped); !s.ok()) {
      return Status::Error("Aborting Redis startup because of ACL errors: " + s.message());
    }
  }
  return Status::Ok();
}

Status Registry::LoadFile(const std::string& path,
                          std::vector<std::unique_ptr<User>>* dropped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error(
        fmt::format("Error loading ACLs, opening file '{}': {}", path, strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  std::map<std::string, std::unique_ptr<User>> loaded;
  std::string errors;
  int linenum = 0;
  for (std::string_view raw : SplitOn(text, '\n')) {
    ++linenum;
    std::string_view line = TrimChars(raw, " \t\r\n");
    if (line.empty()) continue;
    std::vector<std::string_view> argv = SplitOn(line, ' ');
    if (argv[0] != "user" || argv.size() < 2) {
      errors += fmt::format("{}:{} should start with user keyword followed by the username. ",
                            path, linenum);
      continue;
    }
    if (NameHasSpaces(argv[1])) {
      errors += fmt::format("'{}:{}: username '{}' contains invalid characters. ", path, linenum,
                            argv[1]);
      continue;
    }
    std::string name(argv[1]);
    if (loaded.count(name)) {
      errors += fmt::format("WARNING: Duplicate user '{}' found on line {}. ", name, linenum);
      continue;
    }
    std::unique_ptr<User> u = NewUser(name);
    std::vector<std::string> ops;
    size_t bad = 0;
    std::vector<std::string_view> args(argv.begin() + 2, argv.end());
    if (!MergeSelectorArgs(args, &ops, &bad)) {
      errors += fmt::format("{}:{}: Unmatched parenthesis in selector definition.", path, linenum);
    }
    for (const std::string& raw_op : ops) {
      std::string_view op = TrimChars(raw_op, "\t\r\n");
      if (std::string err = ApplyOp(u.get(), op); !err.empty()) {
        errors += fmt::format("{}:{}: {}. ", path, linenum, err);
      }
    }
    Refresh(u.get());
    loaded.emplace(std::move(name), std::move(u));
  }
  if (!errors.empty()) {
    return Status::Error(errors +
                         "WARNING: ACL errors detected, no change to the previously active ACL "
                         "rules was performed");
  }
  // The default user's object is kept (sessions point at it); its rules
  // become the file's, or a fresh default user's when the file has none.
  auto def = loaded.find("default");
  std::unique_ptr<User> new_default =
      def == loaded.end() ? MakeDefaultUser() : std::move(def->second);
  if (def != loaded.end()) loaded.erase(def);
  *default_user_ = std::move(*new_default);
  auto old = users_.find("default");
  std::unique_ptr<User> kept = std::move(old->second);
  users_.erase(old);
  for (auto& [name, u] : users_) dropped->push_back(std::move(u));
  users_ = std::move(loaded);
  users_.emplace("default", std::move(kept));
  return Status::Ok();
}

Status Registry::SaveFile(const std::string& path) const {
  std::string text;
  for (const auto& [name, u] : users_) text += "user " + name + " " + Describe(*u) + "\n";
  // A new file beside the old one, synced, then renamed over it: a crash
  // leaves one file or the other.
  std::string tmp = fmt::format("{}.tmp-{}-{}", path, getpid(), SystemClock().WallNow().us / 1000);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Status::Error(fmt::format("Opening temp ACL file for ACL SAVE: {}", strerror(errno)));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return Status::Error("Writing ACL file for ACL SAVE: " + err);
    }
    off += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = strerror(errno);
    unlink(tmp.c_str());
    return Status::Error("Renaming ACL file for ACL SAVE: " + err);
  }
  return Status::Ok();
}

}  // namespace lockd::acl
