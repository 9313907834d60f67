// Fuzz target: the HTTP/JSON listener's request reader and JSON writer.
//
// The same bytes are read twice, as a connection reads them: whole, and
// split at fuzzer-chosen points. Both must yield the same requests (method,
// target, the headers the API keeps, body) and end the same way (waiting for
// more, or the same refusal). Every request must respect the reader's
// bounds: a body within the limit, a target within http-parser's header
// limit. Each target and body then goes through JsonQuote, whose output must
// be one valid JSON string (checked with simdjson) that decodes back to the
// input whenever the input is valid UTF-8; and through PercentDecode.
//
// Input layout (FuzzedDataProvider): the last bytes choose the body limit
// and up to 16 split points; the rest is what the client sent.
#include <fuzzer/FuzzedDataProvider.h>
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_codec.h"

namespace lockd {
namespace {

using http::HttpRequestReader;
using Result = HttpRequestReader::Result;

// http-parser's default HTTP_MAX_HEADER_SIZE, which counts the start line.
constexpr size_t kMaxHeaderBytes = 80 * 1024;

struct Seen {
  int method;
  std::string url, authorization, body;
  bool expect_continue, keep_alive;
  bool operator==(const Seen&) const = default;
};

struct Outcome {
  std::vector<Seen> requests;
  Result end = Result::kNeedMore;  // how reading stopped
};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "http_codec: %s\n", what);
  std::abort();
}

// Reads `chunks` one after the other, as a connection's reads deliver them.
Outcome ReadAll(const std::vector<std::string_view>& chunks, size_t max_body) {
  HttpRequestReader reader(max_body);
  Outcome out;
  for (std::string_view chunk : chunks) {
    while (!chunk.empty()) {
      size_t consumed = 0;
      Result r = reader.Read(chunk, &consumed);
      if (consumed > chunk.size()) Fail("consumed more than given");
      chunk.remove_prefix(consumed);
      if (r == Result::kRequest) {
        const http::Request& q = reader.request();
        if (q.body.size() > max_body) Fail("a body past the limit");
        if (q.url.size() > kMaxHeaderBytes) Fail("a target past the header limit");
        out.requests.push_back({static_cast<int>(q.method), q.url, q.authorization, q.body,
                                q.expect_continue, q.keep_alive});
        continue;
      }
      if (r == Result::kHeadersReady) continue;
      if (r == Result::kNeedMore) {
        if (!chunk.empty()) Fail("kNeedMore with bytes left unread");
        break;
      }
      if (r == Result::kBadRequest && reader.error()[0] == '\0') Fail("a refusal without a reason");
      out.end = r;  // a refusal: the connection closes after answering it
      return out;
    }
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  return simdjson::validate_utf8(s.data(), s.size());
}

void CheckQuote(std::string_view s) {
  static simdjson::dom::parser parser;
  std::string quoted = http::JsonQuote(s);
  simdjson::dom::element doc;
  if (parser.parse(quoted).get(doc)) Fail("JsonQuote wrote invalid JSON");
  std::string_view back;
  if (doc.get_string().get(back)) Fail("JsonQuote wrote something other than a string");
  if (ValidUtf8(s) && back != s) Fail("JsonQuote of valid UTF-8 does not decode back");
}

}  // namespace
}  // namespace lockd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lockd;
  FuzzedDataProvider fdp(data, size);
  static constexpr size_t kLimits[] = {0, 16, 1024, 1024 * 1024};
  const size_t max_body = kLimits[fdp.ConsumeIntegralInRange<size_t>(0, 3)];
  const size_t splits = fdp.ConsumeIntegralInRange<size_t>(0, 16);
  std::vector<size_t> cuts;
  for (size_t i = 0; i < splits; ++i) cuts.push_back(fdp.ConsumeIntegral<uint16_t>());
  const std::string input = fdp.ConsumeRemainingBytesAsString();

  const Outcome whole = ReadAll({input}, max_body);
  std::vector<std::string_view> chunks;
  size_t at = 0;
  for (size_t cut : cuts) {
    if (input.empty()) break;
    size_t len = cut % (input.size() - at + 1);
    chunks.push_back(std::string_view(input).substr(at, len));
    at += len;
  }
  chunks.push_back(std::string_view(input).substr(at));
  const Outcome split = ReadAll(chunks, max_body);
  if (!(whole.requests == split.requests)) Fail("split reads gave other requests");
  if (whole.end != split.end) Fail("split reads ended another way");

  for (const Seen& q : whole.requests) {
    CheckQuote(q.url);
    CheckQuote(q.body);
    std::string decoded;
    if (http::PercentDecode(q.url, true, &decoded) && decoded.size() > q.url.size()) {
      Fail("PercentDecode grew its input");
    }
  }
  CheckQuote(input.substr(0, 4096));
  return 0;
}
