// MappedFile: a whole file mapped read-only, for the readers of logs (the
// loader, the token scan, lockd-check-aof). Unmapped on destruction.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace lockd::aof {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile() { Unmap(); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps the first `size` bytes of `fd` (the fd may be closed afterwards).
  // 0, or an errno.
  int Map(int fd, size_t size);
  // Opens, maps and closes `path`. 0, or an errno (ENOENT: no such file).
  int Open(const std::string& path);
  void Unmap();

  std::string_view data() const { return std::string_view(addr_, size_); }

 private:
  char* addr_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lockd::aof
