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
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lockd {

struct ParserLimits {
  size_t max_inline_len = 64 * 1024;         // inline lines and *N / $N header lines
  int64_t max_bulk_len = 512 * 1024 * 1024;  // proto-max-bulk-len
  int64_t max_multibulk_len = 2147483647;     // arguments per command (INT_MAX, as Redis 7)
  bool authenticated = true;                 // false: Redis's small pre-auth limits
  int64_t unauthenticated_max_multibulk_len = 10;
  int64_t unauthenticated_max_bulk_len = 16384;
};

enum class ParseStatus {
  kOk,        // one command parsed (args may be empty: an empty line, or *0)
  kNeedMore,  // incomplete: call again with the same bytes and more
  kError,     // protocol error: reply error() and close the connection
};

// Behaves as Redis 7's processInlineBuffer / processMultibulkBuffer do on the
// same bytes, odd corners included (see src/resp/request_parser.cc). Steady
// state allocates nothing: its vectors are reused from command to command.
class RequestParser {
 public:
  RequestParser();
  ~RequestParser();

  // Parses the command that starts at input[0]. After kNeedMore, call again
  // with the same unconsumed bytes plus what arrived since; the bytes may have
  // moved in memory. On kOk, `*args` holds the arguments (views into `input` or
  // into the parser's own storage, valid until the next Parse or Reset), and
  // consumed() tells how many bytes of `input` the command used; the parser is
  // then ready for the next command. On kNeedMore and kError `*args` is empty.
  ParseStatus Parse(std::string_view input, const ParserLimits& limits,
                    std::vector<std::string_view>* args);

  // A bulk at least this long is "big" (Redis's PROTO_MBULK_BIG_ARG).
  static constexpr int64_t kBigBulkLen = 32 * 1024;

  // After kNeedMore: while the parser waits for the data of a big bulk, the
  // number of bytes the command needs, from its first byte through the two
  // that end that bulk (the bulk starts at big_bulk_end() - length - 2);
  // otherwise 0. The caller may then make room for that many bytes at once,
  // so that a large argument is read in place instead of being copied as its
  // buffer grows. The figure comes from a length the client announced: room
  // for it may be reserved, but nothing may be written or copied in
  // proportion to it before the bytes arrive.
  size_t big_bulk_end() const {
    return stage_ == Stage::kBulkData && bulk_len_ >= kBigBulkLen
               ? pos_ + static_cast<size_t>(bulk_len_) + 2
               : 0;
  }

  size_t consumed() const { return consumed_; }
  // On kError: the full client-visible text from util/errors.h, error code
  // included, e.g. "ERR Protocol error: invalid bulk length" (no leading '-',
  // no CRLF), ready for ReplyWriter::Error.
  const std::string& error() const { return error_; }
  // Forgets a partially parsed command.
  void Reset();

 private:
  // Where the command being parsed stands. Every position is an offset from
  // the first byte of the command, because the caller may move its buffer.
  enum class Stage : uint8_t {
    kStart,           // nothing examined yet: the first byte decides the kind
    kInline,          // looking for the '\n' that ends an inline command
    kMultibulkCount,  // looking for the '\r' that ends "*N"
    kBulkLength,      // looking for the '\r' that ends "$N"
    kBulkData,        // waiting for bulk_len_ bytes and the two that follow
  };
  enum class LineStatus { kLine, kNeedMore, kError };

  ParseStatus ParseInline(std::string_view input, const ParserLimits& limits,
                          std::vector<std::string_view>* args);
  ParseStatus ParseMultibulk(std::string_view input, const ParserLimits& limits,
                             std::vector<std::string_view>* args);
  LineStatus FindHeaderLine(std::string_view input, const ParserLimits& limits,
                            const char* too_big_error, size_t* cr);
  LineStatus HiddenLine(std::string_view input, const ParserLimits& limits,
                        const char* too_big_error, size_t cr);
  ParseStatus Finish(const char* base, size_t end, std::vector<std::string_view>* args);
  ParseStatus Fail(std::string_view message);
  void ResetCommand();
  void ReleaseLargeStorage();

  Stage stage_ = Stage::kStart;
  size_t pos_ = 0;      // start of the line or bulk being read
  size_t scanned_ = 0;  // [pos_, scanned_) is known to hold no line end
  // A NUL byte came before the line end: Redis looks for line ends with
  // strchr, which stops there, so this line never ends.
  bool line_hidden_ = false;
  int64_t multibulk_remaining_ = 0;                   // bulks still expected
  int64_t bulk_len_ = 0;                              // length of the bulk in kBulkData
  std::vector<std::pair<size_t, size_t>> arg_spans_;  // (offset, length)
  std::string inline_storage_;                        // unquoted inline arguments, back to back
  size_t consumed_ = 0;
  std::string error_;
};

// A byte queue of fixed-size blocks, so that large replies never trigger a
// large reallocation and a partial socket write can be resumed. Owned by one
// connection. Bytes never move once appended (a pending write may point at
// them); a block is freed only when all of its bytes are consumed, and one
// such block is kept as a spare so a request/reply loop does not malloc.
class OutputBuffer {
 public:
  static constexpr size_t kBlockSize = 16 * 1024;

  OutputBuffer() = default;
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;
  ~OutputBuffer();

  void Append(std::string_view bytes);
  // Contiguous room at the tail: at least min(max, kBlockSize) bytes, at most
  // `max` (*available says how many). Starts a new block when the tail block
  // has less, so keep `max` small. After writing n bytes there, Commit(n)
  // before any other call. For small hot replies, written in place.
  char* Reserve(size_t max, size_t* available);
  void Commit(size_t n);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Calls visit(data, len) for each contiguous non-empty run of pending bytes,
  // in order, at most `max_runs` times (for writev).
  template <typename Visit>
  void ForEachRun(size_t max_runs, Visit&& visit) const {
    size_t runs = 0;
    for (const Block* b = head_block_; b != nullptr && runs < max_runs; b = b->next) {
      size_t start = (b == head_block_) ? head_ : 0;
      if (b->used > start) {
        visit(static_cast<const char*>(b->data + start), b->used - start);
        ++runs;
      }
    }
  }
  // Drops the first n pending bytes (they were written to the socket).
  void Consume(size_t n);
  void Clear();
  // Bytes consumed or cleared since the buffer was made: a pending byte's
  // position in the whole stream is consumed_total() + its offset.
  uint64_t consumed_total() const { return consumed_total_; }
  // Bytes held by blocks with pending bytes, for memory accounting (CLIENT
  // LIST omem); the one spare block is not counted.
  size_t capacity() const { return blocks_ * kBlockSize; }

 private:
  struct Block {
    Block* next;
    size_t used;
    char data[kBlockSize];
  };
  Block* NewBlock();
  void Recycle(Block* b);

  // A singly linked queue: head_block_ holds the oldest bytes, from
  // head_block_->data[head_]; only the tail block may be empty.
  Block* head_block_ = nullptr;
  Block* tail_block_ = nullptr;
  Block* spare_ = nullptr;
  size_t blocks_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t consumed_total_ = 0;
};

// Appends RESP replies. Protocol version 2 or 3 decides how nulls, maps, sets,
// doubles, booleans and verbatim strings are encoded; in RESP2 a map of n pairs
// is a flat array of 2n elements, a set an array, a double a bulk string.
class ReplyWriter {
 public:
  ReplyWriter(OutputBuffer* out, int protocol) : out_(out), protocol_(protocol) {}

  int protocol() const { return protocol_; }
  void set_protocol(int protocol) { protocol_ = protocol; }
  // Where replies go from now on (an HTTP connection renders them itself).
  void set_out(OutputBuffer* out) { out_ = out; }

  void Simple(std::string_view s);  // +OK; CR and LF in s become spaces
  // -ERR ...: `message` includes the error code ("ERR syntax error"); CR and LF
  // become spaces. A message that already starts with '-' gets no second one.
  void Error(std::string_view message);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  void Null();       // $-1 or _
  void NullArray();  // *-1 or _
  void Array(size_t n);
  void Map(size_t pairs);                // %n, or *2n in RESP2
  void Set(size_t n);                    // ~n, or *n in RESP2
  void Double(double v);                 // ,v or a bulk string in RESP2 (%.17g, inf, -inf)
  void Bool(bool v);                     // #t/#f, or :1/:0 in RESP2
  void Verbatim(std::string_view text);  // =N\r\ntxt:..., or a bulk string in RESP2
  void Raw(std::string_view bytes);      // pre-encoded bytes

 private:
  void Header(char type, int64_t n);
  void Line(char type, std::string_view s);

  OutputBuffer* out_;
  int protocol_;
};

}  // namespace lockd
