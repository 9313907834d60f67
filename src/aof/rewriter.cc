#include "aof/rewriter.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "aof/log_file.h"
#include "aof/record.h"
#include "aof/time_convert.h"

namespace lockd::aof {

int WriteSnapshot(const Engine& engine, const std::string& path, uint64_t token_limit,
                  int64_t horizon_ms, MonoTime mono_now, WallTime wall_now) {
  unlink(path.c_str());  // a leftover of an earlier child with this pid
  std::string error;
  std::shared_ptr<LogFile> file = PosixFileSystem().OpenForAppend(path, &error);
  if (file == nullptr) return errno != 0 ? errno : EIO;
  constexpr size_t kChunk = 1 << 20;
  std::string buf;
  buf.reserve(kChunk + 4096);
  AppendReserve(&buf, token_limit, horizon_ms);
  int r = 0;
  engine.ForEachLease([&](const LeaseView& lease) {
    if (r != 0) return;
    AppendGrant(&buf, ChangeKind::kGrant, lease.key, lease.holder, lease.token,
                UnixMillisOf(lease.deadline, mono_now, wall_now));
    if (buf.size() >= kChunk) {
      r = WriteAll(*file, buf);
      buf.clear();
    }
  });
  if (r == 0) r = WriteAll(*file, buf);
  if (r == 0) r = file->Sync();
  return -r;
}

Rewriter::~Rewriter() { Abort(); }

Status Rewriter::Start(const Engine& engine, const std::string& temp_path, uint64_t token_limit,
                       int64_t horizon_ms, MonoTime mono_now, WallTime wall_now) {
  if (running()) return Status::Error("a rewrite is already running");
  const pid_t parent = getpid();
  SystemClock clock;  // the real cost, whatever clock drives the server
  MonoTime before = clock.Now();
  pid_t pid = fork();
  if (pid > 0) {
    latest_fork_usec_ = clock.Now().us - before.us;
    ++total_forks_;
  }
  if (pid < 0) return Status::Error(fmt::format("Can't rewrite append only file in background: fork: {}", strerror(errno)));
  if (pid == 0) {
    // The child: the loop and its threads are not ours; write and leave
    // without running any exit handler. It holds no inherited descriptor
    // (a listening socket kept open here would stop a restarted server from
    // binding its port) and dies with its parent.
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent is already gone
    close_range(3, ~0U, 0);
    int error = WriteSnapshot(engine, temp_path, token_limit, horizon_ms, mono_now, wall_now);
    _exit(error == 0 ? 0 : 1);
  }
  child_ = pid;
  temp_path_ = temp_path;
  return Status::Ok();
}

std::optional<bool> Rewriter::Poll() {
  if (!running()) return std::nullopt;
  int status = 0;
  pid_t r = waitpid(child_, &status, WNOHANG);
  if (r == 0) return std::nullopt;
  child_ = -1;
  if (r < 0) return false;
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok) unlink(temp_path_.c_str());
  return ok;
}

void Rewriter::Abort() {
  if (!running()) return;
  kill(child_, SIGKILL);
  int status;
  while (waitpid(child_, &status, 0) < 0 && errno == EINTR) {
  }
  child_ = -1;
  unlink(temp_path_.c_str());
}

}  // namespace lockd::aof
