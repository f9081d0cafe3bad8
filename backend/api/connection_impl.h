// Internal to backend/api: the Beast code of a client connection, written once for
// both stream types. Each public call spawns one coroutine on the connection's own
// io_context and runs that io_context on the calling thread until the coroutine ends;
// every socket operation carries the request's deadline (beast::tcp_stream::expires_at),
// so run() returns by the deadline at the latest. Include only from plain_connection.cc
// and tls_connection.cc.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <exception>
#include <optional>
#include <type_traits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <poll.h>

#include "backend/api/connection.h"

// g++ 12 inlines Asio's recycling frame allocator into every coroutine and then
// mistakes its sized operator delete for a mismatch (a false positive in Boost 1.74's
// awaitable_frame_base); silenced for the coroutines defined in this header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace leasefs::backend::api {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

namespace connection_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

constexpr std::size_t kHeaderLimit = 64 * 1024;

inline auto use_awaitable_ec(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// Beast 1.74 takes boost::string_view.
inline beast::string_view to_beast(std::string_view text) {
  return {text.data(), text.size()};
}

inline Outcome failed(Failure kind, const error_code& ec, Deadline deadline) {
  Outcome outcome;
  bool late = ec == beast::error::timeout || std::chrono::steady_clock::now() >= deadline;
  outcome.failure = late ? Failure::kTimeout : kind;
  outcome.detail = ec.message();
  return outcome;
}

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace connection_detail

template <class Stream>
class BasicConnection final : public Connection {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  BasicConnection() requires(!kTls) : stream_(io_.get_executor()) {}
  BasicConnection(boost::asio::ssl::context& context, std::string host, bool verify) requires(kTls)
      : stream_(io_.get_executor(), context), host_(std::move(host)), verify_(verify) {}

  Outcome open(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
               Deadline deadline) override {
    return drive([&](Outcome& out) { return do_open(endpoints, deadline, out); });
  }

  Outcome exchange(const WireRequest& request, bool head, Deadline deadline) override {
    return drive([&](Outcome& out) { return do_exchange(request, head, deadline, out); });
  }

  bool stale() override {
    if (buffer_.size() > 0) return true;
    auto& socket = tcp().socket();
    if (!socket.is_open()) return true;
    pollfd descriptor{socket.native_handle(), POLLIN, 0};
    return ::poll(&descriptor, 1, 0) != 0;  // EOF, unsolicited bytes or an error
  }

 private:
  using error_code = connection_detail::error_code;
  template <class T>
  using awaitable = boost::asio::awaitable<T>;

  boost::beast::tcp_stream& tcp() { return boost::beast::get_lowest_layer(stream_); }

  // Runs one coroutine to its end on the calling thread.
  template <class MakeTask>
  Outcome drive(MakeTask make_task) {
    Outcome outcome;
    io_.restart();
    boost::asio::co_spawn(io_, make_task(outcome), [&outcome](std::exception_ptr error) {
      if (error) {
        outcome.failure = Failure::kExchange;
        outcome.detail = "internal error in the HTTP client";
      }
    });
    io_.run();
    return outcome;
  }

  awaitable<void> do_open(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints,
                          Deadline deadline, Outcome& out);
  awaitable<void> do_exchange(const WireRequest& wire, bool head, Deadline deadline, Outcome& out);

  boost::asio::io_context io_{1};  // before stream_: it must outlive it
  Stream stream_;
  boost::beast::flat_buffer buffer_;
  std::string host_;
  bool verify_ = true;
};

template <class Stream>
boost::asio::awaitable<void> BasicConnection<Stream>::do_open(
    const std::vector<boost::asio::ip::tcp::endpoint>& endpoints, Deadline deadline, Outcome& out) {
  using namespace connection_detail;
  error_code ec;
  tcp().expires_at(deadline);
  co_await tcp().async_connect(endpoints, use_awaitable_ec(ec));
  if (ec) {
    out = failed(Failure::kConnect, ec, deadline);
    co_return;
  }
  tcp().socket().set_option(asio::ip::tcp::no_delay(true), ec);
  if constexpr (kTls) {
    SSL* ssl = stream_.native_handle();
    bool ip = is_ip_literal(host_);
    if (!ip) SSL_set_tlsext_host_name(ssl, host_.c_str());  // SNI
    if (verify_) {
      int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str())
                   : SSL_set1_host(ssl, host_.c_str());
      if (set != 1) {
        out.failure = Failure::kTls;
        out.detail = "cannot check the certificate against host " + host_;
        co_return;
      }
    }
    tcp().expires_at(deadline);
    co_await stream_.async_handshake(asio::ssl::stream_base::client, use_awaitable_ec(ec));
    if (ec) {
      out = failed(Failure::kTls, ec, deadline);
      long verify_result = SSL_get_verify_result(ssl);
      if (out.failure == Failure::kTls && verify_result != X509_V_OK) {
        out.detail = std::string("certificate verify failed: ") +
                     X509_verify_cert_error_string(verify_result);
      }
    }
  }
}

template <class Stream>
boost::asio::awaitable<void> BasicConnection<Stream>::do_exchange(const WireRequest& wire,
                                                                  bool head, Deadline deadline,
                                                                  Outcome& out) {
  using namespace connection_detail;
  bhttp::request<bhttp::string_body> request;
  request.version(11);
  bhttp::verb verb = bhttp::string_to_verb(to_beast(wire.method));
  if (verb == bhttp::verb::unknown) {
    request.method_string(to_beast(wire.method));
  } else {
    request.method(verb);
  }
  request.target(to_beast(wire.target));
  for (const auto& [name, value] : *wire.headers) request.insert(name, value);
  if (!wire.body.empty() || wire.send_length) {
    request.body().assign(wire.body);
    request.content_length(wire.body.size());
  }

  error_code ec;
  tcp().expires_at(deadline);
  co_await bhttp::async_write(stream_, request, use_awaitable_ec(ec));
  if (ec) {
    out = failed(Failure::kExchange, ec, deadline);
    co_return;
  }

  // The header is read on its own first: Beast 1.74 loses the body_limit error when
  // eager parsing meets body bytes in the same read as the header.
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  for (;;) {
    parser.emplace();
    parser->header_limit(kHeaderLimit);
    parser->body_limit(kResponseBodyLimit);
    if (head) parser->skip(true);
    tcp().expires_at(deadline);
    co_await bhttp::async_read_header(stream_, buffer_, *parser, use_awaitable_ec(ec));
    if (ec) break;
    unsigned status = parser->get().result_int();
    if (status < 200 && status != 101) continue;  // an interim 1xx response has no body
    if (!parser->is_done()) {
      co_await bhttp::async_read(stream_, buffer_, *parser, use_awaitable_ec(ec));
    }
    break;
  }
  if (ec) {
    bool too_large = ec == bhttp::error::body_limit;
    out = failed(too_large ? Failure::kTooLarge : Failure::kExchange, ec, deadline);
    out.response_started = parser->got_some();
    co_return;
  }

  auto& message = parser->get();
  out.response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    auto name = field.name_string();
    auto value = field.value();
    out.response.headers.emplace_back(lower(std::string_view(name.data(), name.size())),
                                      std::string(value.data(), value.size()));
  }
  auto content_type = message[bhttp::field::content_type];
  out.response.content_type.assign(content_type.data(), content_type.size());
  out.response.body = std::move(message.body());
  out.response_started = true;
  out.keep_alive = message.keep_alive() && !parser->need_eof();
}

}  // namespace leasefs::backend::api

#pragma GCC diagnostic pop
