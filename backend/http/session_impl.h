// Internal to backend/http: the connection coroutine, written once for both stream
// types. One C++20 coroutine per connection runs on the connection's strand:
//   [TLS handshake] -> loop { wait for a request (idle timeout) -> read header and body
//   (read timeout, body limit, 100-continue) -> hand the request to the worker pool and
//   suspend -> resume on the strand with the response -> write it (write timeout) }.
// Include only from plain_session.cc and tls_session.cc (each instantiates one type).
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <array>
#include <chrono>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "backend/http/request_target.h"
#include "backend/http/response_rules.h"
#include "backend/http/session.h"

// g++ 12 inlines Asio's recycling frame allocator into every coroutine and then
// mistakes its sized operator delete for a mismatch (a false positive in Boost 1.74's
// awaitable_frame_base); silenced for the coroutines defined in this header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace leasefs::backend::http {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

namespace session_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

using RequestMessage = bhttp::request<bhttp::string_body>;

constexpr std::size_t kHeaderLimit = 64 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;
// After an error response the server stops sending and reads what the client still
// sends for this long before closing, so the client sees the response, not a reset.
constexpr std::chrono::milliseconds kLingerTimeout{500};
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

inline auto use_awaitable_ec(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// The status of the error response a failed request read gets, or 0 to close without
// one (timeouts, resets, the client going away).
inline int status_for_read_error(const error_code& ec) {
  if (ec == bhttp::error::body_limit) return 413;
  if (ec == bhttp::error::header_limit) return 431;
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
      ec != bhttp::error::need_more && ec != bhttp::error::need_buffer) {
    return 400;
  }
  return 0;
}

inline std::string_view read_error_message(int status) {
  switch (status) {
    case 413:
      return "http: request body too large";
    case 431:
      return "http: request header fields too large";
    default:
      return "http: malformed request";
  }
}

inline bool expects_continue(const RequestMessage& message) {
  auto expect = message[bhttp::field::expect];
  return message.version() >= 11 &&
         to_lower_ascii(std::string_view(expect.data(), expect.size())) == "100-continue";
}

inline sdk::Result<HttpRequest> to_http_request(RequestMessage&& message,
                                                const std::string& remote_address, bool tls) {
  HttpRequest request;
  auto method = message.method_string();
  request.method.assign(method.data(), method.size());
  auto target = message.target();
  request.target.assign(target.data(), target.size());
  auto decoded = decode_target(request.target);
  if (!decoded) return std::unexpected(decoded.error());
  request.path = std::move(decoded->path);
  request.query = std::move(decoded->query);
  request.headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    auto name = field.name_string();
    auto value = field.value();
    request.headers.emplace_back(to_lower_ascii(std::string_view(name.data(), name.size())),
                                 std::string(value.data(), value.size()));
  }
  request.body = std::move(message.body());
  request.remote_address = remote_address;
  request.tls = tls;
  request.version = message.version();
  return request;
}

inline bhttp::response<bhttp::string_body> to_message(HttpResponse response, unsigned version,
                                                      bool keep_alive, bool head) {
  if (response.status < 200 || response.status > 599) {
    response = error_response(500, "internal error");
  }
  bhttp::response<bhttp::string_body> message;
  message.version(version);
  message.result(static_cast<unsigned>(response.status));
  message.set(bhttp::field::cache_control, "no-store");
  // 204 and 304 carry neither a body nor Content-Length (RFC 9110, 8.6).
  bool bodyless = response.status == 204 || response.status == 304;
  if (!bodyless && !response.content_type.empty()) {
    message.set(bhttp::field::content_type, response.content_type);
  }
  for (const auto& [name, value] : response.headers) {
    if (is_allowed_response_header(name, value)) message.insert(name, value);
  }
  message.keep_alive(keep_alive);
  if (!bodyless) {
    message.content_length(response.body.size());
    if (!head) message.body() = std::move(response.body);
  }
  return message;
}

inline HttpResponse call_handler(const Handler& handler, HttpRequest& request) noexcept {
  try {
    return handler(request);
  } catch (...) {
    return error_response(500, "internal error");
  }
}

// Holds a suspended session's completion while its request waits for and runs on a
// worker; shared by the job and the submitter (which answers 503 if the queue is full).
template <class Completion>
struct PendingRequest {
  PendingRequest(Completion c, HttpRequest r) : completion(std::move(c)), request(std::move(r)) {}

  // Resumes the session on its own strand with `response`. Called exactly once.
  void complete(HttpResponse response) {
    auto executor = asio::get_associated_executor(completion);
    asio::post(executor, [c = std::move(completion), r = std::move(response)]() mutable {
      std::move(c)(std::move(r));
    });
  }

  Completion completion;
  HttpRequest request;
};

}  // namespace session_detail

// One connection. Everything except drain() runs on the connection's strand.
template <class Stream>
class Session final : public SessionBase {
 public:
  Session(SessionHost& host, std::uint64_t id, Stream stream, std::string remote_address,
          bool draining)
      : SessionBase(host, id),
        options_(host.options()),
        stream_(std::move(stream)),
        executor_(stream_.get_executor()),
        remote_address_(std::move(remote_address)),
        draining_(draining) {}

  void start() override {
    auto self = std::static_pointer_cast<Session>(shared_from_this());
    boost::asio::co_spawn(executor_, run(std::move(self)), boost::asio::detached);
  }

  void drain() override {
    boost::asio::post(executor_, [self = shared_from_this(), this] {
      draining_ = true;
      if (idle_) {
        session_detail::error_code ec;
        tcp().socket().cancel(ec);
      }
    });
  }

 private:
  using error_code = session_detail::error_code;
  template <class T>
  using awaitable = boost::asio::awaitable<T>;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  static awaitable<void> run(std::shared_ptr<Session> self) { co_await self->serve(); }

  boost::beast::tcp_stream& tcp() { return boost::beast::get_lowest_layer(stream_); }

  awaitable<void> serve();
  awaitable<bool> wait_for_request(bool first);
  awaitable<HttpResponse> dispatch(HttpRequest request);
  awaitable<bool> write_response(HttpResponse response, unsigned version, bool keep_alive,
                                 bool head);
  awaitable<void> close(bool linger);

  const ServerOptions& options_;
  Stream stream_;
  boost::asio::any_io_executor executor_;
  boost::beast::flat_buffer buffer_;
  std::string remote_address_;
  bool idle_ = false;  // waiting for the first byte of a request
  bool draining_;      // close after the current response
};

template <class Stream>
boost::asio::awaitable<void> Session<Stream>::serve() {
  using namespace session_detail;
  error_code ec;
  if (draining_) co_return;  // accepted while shutdown began; the destructor closes
  if constexpr (kTls) {
    tcp().expires_after(options_.read_timeout);
    co_await stream_.async_handshake(boost::asio::ssl::stream_base::server, use_awaitable_ec(ec));
    if (ec) co_return;
  }
  for (bool first = true;; first = false) {
    if (!co_await wait_for_request(first)) co_return;

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options_.body_limit);
    tcp().expires_after(options_.read_timeout);  // header and body together
    co_await bhttp::async_read_header(stream_, buffer_, parser, use_awaitable_ec(ec));
    if (!ec && !parser.is_done() && expects_continue(parser.get())) {
      co_await asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                                 use_awaitable_ec(ec));
    }
    if (!ec && !parser.is_done()) {
      co_await bhttp::async_read(stream_, buffer_, parser, use_awaitable_ec(ec));
    }
    if (ec) {
      int status = status_for_read_error(ec);
      if (status != 0) {
        co_await write_response(error_response(status, read_error_message(status)), 11,
                                /*keep_alive=*/false, /*head=*/false);
      }
      co_await close(/*linger=*/status != 0);
      co_return;
    }

    unsigned version = parser.get().version();
    bool head = parser.get().method() == bhttp::verb::head;
    bool keep_alive = parser.get().keep_alive();
    HttpResponse response;
    if (auto request = to_http_request(parser.release(), remote_address_, kTls)) {
      response = co_await dispatch(std::move(*request));
    } else {
      response = error_response(400, "http: malformed request target");
      keep_alive = false;
    }
    keep_alive = keep_alive && !draining_;  // shutdown may have begun meanwhile
    if (!co_await write_response(std::move(response), version, keep_alive, head)) co_return;
    if (!keep_alive) {
      co_await close(/*linger=*/false);
      co_return;
    }
  }
}

// Waits until a request starts arriving, bounded by the idle timeout (the read timeout
// on a new connection). False when the connection should end instead.
template <class Stream>
boost::asio::awaitable<bool> Session<Stream>::wait_for_request(bool first) {
  using namespace session_detail;
  if (draining_) co_return false;
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
  idle_ = true;
  tcp().expires_after(first ? options_.read_timeout : options_.idle_timeout);
  error_code ec;
  std::size_t n =
      co_await stream_.async_read_some(buffer_.prepare(kReadChunk), use_awaitable_ec(ec));
  idle_ = false;
  if (ec) co_return false;
  buffer_.commit(n);
  co_return true;
}

// Runs the handler inline when ServerOptions::run_inline says so; otherwise suspends
// until a worker has run it, answering 503 at once when the worker queue is full.
template <class Stream>
boost::asio::awaitable<HttpResponse> Session<Stream>::dispatch(HttpRequest request) {
  using namespace session_detail;
  SessionHost* host = &host_;
  if (host->options().run_inline && host->options().run_inline(request)) {
    co_return call_handler(host->handler(), request);
  }
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(HttpResponse)>(
      [host](auto completion, HttpRequest req) {
        using Pending = PendingRequest<decltype(completion)>;
        auto pending = std::make_shared<Pending>(std::move(completion), std::move(req));
        WorkerPool::Job job = [pending, host] {
          pending->complete(call_handler(host->handler(), pending->request));
        };
        if (!host->workers().try_submit(job)) {
          pending->complete(error_response(503, "server is overloaded"));
        }
      },
      asio::use_awaitable, std::move(request));
}

template <class Stream>
boost::asio::awaitable<bool> Session<Stream>::write_response(HttpResponse response,
                                                             unsigned version, bool keep_alive,
                                                             bool head) {
  using namespace session_detail;
  auto message = to_message(std::move(response), version, keep_alive, head);
  tcp().expires_after(options_.write_timeout);
  error_code ec;
  if (head) {
    bhttp::response_serializer<bhttp::string_body> serializer(message);
    co_await bhttp::async_write_header(stream_, serializer, use_awaitable_ec(ec));
  } else {
    co_await bhttp::async_write(stream_, message, use_awaitable_ec(ec));
  }
  co_return !ec;
}

// Half-closes, optionally reads and discards what the client still sends (so that it
// sees an error response rather than a reset), then closes. TLS close_notify is not
// sent: every response is length-delimited, so a truncation is detectable anyway.
template <class Stream>
boost::asio::awaitable<void> Session<Stream>::close(bool linger) {
  using namespace session_detail;
  error_code ec;
  tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  if (linger && !ec) {
    tcp().expires_after(kLingerTimeout);
    std::array<char, 4096> discard;
    for (;;) {
      co_await tcp().async_read_some(asio::buffer(discard), use_awaitable_ec(ec));
      if (ec) break;
    }
  }
  tcp().socket().close(ec);
}

}  // namespace leasefs::backend::http

#pragma GCC diagnostic pop
