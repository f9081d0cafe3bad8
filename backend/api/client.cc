// Client::request around the wire: checks what it is given, keeps a small pool of
// keep-alive connections, resolves host names within the deadline, retries what is
// safe to retry, and turns failures into Status values naming the server. The Beast
// code is in the Connection implementations (connection_impl.h).
#include "backend/api/client.h"
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include "backend/api/connection.h"
#include "backend/api/server_address.h"

namespace leasefs::backend::api {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// First pause between attempts; it doubles each time and never runs past the deadline.
constexpr std::chrono::milliseconds kRetryBackoff{50};

bool is_token(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool is_request_target(std::string_view text) {
  return text.starts_with('/') && std::ranges::all_of(text, [](char c) {
           auto byte = static_cast<unsigned char>(c);
           return byte > 0x20 && byte != 0x7f;
         });
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "LIST" ||
         method == "DELETE";
}

std::string milliseconds_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

struct ResolveState {
  std::mutex mutex;
  std::condition_variable done_changed;
  bool done = false;
  int rc = 0;
  std::vector<tcp::endpoint> endpoints;
};

// IP literals need no lookup. getaddrinfo cannot be cancelled, so a name is looked up
// on a detached thread that the caller stops waiting for at the deadline.
sdk::Result<std::vector<tcp::endpoint>> resolve(const ServerAddress& address, Deadline deadline,
                                                std::chrono::milliseconds timeout) {
  error_code ec;
  auto ip = asio::ip::make_address(address.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(ip, address.port)};

  auto state = std::make_shared<ResolveState>();
  try {
    std::thread([state, host = address.host, port = address.port] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      hints.ai_flags = AI_NUMERICSERV;
      addrinfo* list = nullptr;
      int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
      std::vector<tcp::endpoint> endpoints;
      for (addrinfo* ai = rc == 0 ? list : nullptr; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        tcp::endpoint endpoint;
        if (ai->ai_addrlen > endpoint.capacity()) continue;
        std::memcpy(endpoint.data(), ai->ai_addr, ai->ai_addrlen);
        endpoint.resize(ai->ai_addrlen);
        endpoints.push_back(endpoint);
      }
      if (list != nullptr) ::freeaddrinfo(list);
      std::lock_guard lock(state->mutex);
      state->rc = rc;
      state->endpoints = std::move(endpoints);
      state->done = true;
      state->done_changed.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return sdk::error(sdk::Code::kUnavailable,
                      "cannot resolve " + address.host + " for " + address.url + ": " + e.what());
  }
  std::unique_lock lock(state->mutex);
  if (!state->done_changed.wait_until(lock, deadline, [&] { return state->done; })) {
    return sdk::error(sdk::Code::kDeadlineExceeded,
                      "request to " + address.url + " timed out after " +
                          milliseconds_text(timeout) + " (resolving " + address.host + ")");
  }
  if (state->rc != 0) {
    return sdk::error(sdk::Code::kUnavailable, "cannot resolve " + address.host + " for " +
                                                   address.url + ": " + ::gai_strerror(state->rc));
  }
  if (state->endpoints.empty()) {
    return sdk::error(sdk::Code::kUnavailable, "cannot resolve " + address.host + " for " +
                                                   address.url + ": no IPv4 or IPv6 address");
  }
  return std::move(state->endpoints);
}

sdk::Result<std::unique_ptr<ssl::context>> make_tls_context(const ClientOptions& options) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION) != 1) {
    return sdk::internal_error("cannot set the minimum TLS version");
  }
  error_code ec;
  if (options.tls_skip_verify) {
    context->set_verify_mode(ssl::verify_none, ec);
    return context;
  }
  context->set_verify_mode(ssl::verify_peer, ec);
  if (options.ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) return sdk::internal_error("cannot load the system CA certificates: " + ec.message());
    return context;
  }
  if (std::FILE* file = std::fopen(options.ca_file.c_str(), "rb")) {
    std::fclose(file);
  } else {
    return sdk::invalid_argument("cannot read ca_file \"" + options.ca_file +
                                 "\": " + std::strerror(errno));
  }
  context->load_verify_file(options.ca_file, ec);
  if (ec) {
    return sdk::invalid_argument("ca_file \"" + options.ca_file +
                                 "\" holds no usable PEM certificate: " + ec.message());
  }
  return context;
}

}  // namespace

std::string ApiResponse::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

class Client::Impl {
 public:
  Impl(ClientOptions options, ServerAddress address, std::unique_ptr<ssl::context> tls)
      : options_(std::move(options)), address_(std::move(address)), tls_(std::move(tls)) {}

  sdk::Result<ApiResponse> request(std::string_view method, std::string_view path_and_query,
                                   std::string_view body, std::string_view token,
                                   HeaderPairs extra_headers);
  const std::string& url() const { return address_.url; }

 private:
  std::unique_ptr<Connection> take_idle();
  void give_back(std::unique_ptr<Connection> connection);
  sdk::Status to_status(const Outcome& outcome) const;

  const ClientOptions options_;
  const ServerAddress address_;
  const std::unique_ptr<ssl::context> tls_;  // set for https
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
};

std::unique_ptr<Connection> Client::Impl::take_idle() {
  for (;;) {
    std::unique_ptr<Connection> connection;
    {
      std::lock_guard lock(mutex_);
      if (idle_.empty()) return nullptr;
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
    if (!connection->stale()) return connection;
  }
}

void Client::Impl::give_back(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
}

sdk::Status Client::Impl::to_status(const Outcome& outcome) const {
  switch (outcome.failure) {
    case Failure::kTimeout:
      return {sdk::Code::kDeadlineExceeded, "request to " + address_.url + " timed out after " +
                                                milliseconds_text(options_.timeout)};
    case Failure::kConnect:
      return {sdk::Code::kUnavailable, "cannot connect to " + address_.url + ": " + outcome.detail};
    case Failure::kTls:
      return {sdk::Code::kUnavailable,
              "TLS handshake with " + address_.url + " failed: " + outcome.detail};
    case Failure::kTooLarge:
      return {sdk::Code::kTooLarge, "response from " + address_.url + " is larger than " +
                                        std::to_string(kResponseBodyLimit >> 20) + " MiB"};
    case Failure::kExchange:
    case Failure::kNone:
      break;
  }
  return {sdk::Code::kUnavailable, "connection to " + address_.url + " failed: " + outcome.detail};
}

sdk::Result<ApiResponse> Client::Impl::request(std::string_view method,
                                               std::string_view path_and_query,
                                               std::string_view body, std::string_view token,
                                               HeaderPairs extra_headers) {
  if (!is_token(method)) {
    return sdk::invalid_argument("invalid HTTP method \"" + std::string(method) + "\"");
  }
  if (!is_request_target(path_and_query)) {
    return sdk::invalid_argument(
        "request path must start with \"/\" and hold no spaces or control characters");
  }
  if (!is_header_value(token)) return sdk::invalid_argument("token holds invalid characters");
  for (const auto& [name, value] : extra_headers) {
    if (!is_token(name) || !is_header_value(value)) {
      return sdk::invalid_argument("invalid request header \"" + name + "\"");
    }
  }

  HeaderPairs headers;
  headers.reserve(5 + extra_headers.size());
  headers.emplace_back("Host", address_.authority);
  headers.emplace_back("User-Agent", "leasefs/" + std::string(kClientVersion));
  headers.emplace_back("X-Vault-Request", "true");
  if (!token.empty()) headers.emplace_back("X-Vault-Token", std::string(token));
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  for (auto& header : extra_headers) headers.push_back(std::move(header));
  WireRequest wire{
      .method = method,
      .target = path_and_query,
      .body = body,
      .send_length = method == "POST" || method == "PUT" || method == "PATCH",
      .headers = &headers,
  };
  bool head = method == "HEAD";
  bool idempotent = is_idempotent(method);
  Deadline deadline = std::chrono::steady_clock::now() + options_.timeout;

  int attempt = 0;
  for (;;) {
    std::unique_ptr<Connection> connection = take_idle();
    bool reused = connection != nullptr;
    Outcome outcome;
    if (!connection) {
      auto endpoints = resolve(address_, deadline, options_.timeout);
      if (!endpoints) return sdk::error(endpoints.error());
      connection = tls_ ? make_tls_connection(*tls_, address_.host, !options_.tls_skip_verify)
                        : make_plain_connection();
      outcome = connection->open(*endpoints, deadline);
    }
    if (outcome.failure == Failure::kNone) outcome = connection->exchange(wire, head, deadline);
    if (outcome.failure == Failure::kNone) {
      if (outcome.keep_alive) give_back(std::move(connection));
      return std::move(outcome.response);
    }
    connection.reset();

    bool retryable = outcome.failure == Failure::kConnect ||
                     (outcome.failure == Failure::kExchange && idempotent);
    if (!retryable) return sdk::error(to_status(outcome));
    // A kept-alive connection that the server closed while it sat in the pool: try a
    // fresh one at once, without counting an attempt.
    if (reused && !outcome.response_started) continue;
    if (attempt >= options_.max_retries) return sdk::error(to_status(outcome));
    auto backoff = kRetryBackoff * (1 << std::min(attempt, 10));
    if (std::chrono::steady_clock::now() + backoff >= deadline) {
      return sdk::error(to_status(outcome));
    }
    std::this_thread::sleep_for(backoff);
    ++attempt;
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() = default;

sdk::Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  auto address = parse_server_address(options.address);
  if (!address) return sdk::error(address.error());
  if (options.timeout.count() <= 0) return sdk::invalid_argument("client timeout must be positive");
  if (options.max_retries < 0) return sdk::invalid_argument("max_retries must not be negative");
  try {
    std::unique_ptr<ssl::context> tls;
    if (address->tls) {
      auto context = make_tls_context(options);
      if (!context) return sdk::error(context.error());
      tls = std::move(*context);
    }
    auto impl = std::make_unique<Impl>(std::move(options), std::move(*address), std::move(tls));
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("cannot create the HTTP client: ") + e.what());
  }
}

sdk::Result<ApiResponse> Client::request(std::string_view method, std::string_view path_and_query,
                                         std::string_view body, std::string_view token,
                                         HeaderPairs extra_headers) {
  try {
    return impl_->request(method, path_and_query, body, token, std::move(extra_headers));
  } catch (const std::exception& e) {
    return sdk::internal_error(std::string("HTTP client failure: ") + e.what());
  }
}

const std::string& Client::address() const {
  return impl_->url();
}

sdk::Code code_for_http_status(int status) {
  switch (status) {
    case 400:
      return sdk::Code::kInvalidArgument;
    case 403:
      return sdk::Code::kPermissionDenied;
    case 404:
      return sdk::Code::kNotFound;
    case 405:
      return sdk::Code::kUnsupported;
    case 413:
      return sdk::Code::kTooLarge;
    case 429:
      return sdk::Code::kResourceExhausted;
    case 501:
      return sdk::Code::kUnimplemented;
    case 503:
      return sdk::Code::kUnavailable;
    default:
      return status >= 500 ? sdk::Code::kInternal : sdk::Code::kInvalidArgument;
  }
}

}  // namespace leasefs::backend::api
