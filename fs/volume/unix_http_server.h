// A small HTTP/1.1 server on a unix socket, for Docker's plugin protocol (Docker talks
// to plugins over /run/docker/plugins/NAME.sock). backend/http listens on TCP only;
// this is the same three layers at a smaller scale: a listener, a session (read with a
// timeout and a body limit -> handle -> write with a timeout, keep-alive) and a plain
// request handler. Boost.Asio and Beast stay inside unix_http_server.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <sys/types.h>

#include "backend/sdk/status.h"

namespace leasefs::fs::volume {

namespace sdk = backend::sdk;

struct UnixHttpRequest {
  std::string method{};  // "POST"
  std::string target{};  // "/VolumeDriver.Create"
  std::string body{};
};

struct UnixHttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body{};
};

// Called on the server's one I/O thread, one request at a time; may block (every
// request waits for it). An exception it throws becomes a 500.
using UnixHttpHandler = std::function<UnixHttpResponse(const UnixHttpRequest&)>;

struct UnixHttpOptions {
  std::string socket_path{};
  mode_t socket_mode = 0660;
  std::size_t body_limit = 1024 * 1024;
  // Bound on receiving one request once its first byte arrived, and on writing one
  // response; and how long a keep-alive connection may sit idle.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  // A body that is too large or not HTTP gets this content type and
  // {"Err":"<why>"}, the shape Docker's plugin client reads.
  std::string error_content_type = "application/json";
};

class UnixHttpServer {
 public:
  // Creates the socket's directory if needed, replaces a stale socket file (one nobody
  // accepts on), binds, sets the mode and starts the I/O thread. Errors: unavailable
  // when another process serves the socket or bind fails; invalid_argument when the
  // path exists and is not a socket.
  static sdk::Result<std::unique_ptr<UnixHttpServer>> start(UnixHttpOptions options,
                                                            UnixHttpHandler handler);
  // stop().
  ~UnixHttpServer();
  UnixHttpServer(const UnixHttpServer&) = delete;
  UnixHttpServer& operator=(const UnixHttpServer&) = delete;

  // Stops accepting, waits for the request being handled (if any), closes every
  // connection, joins the thread and removes the socket file. Idempotent; must not be
  // called from the handler.
  void stop();

  class Impl;

 private:
  explicit UnixHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace leasefs::fs::volume
