// lockd-server: arguments → configuration → serve.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <string>

#include "lockd/config.h"
#include "lockd/server.h"
#include "aof/log_name.h"
#include "util/dir_lock.h"
#include "util/log.h"
#include "util/version.h"

namespace {

constexpr const char* kUsage =
    "Usage: lockd-server [/path/to/lockd.conf] [options]\n"
    "       lockd-server - (read config from stdin)\n"
    "       lockd-server -v or --version\n"
    "       lockd-server -h or --help\n"
    "\n"
    "Examples:\n"
    "       lockd-server (run the server with default conf)\n"
    "       lockd-server conf/lockd.conf\n"
    "       lockd-server --port 7777\n"
    "       lockd-server conf/lockd.conf --loglevel verbose --requirepass secret\n";

// Detaches from the terminal as redis-server does with `daemonize yes`.
void Daemonize() {
  if (fork() != 0) _exit(0);
  setsid();
  int fd = open("/dev/null", O_RDWR, 0);
  if (fd != -1) {
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO) close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace lockd;
  // A client that disconnects mid-write must not kill the server.
  signal(SIGPIPE, SIG_IGN);
  // A file-size limit makes a log write fail with EFBIG (handled as any
  // write error) instead of killing the server.
  signal(SIGXFSZ, SIG_IGN);

  Config config;
  CommandLineAction action = CommandLineAction::kRun;
  Status parsed = ParseCommandLine(argc, argv, &config, &action);
  if (!parsed.ok()) {
    fmt::print(stderr, "\n*** FATAL CONFIG FILE ERROR (lockd {}) ***\n{}\n", kLockdVersion,
               parsed.message());
    return 1;
  }
  if (action == CommandLineAction::kVersion) {
    fmt::print("lockd server v={} (Redis protocol {} compatible) bits=64\n", kLockdVersion,
               kCompatibleRedisVersion);
    return 0;
  }
  if (action == CommandLineAction::kHelp) {
    fmt::print("{}", kUsage);
    return 0;
  }
  // As redis-server: a first argument that is not an option names the
  // configuration (a file, or "-" for standard input).
  const bool config_given = argc > 1 && !(argv[1][0] == '-' && argv[1][1] == '-');
  ServerOptions options;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  options.executable = n > 0 ? std::string(exe, static_cast<size_t>(n)) : argv[0];

  if (chdir(config.dir.c_str()) != 0) {
    fmt::print(stderr, "Can't chdir to '{}': {}\n", config.dir, strerror(errno));
    return 1;
  }
  // CONFIG GET dir shows the absolute directory, as in Redis.
  if (char* cwd = getcwd(nullptr, 0)) {
    config.dir = cwd;
    free(cwd);
  }
  Status logging = LogInit(config.loglevel, config.logfile);
  if (!logging.ok()) {
    fmt::print(stderr, "{}\n", logging.message());
    return 1;
  }
  // Before anything else in `dir` is read or written (the log, its token
  // file, temporary files, the pidfile): a second server on the same
  // directory would share the log and issue the same tokens.
  DirLock dir_lock;
  if (Status locked = dir_lock.Acquire(config.dir); !locked.ok()) {
    Log(LogLevel::kWarning, "{}", locked.message());
    return 1;
  }
  // Tokens live in the files of one appendfilename: another name for the
  // same directory would start below them.
  if (Status named = aof::CheckLogName(config.appendfilename); !named.ok()) {
    Log(LogLevel::kWarning, "{}", named.message());
    return 1;
  }
  if (config.daemonize) {
    // The forked child inherits the locked descriptor; the parent's exit
    // closes only its own copy, so the lock stays held throughout.
    Daemonize();
    if (Status s = dir_lock.RecordPid(getpid()); !s.ok()) Log(LogLevel::kWarning, "{}", s.message());
  }
  Log(LogLevel::kNotice, "lockd is starting");
  Log(LogLevel::kNotice, "lockd version={}, bits=64, pid={}, just started", kLockdVersion, getpid());
  if (!config_given) {
    Log(LogLevel::kWarning,
        "Warning: no config file specified, using the default config. In order to specify a "
        "config file use {} /path/to/lockd.conf",
        argv[0]);
  } else {
    Log(LogLevel::kNotice, "Configuration loaded");
  }
  Log(LogLevel::kNotice, "Running mode=standalone, port={}.", config.port);

  // The pidfile is written once the listeners are up, and removed at exit
  // only if this process wrote it: a start that fails to bind must leave a
  // running server's pidfile alone.
  bool pidfile_written = false;
  options.on_listening = [&config, &pidfile_written] {
    if (config.pidfile.empty()) return;
    if (FILE* f = fopen(config.pidfile.c_str(), "w")) {
      fprintf(f, "%d\n", static_cast<int>(getpid()));
      fclose(f);
      pidfile_written = true;
    } else {
      Log(LogLevel::kWarning, "Failed to write PID file: {}", strerror(errno));
    }
  };
  int code = RunServer(config, options);
  if (pidfile_written) unlink(config.pidfile.c_str());
  return code;
}
