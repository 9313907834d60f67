// Fuzz target: the RESP request parser under arbitrary chunking.
//
// The same bytes are parsed twice: whole, and as a connection receives them,
// split at fuzzer-chosen points, with the unconsumed bytes moved to a fresh
// buffer before every call (the parser must not keep pointers into the
// input). Both must produce the same commands and stop with the same error
// at the same command offset. Size limits that count pending bytes (inline
// and header lines) legitimately depend on how the bytes arrived, so the
// exact comparison runs with limits the input cannot reach, and a second
// run with small limits checks only what chunking cannot change: the
// chunked commands are a prefix of the whole ones.
//
// Input layout (FuzzedDataProvider): the last bytes choose the limits and up
// to 16 split points; the rest is what the client sent.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "lockd/resp.h"

namespace lockd {
namespace {

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  bool error = false;
  std::string error_text;
  size_t error_at = 0;  // offset of the command that failed
  size_t pending = 0;   // bytes left unconsumed at the end (no error)
};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "resp_parser: %s\n", what);
  std::abort();
}

// Checks what Parse promises on kOk and kNeedMore, and records a command.
void Take(const RequestParser& parser, ParseStatus status, std::string_view input,
          const std::vector<std::string_view>& args, Outcome* out) {
  if (status == ParseStatus::kOk) {
    if (parser.consumed() == 0 || parser.consumed() > input.size()) Fail("bad consumed()");
    size_t bytes = 0;
    for (std::string_view a : args) bytes += a.size();
    if (bytes > parser.consumed()) Fail("arguments longer than the command");
    out->commands.emplace_back(args.begin(), args.end());
  } else {
    if (!args.empty()) Fail("arguments set without kOk");
    if (status == ParseStatus::kError && parser.error().empty()) Fail("error without text");
    if (status == ParseStatus::kNeedMore && parser.big_bulk_end() != 0 &&
        parser.big_bulk_end() <= input.size()) {
      Fail("big_bulk_end() within bytes already there");
    }
  }
}

Outcome ParseWhole(std::string_view data, const ParserLimits& limits) {
  Outcome out;
  RequestParser parser;
  std::vector<std::string_view> args;
  size_t offset = 0;
  while (true) {
    std::string_view input = data.substr(offset);
    ParseStatus status = parser.Parse(input, limits, &args);
    Take(parser, status, input, args, &out);
    if (status == ParseStatus::kNeedMore) break;
    if (status == ParseStatus::kError) {
      out.error = true;
      out.error_text = parser.error();
      out.error_at = offset;
      return out;
    }
    offset += parser.consumed();
  }
  out.pending = data.size() - offset;
  return out;
}

// As a connection does: bytes arrive in chunks; after each, commands are
// parsed until more is needed. The pending bytes are copied to a new
// buffer each time, so they move in memory between calls.
Outcome ParseChunked(std::string_view data, std::vector<size_t> cuts, const ParserLimits& limits) {
  Outcome out;
  RequestParser parser;
  std::vector<std::string_view> args;
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(data.size());
  std::string pending;
  size_t received = 0;
  size_t offset = 0;  // stream offset of pending[0]
  for (size_t cut : cuts) {
    if (cut < received) continue;
    pending.append(data.substr(received, cut - received));
    received = cut;
    while (true) {
      std::string moved = pending;  // a fresh allocation: the bytes move
      ParseStatus status = parser.Parse(moved, limits, &args);
      Take(parser, status, moved, args, &out);
      if (status == ParseStatus::kNeedMore) break;
      if (status == ParseStatus::kError) {
        out.error = true;
        out.error_text = parser.error();
        out.error_at = offset;
        return out;
      }
      offset += parser.consumed();
      pending.erase(0, parser.consumed());
    }
  }
  out.pending = pending.size();
  return out;
}

void Check(std::string_view data, const std::vector<size_t>& cuts, const ParserLimits& limits,
           bool exact) {
  Outcome whole = ParseWhole(data, limits);
  Outcome chunked = ParseChunked(data, cuts, limits);
  if (exact) {
    if (whole.commands != chunked.commands) Fail("chunking changed the commands");
    if (whole.error != chunked.error) Fail("chunking changed whether there is an error");
    if (whole.error && (whole.error_text != chunked.error_text || whole.error_at != chunked.error_at)) {
      Fail("chunking changed the error or where it is");
    }
    if (!whole.error && whole.pending != chunked.pending) Fail("chunking changed the pending bytes");
    return;
  }
  // Pending-byte limits trip no later when more bytes are pending at once,
  // and the whole parse sees at least as many: the chunked commands are a
  // prefix of the whole ones, and complete when the chunked run ends cleanly.
  if (chunked.commands.size() > whole.commands.size() ||
      !std::equal(chunked.commands.begin(), chunked.commands.end(), whole.commands.begin())) {
    Fail("chunked commands are not a prefix of the whole parse");
  }
  if (!chunked.error && whole.commands != chunked.commands) Fail("chunked run lost commands");
}

}  // namespace
}  // namespace lockd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using lockd::ParserLimits;
  FuzzedDataProvider in(bytes, size);
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  const size_t ncuts = in.ConsumeIntegralInRange<size_t>(0, 16);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < ncuts; ++i) cuts.push_back(in.ConsumeIntegral<uint16_t>());
  const std::string data = in.ConsumeRemainingBytesAsString();
  for (size_t& c : cuts) c = data.empty() ? 0 : c % (data.size() + 1);

  // Limits that depend only on what a header says are safe for the exact
  // comparison: bulk length, argument count, the pre-auth limits.
  ParserLimits limits;
  limits.max_inline_len = std::max<size_t>(limits.max_inline_len, data.size() + 1);
  if (flags & 1) limits.authenticated = false;
  if (flags & 2) limits.max_bulk_len = flags >> 4;
  if (flags & 4) limits.max_multibulk_len = flags >> 5;
  lockd::Check(data, cuts, limits, /*exact=*/true);

  // Small pending-byte limits: only the prefix property holds.
  limits.max_inline_len = 1 + (flags >> 3);
  lockd::Check(data, cuts, limits, /*exact=*/false);
  return 0;
}
