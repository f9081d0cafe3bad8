// Internal to backend/api (includes Asio): one client connection to the server, plain
// or TLS, with its own io_context that the calling thread runs while it waits, so a
// request needs no background thread and every step ends by the request's deadline.
// The Beast code is in connection_impl.h, compiled once per stream type
// (plain_connection.cc, tls_connection.cc) so the two build in parallel.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "backend/api/client.h"

namespace leasefs::backend::api {

using Deadline = std::chrono::steady_clock::time_point;
using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

// One request as it goes on the wire; the views must outlive the exchange.
struct WireRequest {
  std::string_view method{};
  std::string_view target{};
  std::string_view body{};
  bool send_length = false;              // send Content-Length even for an empty body
  const HeaderPairs* headers = nullptr;  // all headers, Host included
};

// What went wrong, in terms the retry policy needs.
enum class Failure {
  kNone,
  kConnect,   // nothing was sent: safe to retry for any method
  kTls,       // handshake or certificate failure: not retried
  kExchange,  // failed after the request may have left: retried only if idempotent
  kTimeout,   // the deadline passed: not retried
  kTooLarge,  // response body over the limit: not retried
};

struct Outcome {
  Failure failure = Failure::kNone;
  std::string detail{};           // the OS or TLS reason, for the error message
  bool response_started = false;  // some response bytes arrived before the failure
  bool keep_alive = false;        // the connection may carry another request
  ApiResponse response{};
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Connects to the first endpoint that accepts, then does the TLS handshake (with
  // SNI and certificate checks) if this is a TLS connection.
  virtual Outcome open(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                       Deadline deadline) = 0;
  // Writes the request and reads the whole response. `head` for HEAD requests (the
  // response has no body).
  virtual Outcome exchange(const WireRequest& request, bool head, Deadline deadline) = 0;
  // True when an idle connection can no longer be used: the server closed it or sent
  // bytes nobody asked for.
  virtual bool stale() = 0;
};

std::unique_ptr<Connection> make_plain_connection();
// `host` is checked against the certificate unless `verify` is false.
std::unique_ptr<Connection> make_tls_connection(boost::asio::ssl::context& context,
                                                std::string host, bool verify);

}  // namespace leasefs::backend::api
