// POSIX implementation of the log's file layer.
#include "aof/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lockd::aof {

namespace {

class PosixLogFile final : public LogFile {
 public:
  PosixLogFile(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~PosixLogFile() override { close(fd_); }

  ssize_t Write(const char* data, size_t n) override {
    for (;;) {
      ssize_t w = write(fd_, data, n);
      if (w >= 0) return w;
      if (errno != EINTR) return -errno;
    }
  }
  int Sync() override { return fdatasync(fd_) == 0 ? 0 : -errno; }
  int Truncate(uint64_t size) override {
    return ftruncate(fd_, static_cast<off_t>(size)) == 0 ? 0 : -errno;
  }
  uint64_t initial_size() const override { return size_; }

 private:
  int fd_;
  uint64_t size_;
};

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

int SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = fsync(fd) == 0 ? 0 : -errno;
  close(fd);
  return r;
}

class PosixFiles final : public FileSystem {
 public:
  std::shared_ptr<LogFile> OpenForAppend(const std::string& path, std::string* error) override {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      *error = strerror(errno);
      if (fd >= 0) close(fd);
      return nullptr;
    }
    return std::make_shared<PosixLogFile>(fd, static_cast<uint64_t>(st.st_size));
  }

  int RenameDurably(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) return -errno;
    return SyncDirectory(DirectoryOf(to));
  }
};

}  // namespace

FileSystem& PosixFileSystem() {
  static PosixFiles fs;
  return fs;
}

int WriteAll(LogFile& file, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = file.Write(data.data() + done, data.size() - done);
    if (w < 0) return static_cast<int>(w);
    if (w == 0) return -ENOSPC;
    done += static_cast<size_t>(w);
  }
  return 0;
}

int ReplaceFileDurably(const std::string& path, const std::string& data) {
  std::string temp = path + ".tmp";
  unlink(temp.c_str());  // a leftover of an interrupted replace
  std::string error;
  std::shared_ptr<LogFile> file = PosixFileSystem().OpenForAppend(temp, &error);
  if (file == nullptr) return errno != 0 ? -errno : -EIO;
  int r = WriteAll(*file, data);
  if (r == 0) r = file->Sync();
  file.reset();
  if (r == 0) r = PosixFileSystem().RenameDurably(temp, path);
  if (r != 0) unlink(temp.c_str());
  return r;
}

}  // namespace lockd::aof
