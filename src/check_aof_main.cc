// lockd-check-aof: says whether a log file loads, and cuts a torn last
// record with --fix. It cuts nothing else: records after damage may be
// acknowledged grants, and dropping them silently could let two holders share
// a key, so damage is reported and left for a person to repair.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "aof/log_reader.h"
#include "aof/mapped_file.h"

namespace {

constexpr const char* kUsage =
    "Usage: lockd-check-aof [--fix] <file.aof>\n"
    "       lockd-check-aof -h or --help\n"
    "\n"
    "Checks that every record of a lockd append-only file is whole and valid.\n"
    "With --fix, a torn last record (the file ends inside a record or inside a\n"
    "MULTI unit) is cut off; damage anywhere else is only reported.\n";

// Cuts the file to `length` bytes and makes the cut durable.
bool Cut(int fd, const std::string& path, size_t length) {
  if (ftruncate(fd, static_cast<off_t>(length)) != 0) {
    fmt::print(stderr, "Failed to truncate AOF {}: {}\n", path, std::strerror(errno));
    return false;
  }
  if (fsync(fd) != 0) {
    fmt::print(stderr, "Failed to sync AOF {} after truncating it: {}\n", path,
               std::strerror(errno));
    return false;
  }
  return true;
}

int Check(const std::string& path, bool fix) {
  using lockd::aof::LogReader;
  const int fd = open(path.c_str(), (fix ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    fmt::print(stderr, "Cannot open AOF {}: {}\n", path, std::strerror(errno));
    return 1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fmt::print(stderr, "Cannot read AOF {}: {}\n", path, std::strerror(errno));
    close(fd);
    return 1;
  }
  if (!S_ISREG(st.st_mode)) {
    fmt::print(stderr, "Cannot read AOF {}: not a regular file\n", path);
    close(fd);
    return 1;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  lockd::aof::LogCheck check;
  {
    lockd::aof::MappedFile file;
    if (int error = file.Map(fd, size); error != 0) {
      fmt::print(stderr, "Cannot map AOF {}: {}\n", path, std::strerror(error));
      close(fd);
      return 1;
    }
    check = lockd::aof::CheckLog(file.data());
  }

  fmt::print("AOF analyzed: filename={}, size={}, ok_up_to={}, diff={}\n", path, size,
             check.valid_end, size - check.valid_end);
  int code = 1;
  switch (check.result) {
    case LogReader::Result::kEnd:
    case LogReader::Result::kRecord:
      fmt::print("AOF {} is valid\n", path);
      code = 0;
      break;
    case LogReader::Result::kTruncated:
      if (!fix) {
        fmt::print("AOF {} has a torn last record at byte offset {}: use --fix to cut it\n", path,
                   check.valid_end);
      } else if (Cut(fd, path, check.valid_end)) {
        fmt::print("Successfully truncated AOF {} to {} bytes\n", path, check.valid_end);
        code = 0;
      }
      break;
    case LogReader::Result::kDamaged:
      fmt::print("AOF {} is damaged at byte offset {}: {}\n", path, check.error_offset,
                 check.error);
      if (fix) {
        fmt::print(
            "Refusing to cut {} bytes: the damage is not a torn last record; restore the file "
            "from a backup or cut it by hand at offset {}\n",
            size - check.valid_end, check.error_offset);
      }
      break;
  }
  close(fd);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  bool fix = false;
  bool options_done = false;
  std::string path;
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!options_done && (arg == "-h" || arg == "--help")) {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (!options_done && arg == "--fix") {
      fix = true;
    } else if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && arg.size() > 1 && arg[0] == '-') {
      fmt::print(stderr, "Unknown option '{}'\n{}", arg, kUsage);
      return 1;
    } else {
      path = arg;
      ++files;
    }
  }
  if (files != 1) {
    fmt::print(stderr, "{}\n{}", files == 0 ? "No AOF file given" : "Give exactly one AOF file",
               kUsage);
    return 1;
  }
  return Check(path, fix);
}
