// HTTP/1.1 requests in (http-parser, one request per Read), responses out.
// See http_codec.h for the bounds.
#include "http/http_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>

namespace lockd::http {

namespace {

// Header names longer than this are none the API reads: they are not kept.
constexpr size_t kMaxKeptFieldName = 32;
// The values the API reads (a bearer password, "100-continue") are short;
// a longer one is cut, and then matches nothing.
constexpr size_t kMaxKeptValue = 8 * 1024;

HttpRequestReader* ReaderOf(http_parser* p) { return static_cast<HttpRequestReader*>(p->data); }

}  // namespace

void Request::Clear() {
  method = HTTP_GET;
  url.clear();
  authorization.clear();
  expect_continue = false;
  keep_alive = true;
  body.clear();
  // A large body's memory is not kept for the requests that follow.
  if (body.capacity() > 64 * 1024) std::string().swap(body);
}

HttpRequestReader::HttpRequestReader(size_t max_body) : max_body_(max_body) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = OnMessageBegin;
  settings_.on_url = OnUrl;
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
}

HttpRequestReader::Result HttpRequestReader::Read(std::string_view input, size_t* consumed) {
  *consumed = 0;
  if (complete_) {
    // The caller took the last request: the parser was paused after it.
    complete_ = false;
    request_.Clear();
    http_parser_pause(&parser_, 0);
  }
  if (input.empty()) return Result::kNeedMore;
  size_t n = http_parser_execute(&parser_, &settings_, input.data(), input.size());
  *consumed = n;
  http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_PAUSED && complete_) return Result::kRequest;
  if (too_large_) return Result::kBodyTooLarge;
  if (err == HPE_HEADER_OVERFLOW) return Result::kHeadersTooLarge;
  if (err != HPE_OK) {
    error_ = http_errno_description(err);
    return Result::kBadRequest;
  }
  if (headers_done_ && request_.expect_continue && !continue_reported_) {
    continue_reported_ = true;
    return Result::kHeadersReady;
  }
  return Result::kNeedMore;
}

int HttpRequestReader::OnMessageBegin(http_parser* p) {
  HttpRequestReader* r = ReaderOf(p);
  r->in_request_ = true;
  r->request_.Clear();
  r->field_.clear();
  r->value_.clear();
  r->in_value_ = false;
  r->keep_value_ = false;
  r->headers_done_ = false;
  r->continue_reported_ = false;
  return 0;
}

int HttpRequestReader::OnUrl(http_parser* p, const char* at, size_t len) {
  // Bounded by http-parser's header size limit, which counts the start line.
  ReaderOf(p)->request_.url.append(at, len);
  return 0;
}

void HttpRequestReader::EndHeader() {
  if (keep_value_) {
    if (field_ == "authorization") {
      request_.authorization = value_;
    } else if (field_ == "expect") {
      std::string lower = value_;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      request_.expect_continue = lower == "100-continue";
    }
  }
  field_.clear();
  value_.clear();
  in_value_ = false;
  keep_value_ = false;
}

int HttpRequestReader::OnHeaderField(http_parser* p, const char* at, size_t len) {
  HttpRequestReader* r = ReaderOf(p);
  if (r->in_value_) r->EndHeader();
  if (r->field_.size() <= kMaxKeptFieldName) {
    for (size_t i = 0; i < len && r->field_.size() <= kMaxKeptFieldName; ++i) {
      r->field_.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(at[i]))));
    }
  }
  return 0;
}

int HttpRequestReader::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  HttpRequestReader* r = ReaderOf(p);
  if (!r->in_value_) {
    r->in_value_ = true;
    r->keep_value_ = r->field_ == "authorization" || r->field_ == "expect";
  }
  if (r->keep_value_ && r->value_.size() < kMaxKeptValue) {
    r->value_.append(at, std::min(len, kMaxKeptValue - r->value_.size()));
  }
  return 0;
}

int HttpRequestReader::OnHeadersComplete(http_parser* p) {
  HttpRequestReader* r = ReaderOf(p);
  if (r->in_value_) r->EndHeader();
  r->request_.method = static_cast<http_method>(p->method);
  r->request_.keep_alive = http_should_keep_alive(p) != 0;
  r->headers_done_ = true;
  // A Content-Length past the limit is refused before any of the body is
  // read (0 and ULLONG_MAX: none was given).
  if (p->content_length != ULLONG_MAX && p->content_length > r->max_body_) {
    r->too_large_ = true;
    return -1;  // stops the parser (HPE_CB_headers_complete)
  }
  return 0;
}

int HttpRequestReader::OnBody(http_parser* p, const char* at, size_t len) {
  HttpRequestReader* r = ReaderOf(p);
  // A chunked body has no length up front: it is counted as it arrives.
  if (r->request_.body.size() + len > r->max_body_) {
    r->too_large_ = true;
    return -1;
  }
  r->request_.body.append(at, len);
  return 0;
}

int HttpRequestReader::OnMessageComplete(http_parser* p) {
  HttpRequestReader* r = ReaderOf(p);
  r->complete_ = true;
  r->in_request_ = false;
  // One request at a time: the next waits until this one is answered (it
  // may wait for a lock), as pipelined RESP commands do.
  http_parser_pause(p, 1);
  return 0;
}

namespace {

const char* Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

}  // namespace

void RenderResponse(OutputBuffer* out, int status, std::string_view content_type,
                    std::string_view body, bool keep_alive, std::string_view extra_headers) {
  out->Append(fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
                          status, Reason(status), content_type, body.size(), extra_headers,
                          keep_alive ? "" : "Connection: close\r\n"));
  out->Append(body);
}

void RenderError(OutputBuffer* out, int status, std::string_view message, bool keep_alive,
                 std::string_view extra_headers) {
  RenderResponse(out, status, "application/json", fmt::format("{{\"error\":{}}}", JsonQuote(message)),
                 keep_alive, extra_headers);
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (size_t n = Utf8SequenceLength(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      ++i;
    }
  }
  out.push_back('"');
  return out;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

}  // namespace lockd::http
