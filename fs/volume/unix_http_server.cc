// The unix-socket HTTP server; see unix_http_server.h.
#include "fs/volume/unix_http_server.h"
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

// g++ 12 inlines Asio's recycling frame allocator into every coroutine and then
// mistakes its sized operator delete for a mismatch (a false positive in Boost 1.74, as
// in backend/http/session_impl.h).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace leasefs::fs::volume {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using local = asio::local::stream_protocol;
using Stream = beast::basic_stream<local>;

auto use_awaitable_ec(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// True when something accepts connections on the unix socket at `path`.
bool socket_in_use(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return connected;
}

sdk::Status prepare_socket_path(const std::string& path) {
  sockaddr_un probe{};
  if (path.empty() || path.size() >= sizeof(probe.sun_path)) {
    return sdk::Status(sdk::Code::kInvalidArgument,
                       "socket path \"" + path + "\" is empty or longer than " +
                           std::to_string(sizeof(probe.sun_path) - 1) + " bytes");
  }
  std::error_code fec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, fec);
  if (fec) {
    return sdk::Status(sdk::Code::kUnavailable,
                       "cannot create " + parent.string() + ": " + fec.message());
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    return sdk::Status(sdk::Code::kInvalidArgument, path + " exists and is not a socket");
  }
  if (socket_in_use(path)) {
    return sdk::Status(sdk::Code::kUnavailable, "another process serves " + path);
  }
  ::unlink(path.c_str());  // stale: left by a process that died
  return {};
}

std::string error_body(std::string_view message) {
  return nlohmann::json{{"Err", message}}.dump();
}

}  // namespace

class UnixHttpServer::Impl {
 public:
  Impl(UnixHttpOptions options, UnixHttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~Impl() { stop(); }

  sdk::Status start();
  void stop();

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(local::socket socket);
  UnixHttpResponse call_handler(const UnixHttpRequest& request);

  UnixHttpOptions options_;
  UnixHttpHandler handler_;
  asio::io_context io_{1};
  local::acceptor acceptor_{io_};
  std::thread thread_;
  bool bound_ = false;  // the socket file is ours to remove
  bool stopped_ = false;
};

sdk::Status UnixHttpServer::Impl::start() {
  if (auto status = prepare_socket_path(options_.socket_path); !status.ok()) return status;
  error_code ec;
  auto fail = [&](std::string_view step) {
    return sdk::Status(sdk::Code::kUnavailable, "cannot " + std::string(step) + " " +
                                                    options_.socket_path + ": " + ec.message());
  };
  if (acceptor_.open(local(), ec); ec) return fail("open a socket for");
  if (acceptor_.bind(local::endpoint(options_.socket_path), ec); ec) return fail("bind");
  bound_ = true;
  if (::chmod(options_.socket_path.c_str(), options_.socket_mode) != 0) {
    return sdk::Status(sdk::Code::kUnavailable,
                       "cannot chmod " + options_.socket_path + ": " + std::strerror(errno));
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen on");
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (...) {
        // A session threw; its connection is gone, the others go on.
      }
    }
  });
  return {};
}

asio::awaitable<void> UnixHttpServer::Impl::accept_loop() {
  for (;;) {
    error_code ec;
    local::socket socket = co_await acceptor_.async_accept(use_awaitable_ec(ec));
    if (ec) {
      if (!acceptor_.is_open()) co_return;
      continue;  // e.g. out of file descriptors; the next accept may succeed
    }
    asio::co_spawn(io_, session(std::move(socket)), asio::detached);
  }
}

UnixHttpResponse UnixHttpServer::Impl::call_handler(const UnixHttpRequest& request) {
  try {
    return handler_(request);
  } catch (const std::exception& e) {
    return UnixHttpResponse{.status = 500,
                            .content_type = options_.error_content_type,
                            .body = error_body(std::string("internal error: ") + e.what())};
  } catch (...) {
    return UnixHttpResponse{.status = 500,
                            .content_type = options_.error_content_type,
                            .body = error_body("internal error")};
  }
}

asio::awaitable<void> UnixHttpServer::Impl::session(local::socket socket) {
  Stream stream(std::move(socket));
  beast::flat_buffer buffer;
  error_code ec;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(options_.body_limit);
    parser.header_limit(64 * 1024);
    // The idle wait covers the whole request: Docker's client sends small bodies at once.
    stream.expires_after(buffer.size() > 0 ? options_.read_timeout : options_.idle_timeout);
    co_await bhttp::async_read(stream, buffer, parser, use_awaitable_ec(ec));
    bhttp::response<bhttp::string_body> response;
    bool keep_alive = false;
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        response.result(413);
        response.body() =
            error_body("request body over " + std::to_string(options_.body_limit) + " bytes");
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
                 ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        response.result(400);
        response.body() = error_body("malformed HTTP request: " + ec.message());
      } else {
        break;  // closed, reset or timed out: nobody to answer
      }
      response.set(bhttp::field::content_type, options_.error_content_type);
    } else {
      auto& message = parser.get();
      UnixHttpRequest request{.method = std::string(message.method_string()),
                              .target = std::string(message.target()),
                              .body = std::move(message.body())};
      UnixHttpResponse answer = call_handler(request);
      response.result(answer.status >= 200 && answer.status <= 599
                          ? static_cast<unsigned>(answer.status)
                          : 500u);
      response.set(bhttp::field::content_type, answer.content_type);
      response.body() = std::move(answer.body);
      keep_alive = message.keep_alive();
    }
    response.version(11);
    response.keep_alive(keep_alive);
    response.prepare_payload();
    stream.expires_after(options_.write_timeout);
    co_await bhttp::async_write(stream, response, use_awaitable_ec(ec));
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(local::socket::shutdown_send, ec);
  stream.close();
}

void UnixHttpServer::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    asio::post(io_, [this] {
      error_code ec;
      acceptor_.close(ec);
    });
    // Returns once the handler running now (if any) is done; suspended sessions are
    // destroyed with the io_context, closing their sockets.
    io_.stop();
    thread_.join();
  }
  error_code ec;
  acceptor_.close(ec);
  if (bound_) ::unlink(options_.socket_path.c_str());
}

UnixHttpServer::UnixHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UnixHttpServer::~UnixHttpServer() {
  stop();
}

void UnixHttpServer::stop() {
  impl_->stop();
}

sdk::Result<std::unique_ptr<UnixHttpServer>> UnixHttpServer::start(UnixHttpOptions options,
                                                                   UnixHttpHandler handler) {
  if (!handler) return sdk::invalid_argument("the unix socket server needs a handler");
  try {
    auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
    if (auto status = impl->start(); !status.ok()) return sdk::error(std::move(status));
    return std::unique_ptr<UnixHttpServer>(new UnixHttpServer(std::move(impl)));
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("cannot start the plugin socket server: ") + e.what());
  }
}

}  // namespace leasefs::fs::volume

#pragma GCC diagnostic pop
