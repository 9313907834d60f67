// The file layer under the log: an append-only file and the few directory
// operations a rewrite needs. An interface so that tests can inject write
// and sync failures and observe the order of writes, syncs and replies.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lockd::aof {

class LogFile {
 public:
  virtual ~LogFile() = default;  // closes the file
  // Appends up to n bytes; returns how many were written, or -errno.
  virtual ssize_t Write(const char* data, size_t n) = 0;
  // fdatasync. 0 or -errno. May run on the background thread while the loop
  // thread writes.
  virtual int Sync() = 0;
  // Cuts the file to `size` bytes (a short write is cut back). 0 or -errno.
  virtual int Truncate(uint64_t size) = 0;
  // The file's size when it was opened.
  virtual uint64_t initial_size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens `path` for appending, creating it if missing. Null on failure, with
  // *error set.
  virtual std::shared_ptr<LogFile> OpenForAppend(const std::string& path, std::string* error) = 0;
  // rename(2), then fsync of the directory holding `to`, so that the new
  // name survives a power loss. 0 or -errno.
  virtual int RenameDurably(const std::string& from, const std::string& to) = 0;
};

// The real thing: POSIX files.
FileSystem& PosixFileSystem();

// Writes all of `data` to `file`. 0, or -errno (-ENOSPC for a write that
// makes no progress).
int WriteAll(LogFile& file, std::string_view data);

// Writes all of `data` to `path` through a temporary file in the same
// directory, syncs it, renames it over `path` and syncs the directory: after
// a crash, `path` holds either its old content or all of `data`.
int ReplaceFileDurably(const std::string& path, const std::string& data);

}  // namespace lockd::aof
