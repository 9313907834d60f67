// `lockd-server [config-file] [--directive value ...]`, read the way
// redis-server reads its command line: the file (and standard input, for
// "-") first, then each `--name args...` override in order. Files are read
// here and, for `include`, by config_files.h; nothing else in the config
// module does I/O.
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "config/config_files.h"
#include "config/split_args.h"
#include "lockd/config.h"
#include "util/split_args.h"
#include "util/strings.h"

namespace lockd {
namespace {

using config_internal::ReadAll;
using config_internal::ReadConfigFile;

// One `--name arg ...` override and where it stood on the command line.
struct Override {
  std::string name;
  std::vector<std::string> args;
  int argv_index = 0;
};

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.string();
}

Status OverrideError(const Override& o, std::string_view detail) {
  // Echo the override as the config line it stands for, with each argument
  // quoted as Redis does when it turns `--port 6380` into `port "6380"`.
  std::string line = o.name;
  for (const std::string& arg : o.args) line += " " + QuoteArg(arg);
  return Status::Error(
      fmt::format("Reading the command line, at argument {} ('--{}')\n"
                  ">>> '{}'\n{}",
                  o.argv_index, o.name, line, detail));
}

}  // namespace

std::string CommandLineUsage(std::string_view program) {
  return fmt::format(
      "Usage: {0} [/path/to/lockd.conf] [options] [-]\n"
      "       {0} - (read config from stdin)\n"
      "       {0} -v or --version\n"
      "       {0} -h or --help\n"
      "\n"
      "Options are configuration directives given as --name value; they apply\n"
      "after the config file, in order. conf/lockd.conf documents every one.\n"
      "\n"
      "Examples:\n"
      "       {0} (run with the default configuration)\n"
      "       {0} /etc/lockd/lockd.conf\n"
      "       {0} --port 7777\n"
      "       {0} /etc/lockd/lockd.conf --loglevel verbose --bind 127.0.0.1 -::1\n",
      program);
}

Status ParseCommandLine(int argc, const char* const* argv, Config* config,
                        CommandLineAction* action) {
  *action = CommandLineAction::kRun;
  *config = Config();
  if (argc >= 2) {
    const std::string_view first = argv[1];
    if (first == "-v" || first == "--version") {
      *action = CommandLineAction::kVersion;
      return Status::Ok();
    }
    if (first == "-h" || first == "--help") {
      *action = CommandLineAction::kHelp;
      return Status::Ok();
    }
  }

  // Collect everything before reading any file, so that a `--help` late on
  // the line is honoured even when the file is unreadable.
  std::string file;
  bool has_file = false;
  bool read_stdin = false;
  std::vector<Override> overrides;
  int j = 1;
  if (argc >= 2 && argv[1][0] != '-') {
    file = argv[1];
    has_file = true;
    j = 2;
  }
  // True right after a bare `--name`: the next token is its argument even if
  // it starts with "--", as redis-server reads it.
  bool expecting_value = false;
  for (; j < argc; j++) {
    const std::string_view arg = argv[j];
    if (!expecting_value && arg == "-" && (j == 1 || j == argc - 1)) {
      read_stdin = true;
    } else if (!expecting_value && arg.starts_with("--")) {
      // "--port 6380" may come as one token; it is split like a config line.
      std::vector<std::string> words;
      if (!SplitConfigArgs(arg.substr(2), &words) || words.empty()) {
        return Status::Error(fmt::format("Invalid option '{}' on the command line", arg));
      }
      if (words.size() == 1 && (words[0] == "version" || words[0] == "help")) {
        *action = words[0] == "version" ? CommandLineAction::kVersion : CommandLineAction::kHelp;
        return Status::Ok();
      }
      Override o;
      o.name = words[0];
      o.args.assign(words.begin() + 1, words.end());
      o.argv_index = j;
      expecting_value = words.size() == 1;
      // redis-server's one exception: a bare `--save` followed by another
      // option, or last on the line, is `save ""` (snapshots off), since
      // scripts build `--save` from an empty list.
      if (expecting_value && EqualsIgnoreCase(o.name, "save") &&
          (j == argc - 1 || std::string_view(argv[j + 1]).starts_with("--"))) {
        o.args.emplace_back();
        expecting_value = false;
      }
      overrides.push_back(std::move(o));
    } else if (overrides.empty()) {
      return Status::Error(fmt::format(
          "Unexpected argument '{}' on the command line: directives are given as --name value",
          arg));
    } else {
      overrides.back().args.emplace_back(arg);
      expecting_value = false;
    }
  }

  Config parsed;
  if (has_file) {
    std::string text;
    if (Status s = ReadConfigFile(file, &text); !s.ok()) return s;
    if (Status s = ParseConfigText(text, file, &parsed); !s.ok()) return s;
    parsed.config_file = AbsolutePath(file);
  }
  if (read_stdin) {
    std::string text;
    if (!ReadAll(STDIN_FILENO, &text)) {
      return Status::Error(
          fmt::format("Fatal error, can't read config from stdin: {}", std::strerror(errno)));
    }
    if (Status s = ParseConfigText(text, "stdin", &parsed); !s.ok()) return s;
  }
  for (const Override& o : overrides) {
    // redis-server reads its options as config lines, so `--include file`
    // works there; it is the one non-directive line an option can be.
    if (EqualsIgnoreCase(o.name, "include") && o.args.size() == 1) {
      if (Status s = ParseConfigText("include " + QuoteArg(o.args[0]), "the command line",
                                     &parsed);
          !s.ok()) {
        return s;
      }
      continue;
    }
    if (Status s = ApplyDirective(&parsed, o.name, o.args); !s.ok()) {
      return OverrideError(o, s.message());
    }
  }
  *config = std::move(parsed);
  return Status::Ok();
}

}  // namespace lockd
