// The HTTP client that the CLI and the FUSE daemon use to talk to a Vault-compatible
// server (leasefs itself, Vault, OpenBao). Its one promise beyond HTTP: every call ends
// within the configured timeout (resolve, connect, TLS handshake, write and read all
// count), because a FUSE op waiting on it must never hang. Plain C++ header: Asio and
// Beast stay in backend/api's .cc files.
#pragma once

#include <utility>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"

namespace leasefs::backend::api {

// The value sent in User-Agent, "leasefs/<version>".
inline constexpr std::string_view kClientVersion = "0.1.0";
// Larger response bodies fail with Code::kTooLarge.
inline constexpr std::size_t kResponseBodyLimit = 64 * 1024 * 1024;

struct ClientOptions {
  // "http://127.0.0.1:8200", "https://vault.example.com:8200", "https://[::1]:8200";
  // without a port, 80 or 443. A trailing "/" is allowed, any other path is not.
  std::string address{};
  // PEM bundle of the CAs to trust for HTTPS; empty = the system's default CA paths.
  std::string ca_file{};
  // Accept any server certificate and name (for tests and first contact only).
  bool tls_skip_verify = false;
  // Bound on each request() call as a whole, retries included.
  std::chrono::milliseconds timeout{5000};
  // Extra attempts after a connection failure. A request that may already have reached
  // the server is retried only for idempotent methods (GET, HEAD, OPTIONS, LIST,
  // DELETE); one that failed to connect is retried for any method.
  int max_retries = 2;
  // Keep-alive connections kept open for reuse; 0 closes each after its response.
  std::size_t max_idle_connections = 8;
};

struct ApiResponse {
  int status = 0;
  std::string body{};
  std::string content_type{};
  std::vector<std::pair<std::string, std::string>> headers{};  // names lower-cased

  // The first value of a header (pass the name in lower case), or "" when absent.
  std::string header(std::string_view lowercase_name) const;
};

// The status code a Vault error answer stands for: 400 invalid argument, 403 permission
// denied, 404 not found, 405 unsupported, 413 too large, 429 resource exhausted, 501
// unimplemented, 503 unavailable; any other 5xx internal, any other 4xx invalid argument.
sdk::Code code_for_http_status(int status);

class Client {
 public:
  // Checks the options and loads the CA file; connects lazily. Errors: invalid_argument
  // for a malformed address, a non-positive timeout or an unreadable CA file (named).
  static sdk::Result<std::unique_ptr<Client>> create(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and returns the server's response, whatever its HTTP status (a
  // 404 or 500 is a response, not an error here). `method` is sent verbatim ("LIST" is
  // fine); `path_and_query` starts with "/" and is sent as given (already
  // percent-encoded). Sends X-Vault-Request: true, User-Agent, X-Vault-Token when
  // `token` is not empty, and Content-Type: application/json when there is a body.
  // Errors: kDeadlineExceeded when the timeout ran out (the message names the address
  // and the timeout); kUnavailable for connection, TLS and protocol failures (naming
  // the address and the OS or TLS reason); kTooLarge for a response body over
  // kResponseBodyLimit; kInvalidArgument for a malformed method, path or header.
  // Thread-safe: concurrent calls use separate connections.
  sdk::Result<ApiResponse> request(
      std::string_view method, std::string_view path_and_query, std::string_view body = {},
      std::string_view token = {},
      std::vector<std::pair<std::string, std::string>> extra_headers = {});

  // The server address, normalized ("http://127.0.0.1:8200").
  const std::string& address() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leasefs::backend::api
