// LogReader: frames the log into RESP arrays of bulk strings, decodes each
// with DecodeRecord and pairs MULTI with EXEC. Framing scans the headers byte
// by byte and skips payloads by their length, so reading costs a few
// comparisons per header and nothing per payload byte; argv entries point
// into the caller's data.
#include "aof/log_reader.h"

#include <fmt/format.h>

#include <cstdint>
#include <utility>

#include "util/check.h"

namespace lockd::aof {

namespace {

// The largest record has 5 elements (LOCK.GRANT, LOCK.EXTEND). Counts up to
// 16 are framed, so that a record with a wrong element count is reported by
// DecodeRecord with its name; a larger count cannot be a record, and is
// damage as soon as its digits pass 16.
constexpr uint64_t kMaxElements = 16;

// No field can be longer than this: the engine keeps key and holder lengths
// in at most 32 bits. A larger length is damage as soon as its digits pass it, so a
// length line is at most 10 digits long and no count is used before it has
// been checked against the bytes that are really there.
constexpr uint64_t kMaxBulkLength = UINT32_MAX;

// The outcome of framing one array: whole, cut short by the end of the data
// (every byte so far fits a well-formed array), or malformed.
enum class Frame { kWhole, kCut, kBad };

// Damage is rare; keeping its formatting out of line keeps the framing loop
// small.
template <typename... Args>
[[gnu::cold, gnu::noinline]] Frame Bad(std::string* error, fmt::format_string<Args...> format,
                                       Args&&... args) {
  *error = fmt::format(format, std::forward<Args>(args)...);
  return Frame::kBad;
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads a header line at data[*pos]: `type`, a decimal without a leading zero
// in [1, max] (or [0, max] with `allow_zero`), then CRLF. On kWhole, *pos is
// past the CRLF. Digits that can no longer end in range are bad at once, even
// when the data ends right after them: no longer line could fix them.
inline Frame ReadHeader(std::string_view data, char type, bool allow_zero, uint64_t max,
                        size_t* pos, uint64_t* value, std::string* error) {
  const char* const base = data.data();
  const char* const end = base + data.size();
  const char* p = base + *pos;
  if (p == end) return Frame::kCut;
  if (*p != type) return Bad(error, "expected '{}' at byte offset {}", type, p - base);
  if (++p == end) return Frame::kCut;
  const char* const digits = p;
  if (!IsDigit(*p)) return Bad(error, "expected a digit at byte offset {}", p - base);
  uint64_t v = static_cast<uint64_t>(*p++ - '0');
  if (v == 0) {
    if (!allow_zero) return Bad(error, "element count 0 at byte offset {}", digits - base);
    if (p != end && IsDigit(*p)) {
      return Bad(error, "leading zero in a length at byte offset {}", digits - base);
    }
  }
  // v <= max <= UINT32_MAX before each step, so it cannot overflow.
  while (v != 0 && p != end && IsDigit(*p)) {
    v = v * 10 + static_cast<uint64_t>(*p++ - '0');
    if (v > max) {
      return Bad(error, "{} above {} at byte offset {}",
                 type == '*' ? "element count" : "bulk length", max, digits - base);
    }
  }
  if (p == end) return Frame::kCut;
  if (*p != '\r') return Bad(error, "expected CRLF at byte offset {}", p - base);
  if (++p == end) return Frame::kCut;
  if (*p != '\n') return Bad(error, "expected CRLF at byte offset {}", p - 1 - base);
  *pos = static_cast<size_t>(p + 1 - base);
  *value = v;
  return Frame::kWhole;
}

// Frames the array at data[start]: `*<n>\r\n` then n times `$<len>\r\n`,
// <len> bytes, `\r\n`. On kWhole, *argv holds the n strings and *end is the
// offset just past the array.
Frame ReadArray(std::string_view data, size_t start, std::vector<std::string_view>* argv,
                size_t* end, std::string* error) {
  size_t pos = start;
  uint64_t count = 0;
  Frame frame = ReadHeader(data, '*', false, kMaxElements, &pos, &count, error);
  if (frame != Frame::kWhole) return frame;
  argv->clear();
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len = 0;
    frame = ReadHeader(data, '$', true, kMaxBulkLength, &pos, &len, error);
    if (frame != Frame::kWhole) return frame;
    // Any bytes may stand in a payload: a short one is simply cut.
    if (data.size() - pos < len) return Frame::kCut;
    argv->emplace_back(data.data() + pos, static_cast<size_t>(len));
    pos += static_cast<size_t>(len);
    if (pos == data.size()) return Frame::kCut;
    if (data[pos] != '\r') {
      return Bad(error, "expected CRLF after a {}-byte bulk string at byte offset {}", len, pos);
    }
    if (++pos == data.size()) return Frame::kCut;
    if (data[pos] != '\n') {
      return Bad(error, "expected CRLF after a {}-byte bulk string at byte offset {}", len,
                 pos - 1);
    }
    ++pos;
  }
  *end = pos;
  return Frame::kWhole;
}

}  // namespace

LogReader::LogReader(std::string_view data) : data_(data) { argv_.reserve(kMaxElements); }

LogReader::Result LogReader::Next(Record* record) {
  if (done_ != Result::kRecord) return done_;
  // A cut at valid_end_ loads cleanly: it is the end of the last record
  // outside a unit, which is also where the open MULTI, if any, starts.
  LOCKD_DCHECK(valid_end_ == (in_unit_ ? unit_start_ : offset_));

  const size_t start = offset_;
  if (start == data_.size()) {
    done_ = in_unit_ ? Result::kTruncated : Result::kEnd;
    return done_;
  }
  // Damage is reported at the start of the record it is in, whatever byte
  // is wrong; error_ names that byte when it is a framing error.
  auto damaged = [&] {
    error_offset_ = start;
    done_ = Result::kDamaged;
    return done_;
  };
  size_t end = 0;
  switch (ReadArray(data_, start, &argv_, &end, &error_)) {
    case Frame::kCut:
      done_ = Result::kTruncated;
      return done_;
    case Frame::kBad:
      return damaged();
    case Frame::kWhole:
      break;
  }
  if (!DecodeRecord(argv_, record, &error_)) return damaged();
  if (record->type == RecordType::kMulti) {
    if (in_unit_) {
      error_ = fmt::format("MULTI inside the unit opened at byte offset {}", unit_start_);
      return damaged();
    }
    in_unit_ = true;
    unit_start_ = start;
  } else if (record->type == RecordType::kExec) {
    if (!in_unit_) {
      error_ = "EXEC without MULTI";
      return damaged();
    }
    in_unit_ = false;
  }
  record_offset_ = start;
  offset_ = end;
  if (!in_unit_) valid_end_ = end;
  return Result::kRecord;
}

LogCheck CheckLog(std::string_view data) {
  LogReader reader(data);
  Record record;
  LogCheck check;
  LogReader::Result result;
  while ((result = reader.Next(&record)) == LogReader::Result::kRecord) ++check.records;
  check.result = result;
  check.valid_end = reader.valid_end();
  if (result == LogReader::Result::kDamaged) {
    check.error_offset = reader.error_offset();
    check.error = reader.error();
  }
  return check;
}

}  // namespace lockd::aof
