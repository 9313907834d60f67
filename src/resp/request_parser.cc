// RequestParser: Redis 7's processInlineBuffer and processMultibulkBuffer,
// made incremental. Each call resumes at the stage and offset where the last
// one stopped, so a command that trickles in byte by byte, or a 100 MB bulk
// in 64 KiB reads, costs O(bytes) in all. Nothing is sized from a count or a
// length the client sent, only from bytes that did arrive.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "lockd/resp.h"
#include "util/split_args.h"
#include "util/check.h"
#include "util/errors.h"
#include "util/strings.h"

namespace lockd {
namespace {

// Redis reserves argv for at most this many arguments up front and grows it
// as bulks actually arrive; we do the same, and drop anything much larger
// once the command is done so one huge command does not pin memory.
constexpr int64_t kMaxArgsReserve = 1024;
constexpr size_t kKeepInlineStorage = 128 * 1024;
// Commands with more arguments than this always take the general path.
constexpr int64_t kWholeMaxArgs = 64;


bool HasNul(std::string_view input, size_t from, size_t to) {
  return std::memchr(input.data() + from, '\0', to - from) != nullptr;
}

// The common case, a whole canonical command already in the buffer (what an
// unpipelined client sends in one write), in one pass straight into `args`:
// "*N\r" with N of 1 to kWholeMaxArgs, then each bulk as "$<len>\r", one
// more byte, the data and two more. Anything else (a zero, sign or leading
// zero, more arguments, a limit reached, a byte missing) returns false having
// changed nothing but `args`, and the general path decides from the first
// byte exactly as before. Tried once per command, at its first byte, so a
// command that arrives in pieces costs one extra scan of its first piece,
// not one per piece.
bool ParseWhole(std::string_view input, const ParserLimits& limits,
                std::vector<std::string_view>* args, size_t* consumed) {
  const char* const p = input.data();
  const size_t size = input.size();
  // "*N\r" plus the byte after the CR, which Redis needs but never reads.
  if (size < 4 || p[1] < '1' || p[1] > '9') return false;
  int64_t count = p[1] - '0';
  size_t i = 2;
  if (p[2] != '\r') {
    if (p[2] < '0' || p[2] > '9') return false;
    count = count * 10 + (p[2] - '0');
    i = 3;
    if (i + 1 >= size || p[i] != '\r') return false;
  }
  if (count > kWholeMaxArgs || count > limits.max_multibulk_len) return false;
  if (!limits.authenticated && count > limits.unauthenticated_max_multibulk_len) return false;
  // Past the header checks only "too long" is left to decide, so the two
  // length limits fold into one.
  const int64_t max_len = limits.authenticated ? limits.max_bulk_len
                                               : std::min(limits.max_bulk_len,
                                                          limits.unauthenticated_max_bulk_len);
  const char* const end = p + size;
  const char* q = p + i + 2;
  if (args->capacity() < static_cast<size_t>(count)) args->reserve(static_cast<size_t>(count));
  for (int64_t n = 0; n < count; ++n) {
    // As the general path's canonical header: '$', a digit, up to 11 in
    // all with no leading zero, then CR and one more byte.
    if (end - q < 4 || q[0] != '$') break;
    const unsigned first = static_cast<unsigned>(q[1] - '0');
    if (first > 9) break;
    int64_t len = first;
    const char* r = q + 2;
    if (first != 0) {
      const char* const digits_end = end - q > 12 ? q + 12 : end;
      for (unsigned d; r < digits_end && (d = static_cast<unsigned>(*r - '0')) <= 9; ++r) {
        len = len * 10 + d;
      }
    }
    if (end - r < 2 || *r != '\r' || len > max_len) break;
    const char* const data = r + 2;
    // The bulk and the two bytes after it, taken on trust as below.
    if (static_cast<size_t>(end - data) < static_cast<size_t>(len) + 2) break;
    args->emplace_back(data, static_cast<size_t>(len));
    q = data + len + 2;
  }
  if (args->size() != static_cast<size_t>(count)) {
    args->clear();
    return false;
  }
  *consumed = static_cast<size_t>(q - p);
  return true;
}

}  // namespace

RequestParser::RequestParser() = default;
RequestParser::~RequestParser() = default;

ParseStatus RequestParser::Parse(std::string_view input, const ParserLimits& limits,
                                 std::vector<std::string_view>* args) {
  args->clear();
  consumed_ = 0;
  ReleaseLargeStorage();
  if (stage_ == Stage::kStart) {
    if (input.empty()) return ParseStatus::kNeedMore;
    // As Redis: the first byte alone decides, once per command.
    if (input[0] == '*') {
      if (ParseWhole(input, limits, args, &consumed_)) return ParseStatus::kOk;
      stage_ = Stage::kMultibulkCount;
    } else {
      stage_ = Stage::kInline;
    }
  }
  // The caller promised the same bytes plus more; anything shorter than what
  // we already examined is a caller bug, not client input.
  LOCKD_CHECK(input.size() >= scanned_);
  if (stage_ == Stage::kInline) return ParseInline(input, limits, args);
  return ParseMultibulk(input, limits, args);
}

void RequestParser::Reset() {
  ResetCommand();
  ReleaseLargeStorage();
  consumed_ = 0;
  error_.clear();
}

// The last command's args may point into inline_storage_, so it is released
// only when they expire: at the next Parse or Reset.
void RequestParser::ReleaseLargeStorage() {
  if (inline_storage_.capacity() > kKeepInlineStorage) std::string().swap(inline_storage_);
}

void RequestParser::ResetCommand() {
  stage_ = Stage::kStart;
  pos_ = 0;
  scanned_ = 0;
  line_hidden_ = false;
  multibulk_remaining_ = 0;
  bulk_len_ = 0;
  if (arg_spans_.capacity() > static_cast<size_t>(kMaxArgsReserve)) {
    std::vector<std::pair<size_t, size_t>>().swap(arg_spans_);
  } else {
    arg_spans_.clear();
  }
}

ParseStatus RequestParser::ParseInline(std::string_view input, const ParserLimits& limits,
                                       std::vector<std::string_view>* args) {
  if (!line_hidden_) {
    const void* nl = std::memchr(input.data() + scanned_, '\n', input.size() - scanned_);
    const size_t end = nl != nullptr
                           ? static_cast<size_t>(static_cast<const char*>(nl) - input.data())
                           : input.size();
    // Redis finds the newline with strchr, which stops at a NUL: a line with
    // a NUL before its newline never ends, and only the size limit below
    // will close the connection.
    if (HasNul(input, scanned_, end)) {
      line_hidden_ = true;
    } else if (nl != nullptr) {
      size_t line_end = end;
      if (line_end > 0 && input[line_end - 1] == '\r') --line_end;
      if (!SplitArgs(input.substr(0, line_end), &inline_storage_, &arg_spans_)) {
        return Fail(errors::kUnbalancedQuotes);
      }
      return Finish(inline_storage_.data(), end + 1, args);
    } else {
      scanned_ = end;
    }
  }
  // Everything pending counts, as in Redis (sdslen(querybuf) - qb_pos).
  if (input.size() > limits.max_inline_len) return Fail(errors::kTooBigInline);
  return ParseStatus::kNeedMore;
}

// Finds the '\r' that ends the header line starting at pos_. Like Redis, it
// needs one byte after the '\r' but does not look at it, and it reports a
// line too long only when no '\r' was found at all.
RequestParser::LineStatus RequestParser::FindHeaderLine(std::string_view input,
                                                        const ParserLimits& limits,
                                                        const char* too_big_error, size_t* cr) {
  if (!line_hidden_) {
    const void* p = std::memchr(input.data() + scanned_, '\r', input.size() - scanned_);
    if (p == nullptr) {
      scanned_ = input.size();
    } else {
      scanned_ = static_cast<size_t>(static_cast<const char*>(p) - input.data());
      if (scanned_ + 2 <= input.size()) {
        *cr = scanned_;
        return LineStatus::kLine;
      }
      // Only when the size limit is at stake does it matter whether a NUL
      // hides this '\r' from Redis (see HiddenLine).
      if (input.size() - pos_ <= limits.max_inline_len || !HasNul(input, pos_, scanned_)) {
        return LineStatus::kNeedMore;
      }
      line_hidden_ = true;
    }
  }
  if (input.size() - pos_ > limits.max_inline_len) {
    Fail(too_big_error);
    return LineStatus::kError;
  }
  return LineStatus::kNeedMore;
}

// Called when the header line [pos_, cr) fails to parse, before reporting
// that: if it holds a NUL, Redis's strchr never reached the '\r', so the line
// has not ended and the result is FindHeaderLine's for no '\r'. Valid header
// lines hold only '*' or '$', '-' and digits, so the common path never pays
// for this scan.
RequestParser::LineStatus RequestParser::HiddenLine(std::string_view input,
                                                    const ParserLimits& limits,
                                                    const char* too_big_error, size_t cr) {
  if (!HasNul(input, pos_, cr)) return LineStatus::kLine;
  line_hidden_ = true;
  return FindHeaderLine(input, limits, too_big_error, &cr);
}

ParseStatus RequestParser::ParseMultibulk(std::string_view input, const ParserLimits& limits,
                                          std::vector<std::string_view>* args) {
  auto not_a_line = [](LineStatus s) {
    return s == LineStatus::kError ? ParseStatus::kError : ParseStatus::kNeedMore;
  };
  size_t cr = 0;

  if (stage_ == Stage::kMultibulkCount) {
    LineStatus line = FindHeaderLine(input, limits, errors::kTooBigMbulkCount, &cr);
    if (line != LineStatus::kLine) return not_a_line(line);
    int64_t count = 0;
    if (!ParseInt64(input.substr(1, cr - 1), &count) || count > limits.max_multibulk_len) {
      line = HiddenLine(input, limits, errors::kTooBigMbulkCount, cr);
      if (line != LineStatus::kLine) return not_a_line(line);
      return Fail(errors::kInvalidMultibulkLength);
    }
    if (!limits.authenticated && count > limits.unauthenticated_max_multibulk_len) {
      return Fail(errors::kUnauthMultibulkLength);
    }
    pos_ = scanned_ = cr + 2;
    // "*0" and "*-1" are empty commands, which the caller skips.
    if (count <= 0) return Finish(input.data(), pos_, args);
    multibulk_remaining_ = count;
    arg_spans_.reserve(static_cast<size_t>(std::min(count, kMaxArgsReserve)));
    stage_ = Stage::kBulkLength;
  }

  while (multibulk_remaining_ > 0) {
    if (stage_ == Stage::kBulkLength && !line_hidden_) {
      // The common header, "$<length>\r" plus one more byte, read in one
      // pass. Anything else (leading zeros, a sign, a long or incomplete
      // line, a length over a limit) takes the general path below, which
      // decides exactly as before.
      const char* p = input.data() + pos_;
      const size_t avail = input.size() - pos_;
      if (avail >= 4 && p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
        int64_t len = p[1] - '0';
        size_t i = 2;
        if (len != 0) {
          for (; i < avail && i < 12 && p[i] >= '0' && p[i] <= '9'; ++i) len = len * 10 + (p[i] - '0');
        }
        if (i + 1 < avail && p[i] == '\r' && len <= limits.max_bulk_len &&
            (limits.authenticated || len <= limits.unauthenticated_max_bulk_len)) {
          pos_ = scanned_ = pos_ + i + 2;
          bulk_len_ = len;
          stage_ = Stage::kBulkData;
        }
      }
    }
    if (stage_ == Stage::kBulkLength) {
      LineStatus line = FindHeaderLine(input, limits, errors::kTooBigBulkCount, &cr);
      if (line != LineStatus::kLine) return not_a_line(line);
      if (input[pos_] != '$') {
        line = HiddenLine(input, limits, errors::kTooBigBulkCount, cr);
        if (line != LineStatus::kLine) return not_a_line(line);
        return Fail(fmt::format(fmt::runtime(errors::kExpectedDollarFormat), input[pos_]));
      }
      int64_t len = 0;
      if (!ParseInt64(input.substr(pos_ + 1, cr - pos_ - 1), &len) || len < 0 ||
          len > limits.max_bulk_len) {
        line = HiddenLine(input, limits, errors::kTooBigBulkCount, cr);
        if (line != LineStatus::kLine) return not_a_line(line);
        return Fail(errors::kInvalidBulkLength);
      }
      if (!limits.authenticated && len > limits.unauthenticated_max_bulk_len) {
        return Fail(errors::kUnauthBulkLength);
      }
      pos_ = scanned_ = cr + 2;
      bulk_len_ = len;
      stage_ = Stage::kBulkData;
    }
    // Redis trusts the length: it waits for the bulk plus two bytes and skips
    // those two without checking that they are "\r\n". So do we, so that the
    // same bytes split into the same commands.
    if (input.size() - pos_ < static_cast<size_t>(bulk_len_) + 2) return ParseStatus::kNeedMore;
    arg_spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += static_cast<size_t>(bulk_len_) + 2;
    scanned_ = pos_;
    --multibulk_remaining_;
    stage_ = Stage::kBulkLength;
  }
  return Finish(input.data(), pos_, args);
}

ParseStatus RequestParser::Finish(const char* base, size_t end,
                                  std::vector<std::string_view>* args) {
  // The spans are arguments that did arrive, so this reservation is bounded
  // by the input, not by a count the client claimed.
  args->reserve(arg_spans_.size());
  for (const auto& [offset, length] : arg_spans_) args->emplace_back(base + offset, length);
  consumed_ = end;
  ResetCommand();
  return ParseStatus::kOk;
}

ParseStatus RequestParser::Fail(std::string_view message) {
  // As Redis's addReplyErrorFormat: no CR or LF may reach the reply (the
  // "got '%c'" byte can be either).
  error_.assign(message);
  std::replace(error_.begin(), error_.end(), '\r', ' ');
  std::replace(error_.begin(), error_.end(), '\n', ' ');
  ResetCommand();
  return ParseStatus::kError;
}

}  // namespace lockd
