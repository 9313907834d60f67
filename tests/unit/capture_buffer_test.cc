// CaptureBuffer: bytes come out as they went in, whatever the chunk
// boundaries, after partial drops and takes.
#include <doctest/doctest.h>

#include <string>

#include "aof/capture_buffer.h"

namespace lockd::aof {
namespace {

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i % 61);
  return s;
}

TEST_CASE("capture buffer: appends across chunks, drops and takes keep the byte order") {
  CaptureBuffer buf;
  std::string expect;
  // Pieces of every size around the chunk size, so appends split chunks.
  for (size_t n : {size_t{10}, CaptureBuffer::kChunkBytes - 5, size_t{7}, CaptureBuffer::kChunkBytes * 2 + 3, size_t{1}}) {
    std::string piece = Pattern(n, static_cast<char>('a' + n % 7));
    buf.Append(piece);
    expect += piece;
  }
  REQUIRE(buf.size() == expect.size());
  CHECK(buf.ToString() == expect);

  // A prefix read stops exactly at n.
  std::string prefix;
  buf.ForEachRun(CaptureBuffer::kChunkBytes + 3, [&](std::string_view run) { prefix.append(run); });
  CHECK(prefix == expect.substr(0, CaptureBuffer::kChunkBytes + 3));

  // Drops inside a chunk and across chunks.
  buf.DropPrefix(4);
  expect.erase(0, 4);
  CHECK(buf.ToString() == expect);
  buf.DropPrefix(CaptureBuffer::kChunkBytes + 100);
  expect.erase(0, CaptureBuffer::kChunkBytes + 100);
  CHECK(buf.size() == expect.size());
  CHECK(buf.ToString() == expect);

  // Take moves everything; appends start afresh.
  CaptureBuffer taken = buf.Take();
  CHECK(buf.empty());
  CHECK(taken.ToString() == expect);
  buf.Append("xyz");
  CHECK(buf.ToString() == "xyz");
  buf.DropPrefix(10);  // more than it holds
  CHECK(buf.empty());
  CHECK(buf.ToString().empty());
}

}  // namespace
}  // namespace lockd::aof
