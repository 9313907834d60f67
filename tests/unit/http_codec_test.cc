// The HTTP/JSON listener's codec: requests read one at a time (pipelined,
// chunked, split anywhere), the bounds that refuse hostile input before it
// is stored, and the JSON and percent-encoding helpers; plus the bucket
// counts /metrics exposes.
#include <doctest/doctest.h>

#include <string>

#include "aof/log_writer.h"
#include "cmd/command_stats.h"
#include "http/http_codec.h"

namespace lockd::http {
namespace {

using Result = HttpRequestReader::Result;

std::string Post(std::string_view body, std::string_view extra = "") {
  return "POST /v1/acquire HTTP/1.1\r\nHost: x\r\n" + std::string(extra) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST_CASE("http codec: pipelined requests come one at a time") {
  HttpRequestReader reader(1024);
  std::string input = Post("{\"a\":1}") + "GET /v1/fence?key=k HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t used = 0;
  REQUIRE(reader.Read(input, &used) == Result::kRequest);
  CHECK(reader.request().method == HTTP_POST);
  CHECK(reader.request().url == "/v1/acquire");
  CHECK(reader.request().body == "{\"a\":1}");
  CHECK(reader.request().keep_alive);
  CHECK(used < input.size());
  std::string_view rest = std::string_view(input).substr(used);
  REQUIRE(reader.Read(rest, &used) == Result::kRequest);
  CHECK(reader.request().method == HTTP_GET);
  CHECK(reader.request().url == "/v1/fence?key=k");
  CHECK(reader.request().body.empty());
  CHECK(used == rest.size());
}

TEST_CASE("http codec: a request split at every byte") {
  HttpRequestReader reader(1024);
  std::string input = Post("{\"key\":\"k\"}", "Authorization: Bearer pw\r\nConnection: close\r\n");
  for (size_t i = 0; i + 1 < input.size(); ++i) {
    size_t used = 0;
    REQUIRE(reader.Read(std::string_view(input).substr(i, 1), &used) == Result::kNeedMore);
    CHECK(used == 1);
  }
  size_t used = 0;
  REQUIRE(reader.Read(std::string_view(input).substr(input.size() - 1), &used) ==
          Result::kRequest);
  CHECK(reader.request().body == "{\"key\":\"k\"}");
  CHECK(reader.request().authorization == "Bearer pw");
  CHECK(!reader.request().keep_alive);
}

TEST_CASE("http codec: chunked bodies are decoded and bounded") {
  HttpRequestReader reader(10);
  size_t used = 0;
  std::string chunked =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  REQUIRE(reader.Read(chunked, &used) == Result::kRequest);
  CHECK(reader.request().body == "abcde");

  HttpRequestReader small(10);
  std::string big = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
                    "8\r\n12345678\r\n";
  CHECK(small.Read(big, &used) == Result::kBodyTooLarge);

  HttpRequestReader broken(10);
  CHECK(broken.Read("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &used) ==
        Result::kBadRequest);
}

TEST_CASE("http codec: a huge Content-Length is refused before its body") {
  HttpRequestReader reader(1024 * 1024);
  size_t used = 0;
  CHECK(reader.Read("POST / HTTP/1.1\r\nContent-Length: 10737418240\r\n\r\n{", &used) ==
        Result::kBodyTooLarge);
}

TEST_CASE("http codec: a header flood is refused") {
  HttpRequestReader reader(1024);
  size_t first = 0;
  Result r = reader.Read("GET / HTTP/1.1\r\n", &first);
  for (int i = 0; i < 10000 && r == Result::kNeedMore; ++i) {
    std::string line = "X-" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
    size_t used = 0;
    r = reader.Read(line, &used);
  }
  CHECK(r == Result::kHeadersTooLarge);
}

TEST_CASE("http codec: Expect: 100-continue is reported once, before the body") {
  HttpRequestReader reader(1024);
  size_t used = 0;
  std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  CHECK(reader.Read(head, &used) == Result::kHeadersReady);
  CHECK(reader.Read("{", &used) == Result::kNeedMore);
  CHECK(reader.Read("}", &used) == Result::kRequest);
}

TEST_CASE("http codec: JsonQuote writes valid JSON for any bytes") {
  CHECK(JsonQuote("plain") == "\"plain\"");
  CHECK(JsonQuote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(JsonQuote(std::string("\n\x01", 2)) == "\"\\u000a\\u0001\"");
  CHECK(JsonQuote("h\xc3\xa9") == "\"h\xc3\xa9\"");                  // valid UTF-8 kept
  CHECK(JsonQuote("\xff\xc3") == "\"\\u00ff\\u00c3\"");              // invalid bytes escaped
  CHECK(JsonQuote("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");  // a surrogate is not UTF-8
}

TEST_CASE("http codec: percent-decoding") {
  std::string out;
  CHECK(PercentDecode("a%2Fb+c", true, &out));
  CHECK(out == "a/b c");
  CHECK(PercentDecode("a+b", false, &out));
  CHECK(out == "a+b");
  CHECK(!PercentDecode("a%2", true, &out));
  CHECK(!PercentDecode("%zz", true, &out));
}

TEST_CASE("metrics: cumulative bucket counts") {
  LatencyHistogram h;
  h.Record(5);
  h.Record(90);
  h.Record(5000);
  CHECK(h.CountAtMost(10) == 1);
  CHECK(h.CountAtMost(100) == 2);
  CHECK(h.CountAtMost(1'000'000) == 3);

  aof::SyncLatency sync;
  sync.Record(50);
  sync.Record(300);
  sync.Record(5'000'000);  // past every bound: only in +Inf
  aof::SyncLatency::Snapshot s = sync.Read();
  CHECK(s.at_most[0] == 1);  // <= 100 us
  CHECK(s.at_most[2] == 2);  // <= 500 us
  CHECK(s.at_most[aof::SyncLatency::kBuckets - 1] == 2);
  CHECK(s.count == 3);
  CHECK(s.sum_micros == 5'000'350);
}

}  // namespace
}  // namespace lockd::http
