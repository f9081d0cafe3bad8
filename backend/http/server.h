// The HTTP/1.1 listener of the leasefs server (plain or TLS). It owns sockets, parsing,
// timeouts, body limits and the worker pool, and hands each complete request to one
// blocking Handler as a plain struct; nothing above this layer sees Asio or Beast.
// Threading: `io_threads` run all socket I/O; the handler runs on a separate pool of
// `workers` threads (it may block on storage fsync) and its response is written back
// by the connection's I/O strand.
#pragma once

#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "backend/http/message.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::http {

struct TlsOptions {
  std::string cert_file{};          // PEM: the server certificate, then its chain
  std::string key_file{};           // PEM: the private key of the certificate
  std::string min_version = "1.2";  // "1.2" or "1.3"
};

struct ServerOptions {
  // "host:port" or "[v6addr]:port"; port 0 lets the kernel choose (see Server::port()).
  std::string listen = "127.0.0.1:8200";
  std::optional<TlsOptions> tls{};  // HTTPS when set, plain HTTP otherwise
  std::size_t body_limit = 32 * 1024 * 1024;
  // Bound on receiving one request (header and body), from its first byte; also the
  // bound on a new connection's first byte and on the TLS handshake.
  std::chrono::milliseconds read_timeout{30'000};
  // Bound on writing one response.
  std::chrono::milliseconds write_timeout{30'000};
  // How long a keep-alive connection may sit idle between requests.
  std::chrono::milliseconds idle_timeout{90'000};
  std::size_t io_threads = 0;  // 0 = the number of cores
  std::size_t workers = 0;     // 0 = max(8, 4 * cores)
  // Requests waiting for a worker; one more is answered 503 {"errors":["server is
  // overloaded"]}.
  std::size_t max_queued = 4096;
  // Open connections; at the limit the server stops accepting (new connections wait in
  // the kernel's backlog) until one closes.
  std::size_t max_connections = 4096;
  // Requests for which this returns true run on the I/O thread that read them instead
  // of going through the worker pool: for handlers known to be quick and non-blocking
  // (cached reads), the hand-off to a worker and back costs more than the work. Must
  // be cheap and thread-safe; empty = every request goes to the pool.
  std::function<bool(const HttpRequest&)> run_inline{};
};

class Server {
 public:
  // Binds, listens and starts the I/O and worker threads. Errors: invalid_argument for a
  // malformed listen address or option (naming it) and for an unreadable or mismatched
  // certificate or key (naming the file); unavailable when the address cannot be bound
  // (with the OS message, e.g. "Address already in use").
  static sdk::Result<std::unique_ptr<Server>> start(ServerOptions options, Handler handler);

  // Stops the server as shutdown(0ms) would, if shutdown() was not called.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (the kernel's choice when the listen port was 0). Thread-safe.
  std::uint16_t port() const;
  // The URL clients use: "http://127.0.0.1:8200", "https://[::1]:8443". Thread-safe.
  std::string address() const;

  // Stops accepting at once (new connections are refused), closes idle keep-alive
  // connections, lets requests in flight finish and their responses be written for up
  // to `grace`, then closes what is left and stops the threads. Handlers already
  // running are waited for even past `grace` (they are bounded by their own deadlines);
  // requests still queued for a worker at that point are dropped with their
  // connections. Idempotent; thread-safe; must not be called from the handler.
  void shutdown(std::chrono::milliseconds grace);

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leasefs::backend::http
