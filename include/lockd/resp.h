// RESP: the request parser and the reply writer, with no sockets.
//
// RequestParser turns the bytes a client sent into commands (RESP2 multibulk
// or inline), one at a time, incrementally: after kNeedMore it resumes where
// it stopped instead of re-reading what it already checked. It never
// allocates from a length the client sent. ReplyWriter appends RESP2 or RESP3
// replies to an OutputBuffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lockd {

struct ParserLimits {
  size_t max_inline_len = 64 * 1024;              // inline lines and *N / $N header lines
  int64_t max_bulk_len = 512 * 1024 * 1024;       // proto-max-bulk-len
  int64_t max_multibulk_len = 1024 * 1024;        // arguments per command
  bool authenticated = true;                      // false: Redis's small pre-auth limits
  int64_t unauthenticated_max_multibulk_len = 10;
  int64_t unauthenticated_max_bulk_len = 16384;
};

enum class ParseStatus {
  kOk,        // one command parsed (args may be empty: an empty line, or *0)
  kNeedMore,  // incomplete: call again with the same bytes and more
  kError,     // protocol error: reply error() and close the connection
};

class RequestParser {
 public:
  RequestParser();
  ~RequestParser();

  // Parses the command that starts at input[0]. After kNeedMore, call again
  // with the same unconsumed bytes plus what arrived since; the bytes may have
  // moved in memory. On kOk, `*args` holds the arguments (views into `input` or
  // into the parser's own storage, valid until the next Parse or Reset), and
  // consumed() tells how many bytes of `input` the command used; the parser is
  // then ready for the next command.
  ParseStatus Parse(std::string_view input, const ParserLimits& limits,
                    std::vector<std::string_view>* args);

  size_t consumed() const { return consumed_; }
  // On kError: Redis's text, e.g. "Protocol error: invalid bulk length"
  // (no leading '-' or "ERR", no CRLF).
  const std::string& error() const { return error_; }
  // Forgets a partially parsed command.
  void Reset();

 private:
  ParseStatus ParseInline(std::string_view input, const ParserLimits& limits,
                          std::vector<std::string_view>* args);
  ParseStatus ParseMultibulk(std::string_view input, const ParserLimits& limits,
                             std::vector<std::string_view>* args);
  ParseStatus Fail(std::string message);

  // Multibulk progress, as offsets from the start of the command.
  size_t pos_ = 0;                  // next byte to examine
  int64_t multibulk_remaining_ = -1;  // -1: header not parsed yet
  int64_t bulk_len_ = -1;           // -1: expecting a $N header
  std::vector<std::pair<size_t, size_t>> arg_spans_;  // (offset, length)
  std::vector<std::string> inline_args_;              // unquoted inline arguments
  size_t consumed_ = 0;
  std::string error_;
};

// A byte queue of fixed-size blocks, so that large replies never trigger a
// large reallocation and a partial socket write can be resumed. Owned by one
// connection.
class OutputBuffer {
 public:
  static constexpr size_t kBlockSize = 16 * 1024;

  void Append(std::string_view bytes);
  // Room for up to `max` bytes at the tail (at least 1 byte, at most `max`);
  // after writing n bytes there, call Commit(n). For small hot replies.
  char* Reserve(size_t max, size_t* available);
  void Commit(size_t n);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Calls visit(data, len) for each contiguous run of pending bytes, in order,
  // up to `max_runs` runs (for writev).
  template <typename Visit>
  void ForEachRun(size_t max_runs, Visit&& visit) const {
    size_t runs = 0;
    for (size_t i = 0; i < blocks_.size() && runs < max_runs; ++i, ++runs) {
      const Block& b = *blocks_[i];
      size_t start = (i == 0) ? head_ : 0;
      if (b.used > start) visit(b.data + start, b.used - start);
    }
  }
  // Drops the first n pending bytes (they were written to the socket).
  void Consume(size_t n);
  void Clear();
  // Bytes held by blocks, for memory accounting (CLIENT LIST omem).
  size_t capacity() const { return blocks_.size() * kBlockSize; }

 private:
  struct Block {
    size_t used = 0;
    char data[kBlockSize];
  };
  std::deque<std::unique_ptr<Block>> blocks_;
  size_t head_ = 0;  // consumed bytes of blocks_.front()
  size_t size_ = 0;
};

// Appends RESP replies. Protocol version 2 or 3 decides how nulls, maps, sets,
// doubles, booleans and verbatim strings are encoded; in RESP2 a map of n pairs
// is a flat array of 2n elements, a set an array, a double a bulk string.
class ReplyWriter {
 public:
  ReplyWriter(OutputBuffer* out, int protocol) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int protocol) { protocol_ = protocol; }

  void Simple(std::string_view s);  // +OK; CR and LF in s become spaces
  // -ERR ...: `message` includes the error code ("ERR syntax error"); CR and LF
  // become spaces.
  void Error(std::string_view message);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  void Null();                       // $-1 or _
  void NullArray();                  // *-1 or _
  void Array(size_t n);
  void Map(size_t pairs);            // %n, or *2n in RESP2
  void Set(size_t n);                // ~n, or *n in RESP2
  void Double(double v);             // ,v or a bulk string in RESP2
  void Bool(bool v);                 // #t/#f, or :1/:0 in RESP2
  void Verbatim(std::string_view text);  // =N\r\ntxt:..., or a bulk string in RESP2
  void Raw(std::string_view bytes);  // pre-encoded bytes

 private:
  void Header(char type, int64_t n);

  OutputBuffer* out_;
  int protocol_;
};

}  // namespace lockd
