// Rewriter: compaction of the log. A forked child writes the engine's leases
// as of the fork (one LOCK.GRANT each, after a LOCK.RESERVE carrying the
// token high-water mark and the lease horizon) to a temporary file and syncs
// it, while the parent goes on serving and captures what it logs meanwhile
// (LogWriter::StartCapture). The parent then appends the capture, syncs,
// and renames the file over the log (see Durability::FinishRewrite).
//
// The fork gives the child a frozen copy of the engine for free (copy on
// write), so the loop pays only for the fork itself, not for the snapshot.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "lockd/clock.h"
#include "lockd/engine.h"
#include "lockd/status.h"

namespace lockd::aof {

class Rewriter {
 public:
  ~Rewriter();

  // Forks the child that writes the snapshot to `temp_path`.
  Status Start(const Engine& engine, const std::string& temp_path, uint64_t token_limit,
               int64_t horizon_ms, MonoTime mono_now, WallTime wall_now);
  bool running() const { return child_ > 0; }
  pid_t child() const { return child_; }
  const std::string& temp_path() const { return temp_path_; }
  // What fork() cost the loop, as Redis's INFO stats reports it.
  int64_t latest_fork_usec() const { return latest_fork_usec_; }
  uint64_t total_forks() const { return total_forks_; }

  // Reaps the child if it exited: nullopt while it runs, else whether it
  // wrote and synced the whole snapshot.
  std::optional<bool> Poll();
  // Stops a running child and removes its file.
  void Abort();

 private:
  pid_t child_ = -1;
  std::string temp_path_;
  int64_t latest_fork_usec_ = 0;
  uint64_t total_forks_ = 0;
};

// Writes the snapshot; runs in the child. Returns 0, or an errno.
int WriteSnapshot(const Engine& engine, const std::string& path, uint64_t token_limit,
                  int64_t horizon_ms, MonoTime mono_now, WallTime wall_now);

}  // namespace lockd::aof
