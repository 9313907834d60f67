// A private scratch directory for a fuzz target's real files (the loader
// maps a real file), on tmpfs so that the writes cost no disk I/O, removed
// with its files when the fuzzer exits.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace lockd::fuzz {

inline std::string& ScratchDir() {
  static std::string dir;
  return dir;
}

inline void RemoveScratchDir() {
  const std::string& dir = ScratchDir();
  if (dir.empty()) return;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") unlink((dir + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

// Makes the directory (under /dev/shm when it exists); "" on failure.
inline std::string MakeScratchDir(const char* tag) {
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string templ = base + "/lockd-fuzz-" + tag + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return "";
  ScratchDir() = templ;
  std::atexit(RemoveScratchDir);
  return templ;
}

}  // namespace lockd::fuzz
