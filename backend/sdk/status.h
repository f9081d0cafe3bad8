// Errors as values. Every fallible function in leasefs returns Result<T>, which is
// std::expected<T, Status>. A Status carries a canonical code, which decides the HTTP
// status (backend/http) and the errno (fs/) in exactly one place each, and a message
// fit to show a user. Messages never contain secret values.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace leasefs::backend::sdk {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // malformed input from a user, client or file (HTTP 400)
  kNotFound,            // no such path, key, lease or token (404)
  kAlreadyExists,       // creating what exists, e.g. a second init (400)
  kPermissionDenied,    // ACL or rule says no (403)
  kUnsupported,         // operation not supported on this path (405)
  kConflict,            // check-and-set mismatch, stale state (400 in Vault's API)
  kFailedPrecondition,  // system not in a state that allows this, e.g. not initialized
  kSealed,              // the barrier is sealed (503 "Vault is sealed")
  kTooLarge,            // body or value over its limit (413)
  kResourceExhausted,   // quota or rate limit (429)
  kUnavailable,         // a dependency is down or unreachable (502/503)
  kDeadlineExceeded,    // a bounded wait ran out (504)
  kDataLoss,            // stored bytes failed an integrity check (500)
  kUnimplemented,       // a known feature that leasefs does not have (501)
  kInternal,            // a broken invariant or unexpected library failure (500)
};

// The lower-case name of a code ("invalid_argument"), for logs and JSON.
std::string_view code_name(Code code);

class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool ok() const { return code_ == Code::kOk; }

  // Returns a copy whose message is "context: message", keeping the code.
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <class T>
using Result = std::expected<T, Status>;

// The error side of a Result, to return from a function: `return error(Code::kNotFound,
// "no such lease")`.
inline std::unexpected<Status> error(Code code, std::string message) {
  return std::unexpected<Status>(std::in_place, code, std::move(message));
}
inline std::unexpected<Status> error(Status status) {
  return std::unexpected<Status>(std::move(status));
}

// Shorthands for the common codes.
inline std::unexpected<Status> invalid_argument(std::string m) {
  return error(Code::kInvalidArgument, std::move(m));
}
inline std::unexpected<Status> not_found(std::string m) {
  return error(Code::kNotFound, std::move(m));
}
inline std::unexpected<Status> internal_error(std::string m) {
  return error(Code::kInternal, std::move(m));
}

}  // namespace leasefs::backend::sdk

// Propagates the error of a Result-returning expression, otherwise yields nothing.
// Use: LEASEFS_TRY(storage.put(key, value));
#define LEASEFS_TRY(expr)                                         \
  do {                                                            \
    auto&& leasefs_try_result_ = (expr);                          \
    if (!leasefs_try_result_) [[unlikely]]                        \
      return ::std::unexpected(std::move(leasefs_try_result_).error()); \
  } while (false)
