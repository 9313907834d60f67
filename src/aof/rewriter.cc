#include "aof/rewriter.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "aof/record.h"
#include "aof/time_convert.h"

namespace lockd::aof {

namespace {

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

int WriteSnapshot(const Engine& engine, const std::string& path, uint64_t token_limit,
                  int64_t horizon_ms, MonoTime mono_now, WallTime wall_now) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  constexpr size_t kChunk = 1 << 20;
  std::string buf;
  buf.reserve(kChunk + 4096);
  AppendReserve(&buf, token_limit, horizon_ms);
  bool ok = true;
  engine.ForEachLease([&](const LeaseView& lease) {
    if (!ok) return;
    AppendGrant(&buf, ChangeKind::kGrant, lease.key, lease.holder, lease.token,
                UnixMillisOf(lease.deadline, mono_now, wall_now));
    if (buf.size() >= kChunk) {
      ok = WriteAll(fd, buf);
      buf.clear();
    }
  });
  int error = 0;
  if (!ok || !WriteAll(fd, buf)) error = errno != 0 ? errno : EIO;
  if (error == 0 && fsync(fd) != 0) error = errno;
  close(fd);
  return error;
}

Rewriter::~Rewriter() { Abort(); }

Status Rewriter::Start(const Engine& engine, const std::string& temp_path, uint64_t token_limit,
                       int64_t horizon_ms, MonoTime mono_now, WallTime wall_now) {
  if (running()) return Status::Error("a rewrite is already running");
  const pid_t parent = getpid();
  pid_t pid = fork();
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
