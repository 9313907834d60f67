#include "aof/mapped_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace lockd::aof {

int MappedFile::Map(int fd, size_t size) {
  Unmap();
  if (size == 0) return 0;
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return errno;
  addr_ = static_cast<char*>(p);
  size_ = size;
  // Logs are read front to back, once.
  madvise(addr_, size_, MADV_SEQUENTIAL | MADV_WILLNEED);
  return 0;
}

int MappedFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  int error = fstat(fd, &st) == 0 ? Map(fd, static_cast<size_t>(st.st_size)) : errno;
  close(fd);
  return error;
}

void MappedFile::Unmap() {
  if (addr_ != nullptr) munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
}

}  // namespace lockd::aof
