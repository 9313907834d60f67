// The HTTP/1.1 side of the HTTP/JSON listener, with no sockets and no
// commands: HttpRequestReader turns bytes into requests with http-parser
// (keep-alive, pipelining, chunked bodies), one request at a time, and the
// Render* functions write responses. JSON is read with simdjson and written
// with fmt (JsonQuote escapes a string).
//
// Bounds: the start line and headers together stay under http-parser's 80
// KiB, a body over the reader's limit is refused before it is stored, and
// only the headers the API reads are kept, so one connection holds at most
// ~1 MiB whatever it sends.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "lockd/resp.h"

namespace lockd::http {

struct Request {
  http_method method = HTTP_GET;
  std::string url;  // as sent: path and query, percent-encoded
  std::string authorization;
  bool expect_continue = false;
  bool keep_alive = true;
  std::string body;
  void Clear();
};

class HttpRequestReader {
 public:
  enum class Result {
    kNeedMore,      // every byte given was read; the request is not complete
    kRequest,       // request() is complete; the bytes after it are not read
    kHeadersReady,  // headers of a request that expects 100-continue are read
    kBodyTooLarge,  // the body passes the limit (close after the 413)
    kHeadersTooLarge,
    kBadRequest,  // malformed; error() says why (close after the 400)
  };

  explicit HttpRequestReader(size_t max_body);
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Reads from `input`; *consumed says how many bytes were used. After
  // kRequest, call again (after taking request()) with the rest.
  Result Read(std::string_view input, size_t* consumed);
  const Request& request() const { return request_; }
  const char* error() const { return error_; }
  // Bytes of a request that is not complete yet have been read.
  bool in_request() const { return in_request_; }

 private:
  static int OnMessageBegin(http_parser* p);
  static int OnUrl(http_parser* p, const char* at, size_t len);
  static int OnHeaderField(http_parser* p, const char* at, size_t len);
  static int OnHeaderValue(http_parser* p, const char* at, size_t len);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t len);
  static int OnMessageComplete(http_parser* p);
  void EndHeader();

  http_parser parser_;
  http_parser_settings settings_;
  size_t max_body_;
  Request request_;
  std::string field_;   // the header name being read, lower-cased
  std::string value_;   // its value, when it is one the API reads
  bool in_value_ = false;
  bool keep_value_ = false;
  bool complete_ = false;
  bool in_request_ = false;
  bool headers_done_ = false;
  bool continue_reported_ = false;
  bool too_large_ = false;
  const char* error_ = "";
};

// "HTTP/1.1 <status> <reason>" with Content-Length, Content-Type and, when
// !keep_alive, "Connection: close". `extra_headers` are whole lines, each
// ending in CRLF.
void RenderResponse(OutputBuffer* out, int status, std::string_view content_type,
                    std::string_view body, bool keep_alive, std::string_view extra_headers = {});
// {"error":"<message>"} with a JSON content type.
void RenderError(OutputBuffer* out, int status, std::string_view message, bool keep_alive,
                 std::string_view extra_headers = {});

// A JSON string literal, quotes included. Bytes that are not valid UTF-8
// are written as \u00XX escapes of their byte value, so the output is
// always valid JSON whatever the key or holder holds.
std::string JsonQuote(std::string_view s);

// Decodes %XX escapes (and '+' as a space, in query strings); false when an
// escape is malformed.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

}  // namespace lockd::http
