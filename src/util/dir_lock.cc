// DirLock: flock(2) rather than fcntl(2) record locks, because fcntl locks
// belong to a process and are not inherited across fork (daemonize would
// lose it), while a flock belongs to the open file description that fork
// shares.
#include "util/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace lockd {
namespace {

// The pid text of a lock file (digits up to the first newline), "" when none.
std::string ReadPid(int fd) {
  char buf[32];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  std::string text(buf, static_cast<size_t>(n));
  const size_t end = text.find_first_not_of("0123456789");
  return text.substr(0, end);
}

}  // namespace

DirLock::~DirLock() {
  // The file stays: removing it would let a starting process lock an
  // unlinked inode while another creates a fresh file beside it.
  if (fd_ >= 0) ::close(fd_);
}

Status DirLock::Acquire(const std::string& dir_path) {
  const std::string path = dir_path + "/" + kDirLockFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Error(fmt::format("Can't open the data directory lock file '{}': {}", path,
                                     std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) {
      ::close(fd);
      return Status::Error(
          fmt::format("Can't lock the data directory '{}': {}", dir_path, std::strerror(err)));
    }
    // The holder writes its pid right after it takes the lock; give a
    // holder caught between the two a moment to finish.
    std::string pid = ReadPid(fd);
    for (int i = 0; i < 50 && pid.empty(); i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      pid = ReadPid(fd);
    }
    ::close(fd);
    return Status::Error(fmt::format(
        "The data directory '{}' is in use by another lockd-server process (pid {}): only one "
        "server may use a directory, or the two would share one log and issue the same tokens. "
        "Stop that server or choose another 'dir'.",
        dir_path, pid.empty() ? "unknown" : pid));
  }
  fd_ = fd;
  return RecordPid(::getpid());
}

Status DirLock::RecordPid(pid_t pid) {
  const std::string text = fmt::format("{}\n", pid);
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return Status::Error(fmt::format("Can't write the pid to the data directory lock file: {}",
                                     std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace lockd
