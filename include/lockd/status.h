// Status: the result of an operation that can fail, as a value.
//
// An OK status holds nothing and costs one empty string; an error carries a
// human-readable message. Functions that can fail return Status (or take an
// out-parameter and return Status); no exception crosses a libuv callback.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace lockd {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}

  bool failed_ = false;
  std::string message_;
};

}  // namespace lockd
