// One live server per data directory: an exclusive flock(2) on `lockd.lock`
// in `dir`, holding the holder's pid in text. The lock belongs to the open
// file description, so it follows the process through `daemonize` (fork keeps
// it, the exiting parent's close does not drop it), outlives the log-rewrite
// child closing its inherited copy, and is dropped by the kernel when the
// holder dies, however it dies: a lock file left by `kill -9` stops nobody.
// It lives in util/ because main() takes it before the server or the log
// layer exist, and neither needs to know about it.
#pragma once

#include <sys/types.h>

#include <string>

#include "lockd/status.h"

namespace lockd {

// The lock file's name inside the data directory.
inline constexpr const char* kDirLockFileName = "lockd.lock";

class DirLock {
 public:
  DirLock() = default;
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  // Takes the lock on `dir_path`/lockd.lock (creating the file, and touching
  // nothing else in the directory) and records this process's pid in it.
  // When another live process holds it, fails without waiting; the message
  // names the holder's pid as that process wrote it.
  [[nodiscard]] Status Acquire(const std::string& dir_path);

  // Rewrites the recorded pid, for the process that keeps the lock after
  // `daemonize` forked.
  [[nodiscard]] Status RecordPid(pid_t pid);

 private:
  int fd_ = -1;
};

}  // namespace lockd
