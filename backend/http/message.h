// The plain request and response structs the HTTP layer hands to and takes from the
// request handler. No Asio or Beast here: backend/core builds on these alone.
#pragma once

#include <utility>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leasefs::backend::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// One request as the server received it. The method is passed through verbatim,
// including tokens HTTP does not define (Vault clients send "LIST").
struct HttpRequest {
  std::string method{};          // "GET", "PUT", "LIST", ... as the client sent it
  std::string target{};          // the raw request-target, "/v1/secret/data/a%20b?version=2"
  std::string path{};            // percent-decoded path without the query, "/v1/secret/data/a b"
  HeaderList query{};            // decoded query parameters, in order ("+" is a space)
  HeaderList headers{};          // names lower-cased, values as sent, in order
  std::string body{};            // the whole body (at most ServerOptions::body_limit)
  std::string remote_address{};  // "127.0.0.1:53122" or "[::1]:53122"
  bool tls = false;              // true when the connection is HTTPS
  unsigned version = 11;         // 10 for HTTP/1.0, 11 for HTTP/1.1

  // The first value of a header (pass the name in lower case), or "" when absent.
  std::string header(std::string_view lowercase_name) const;
  // The first value of a query parameter, or nullopt when absent.
  std::optional<std::string> query_value(std::string_view name) const;
};

// What the handler answers. The server adds Content-Length, Cache-Control: no-store and
// the Connection header; `headers` must not carry those framing headers (they are
// dropped), and a header with CR, LF or NUL in it is dropped too.
struct HttpResponse {
  int status = 200;  // 200..599; anything else is answered as 500
  std::string content_type = "application/json";
  std::string body{};
  HeaderList headers{};
};

// Called on a worker thread, never on an I/O thread; may block. Several calls run at
// once (one per worker), so it must be thread-safe. An exception it throws becomes a
// 500 with a generic message.
using Handler = std::function<HttpResponse(HttpRequest&)>;

}  // namespace leasefs::backend::http
