// The listener side of the HTTP server: binding, the accept loop (with the connection
// limit), the registry of live connections and graceful shutdown. Connections
// themselves are sessions (session_impl.h); handlers run on the WorkerPool.
#include "backend/http/server.h"
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/ssl.h>

#include "backend/http/session.h"
#include "backend/http/worker_pool.h"

namespace leasefs::backend::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;

// Pause after a failed accept (e.g. out of file descriptors) before trying again.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

auto use_awaitable_ec(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  std::string text = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return text + ":" + std::to_string(endpoint.port());
}

sdk::Result<tcp::endpoint> parse_listen(std::string_view listen) {
  auto bad = [&](std::string_view why) {
    return sdk::invalid_argument("invalid listen address \"" + std::string(listen) +
                                 "\": " + std::string(why));
  };
  std::string_view host;
  std::string_view port_text;
  if (listen.starts_with('[')) {
    std::size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad("expected [address]:port");
    }
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("put an IPv6 address in brackets");
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::ranges::all_of(port_text, [](char c) { return c >= '0' && c <= '9'; })) {
    return bad("port must be a number");
  }
  unsigned long port = std::stoul(std::string(port_text));
  if (port > 65535) return bad("port out of range");
  asio::ip::address address;
  if (host.empty()) {
    address = asio::ip::address_v4::any();
  } else if (host == "localhost") {
    address = asio::ip::address_v4::loopback();
  } else {
    error_code ec;
    address = asio::ip::make_address(std::string(host), ec);
    if (ec) return bad("host must be an IP address or localhost");
  }
  return tcp::endpoint(address, static_cast<std::uint16_t>(port));
}

sdk::Status check_readable(std::string_view what, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return sdk::Status(sdk::Code::kInvalidArgument, "cannot read tls " + std::string(what) + " \"" +
                                                        path + "\": " + std::strerror(errno));
  }
  std::fclose(file);
  return {};
}

sdk::Result<std::unique_ptr<ssl::context>> make_tls_context(const TlsOptions& tls) {
  int min_version = 0;
  if (tls.min_version == "1.2") {
    min_version = TLS1_2_VERSION;
  } else if (tls.min_version == "1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    return sdk::invalid_argument("tls min_version must be \"1.2\" or \"1.3\", not \"" +
                                 tls.min_version + "\"");
  }
  if (auto status = check_readable("cert_file", tls.cert_file); !status.ok()) {
    return sdk::error(status);
  }
  if (auto status = check_readable("key_file", tls.key_file); !status.ok()) {
    return sdk::error(status);
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, min_version) != 1) {
    return sdk::internal_error("cannot set the minimum TLS version");
  }
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  error_code ec;
  context->use_certificate_chain_file(tls.cert_file, ec);
  if (ec) {
    return sdk::invalid_argument("tls cert_file \"" + tls.cert_file +
                                 "\" holds no usable PEM certificate: " + ec.message());
  }
  context->use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) {
    return sdk::invalid_argument("tls key_file \"" + tls.key_file +
                                 "\" holds no private key matching cert_file \"" + tls.cert_file +
                                 "\": " + ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return sdk::invalid_argument("tls key_file \"" + tls.key_file +
                                 "\" does not match cert_file \"" + tls.cert_file + "\"");
  }
  return context;
}

}  // namespace

// Owns the I/O threads, the acceptor, the worker pool and the registry of live
// connections. Lock order: shutdown_mutex_ before mutex_.
class Server::Impl final : public SessionHost {
 public:
  Impl(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~Impl() { shutdown(std::chrono::milliseconds(0)); }

  sdk::Status start();
  void shutdown(std::chrono::milliseconds grace);
  std::uint16_t port() const { return port_; }
  const std::string& address() const { return address_; }

  // SessionHost.
  const ServerOptions& options() const override { return options_; }
  const Handler& handler() const override { return handler_; }
  WorkerPool& workers() override { return *workers_; }
  void session_ended(std::uint64_t id) override;

 private:
  asio::awaitable<void> accept_loop();
  void start_session(tcp::socket socket);

  ServerOptions options_;
  Handler handler_;
  std::unique_ptr<ssl::context> tls_;
  std::unique_ptr<asio::io_context> io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_guard_;
  std::optional<tcp::acceptor> acceptor_;         // used on its strand only
  std::optional<asio::steady_timer> slot_timer_;  // the acceptor's wait for a free slot
  std::unique_ptr<WorkerPool> workers_;
  std::vector<std::thread> io_threads_;
  std::uint16_t port_ = 0;
  std::string address_;

  std::mutex shutdown_mutex_;
  bool started_ = false;    // start() succeeded; guarded by shutdown_mutex_
  bool shut_down_ = false;  // guarded by shutdown_mutex_

  std::mutex mutex_;
  std::condition_variable sessions_changed_;
  std::unordered_map<std::uint64_t, std::weak_ptr<SessionBase>> sessions_;  // by mutex_
  std::uint64_t next_session_id_ = 0;                                       // by mutex_
  bool draining_ = false;        // by mutex_: shutdown has begun
  bool accept_waiting_ = false;  // by mutex_: the acceptor waits for a free slot
  bool io_stopped_ = false;      // by mutex_: nothing may be posted any more
};

sdk::Status Server::Impl::start() {
  auto endpoint = parse_listen(options_.listen);
  if (!endpoint) return endpoint.error();
  if (options_.body_limit == 0 || options_.max_connections == 0) {
    return sdk::Status(sdk::Code::kInvalidArgument,
                       "body_limit and max_connections must be positive");
  }
  if (options_.read_timeout.count() <= 0 || options_.write_timeout.count() <= 0 ||
      options_.idle_timeout.count() <= 0) {
    return sdk::Status(sdk::Code::kInvalidArgument, "server timeouts must be positive");
  }
  if (options_.tls) {
    auto context = make_tls_context(*options_.tls);
    if (!context) return context.error();
    tls_ = std::move(*context);
  }
  std::size_t cores = std::max<std::size_t>(std::thread::hardware_concurrency(), 1);
  std::size_t io_threads = options_.io_threads != 0 ? options_.io_threads : cores;
  std::size_t workers =
      options_.workers != 0 ? options_.workers : std::max<std::size_t>(8, 4 * cores);

  io_ = std::make_unique<asio::io_context>(static_cast<int>(io_threads));
  acceptor_.emplace(asio::make_strand(*io_));
  error_code ec;
  auto fail = [&](std::string_view step) {
    return sdk::Status(
        sdk::Code::kUnavailable,
        "cannot " + std::string(step) + " on " + format_endpoint(*endpoint) + ": " + ec.message());
  };
  if (acceptor_->open(endpoint->protocol(), ec); ec) return fail("open a socket");
  if (acceptor_->set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return fail("set SO_REUSEADDR");
  }
  if (acceptor_->bind(*endpoint, ec); ec) return fail("listen");
  if (acceptor_->listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  port_ = acceptor_->local_endpoint(ec).port();
  if (ec) return fail("read the bound port");

  auto url_address = endpoint->address();
  if (url_address.is_unspecified()) {
    url_address = url_address.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                                      : asio::ip::address(asio::ip::address_v4::loopback());
  }
  address_ = std::string(tls_ ? "https://" : "http://") +
             format_endpoint(tcp::endpoint(url_address, port_));

  workers_ = std::make_unique<WorkerPool>(workers, options_.max_queued);
  slot_timer_.emplace(acceptor_->get_executor());
  work_guard_.emplace(io_->get_executor());
  asio::co_spawn(acceptor_->get_executor(), accept_loop(), asio::detached);
  io_threads_.reserve(io_threads);
  for (std::size_t i = 0; i < io_threads; ++i) {
    io_threads_.emplace_back([this] {
      for (;;) {
        try {
          io_->run();
          return;
        } catch (...) {
          // A handler threw; the connection it served is gone, the others go on.
        }
      }
    });
  }
  std::lock_guard lock(shutdown_mutex_);
  started_ = true;
  return {};
}

asio::awaitable<void> Server::Impl::accept_loop() {
  error_code ec;
  for (;;) {
    for (;;) {  // wait for a free connection slot
      {
        std::lock_guard lock(mutex_);
        if (draining_) co_return;
        accept_waiting_ = sessions_.size() >= options_.max_connections;
        if (!accept_waiting_) break;
      }
      slot_timer_->expires_at(asio::steady_timer::time_point::max());
      co_await slot_timer_->async_wait(use_awaitable_ec(ec));
    }
    tcp::socket socket = co_await acceptor_->async_accept(
        asio::any_io_executor(asio::make_strand(*io_)), use_awaitable_ec(ec));
    if (ec) {
      if (!acceptor_->is_open()) co_return;
      slot_timer_->expires_after(kAcceptRetryDelay);
      co_await slot_timer_->async_wait(use_awaitable_ec(ec));
      continue;
    }
    start_session(std::move(socket));
  }
}

void Server::Impl::start_session(tcp::socket socket) {
  error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // reset before we got to it
  socket.set_option(tcp::no_delay(true), ec);
  std::uint64_t id = 0;
  bool draining = false;
  {
    std::lock_guard lock(mutex_);
    id = next_session_id_++;
    draining = draining_;
  }
  std::shared_ptr<SessionBase> session =
      tls_
          ? make_tls_session(*this, id, std::move(socket), *tls_, format_endpoint(remote), draining)
          : make_plain_session(*this, id, std::move(socket), format_endpoint(remote), draining);
  {
    std::lock_guard lock(mutex_);
    sessions_.emplace(id, session);
  }
  session->start();
}

void Server::Impl::session_ended(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
  if (accept_waiting_ && !io_stopped_) {
    accept_waiting_ = false;
    asio::post(acceptor_->get_executor(), [this] { slot_timer_->cancel(); });
  }
  sessions_changed_.notify_all();
}

void Server::Impl::shutdown(std::chrono::milliseconds grace) {
  std::lock_guard once(shutdown_mutex_);
  if (shut_down_ || !started_) return;
  shut_down_ = true;
  auto deadline = std::chrono::steady_clock::now() + grace;

  // 1. Stop accepting; new connections are refused from here on.
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    for (auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  auto closed = std::make_shared<std::promise<void>>();
  asio::post(acceptor_->get_executor(), [this, closed] {
    error_code ec;
    acceptor_->close(ec);
    slot_timer_->cancel();
    closed->set_value();
  });
  closed->get_future().wait_for(std::chrono::seconds(5));  // the I/O threads never block

  // 2. Close idle connections, let busy ones finish their response, up to `grace`.
  for (auto& session : live) session->drain();
  live.clear();
  {
    std::unique_lock lock(mutex_);
    sessions_changed_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
    io_stopped_ = true;
  }

  // 3. Stop the I/O threads, then the workers (waiting for running handlers), then
  // destroy what is left: suspended sessions go with the io_context, closing sockets.
  work_guard_.reset();
  io_->stop();
  for (auto& thread : io_threads_) thread.join();
  io_threads_.clear();
  workers_->stop();
  slot_timer_.reset();
  acceptor_.reset();
  io_.reset();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

sdk::Result<std::unique_ptr<Server>> Server::start(ServerOptions options, Handler handler) {
  if (!handler) return sdk::invalid_argument("server needs a request handler");
  try {
    auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
    if (auto status = impl->start(); !status.ok()) return sdk::error(std::move(status));
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("cannot start the HTTP server: ") + e.what());
  }
}

std::uint16_t Server::port() const {
  return impl_->port();
}

std::string Server::address() const {
  return impl_->address();
}

void Server::shutdown(std::chrono::milliseconds grace) {
  impl_->shutdown(grace);
}

}  // namespace leasefs::backend::http
