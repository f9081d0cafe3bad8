// Internal to backend/http (includes Asio): what the listener and a connection know of
// each other. A session is one accepted connection serving requests until it closes;
// its Beast code lives in session_impl.h and is compiled once per stream type
// (plain_session.cc, tls_session.cc) so the two heavy instantiations build in parallel.
#pragma once

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp misses it under C++2b

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "backend/http/server.h"
#include "backend/http/worker_pool.h"

namespace leasefs::backend::http {

// The server as its sessions see it. Implemented by Server::Impl, which outlives every
// session (sessions die with the io_context at the latest).
class SessionHost {
 public:
  virtual const ServerOptions& options() const = 0;
  virtual const Handler& handler() const = 0;
  virtual WorkerPool& workers() = 0;
  // Called once from each session's destructor, on whatever thread destroys it.
  virtual void session_ended(std::uint64_t id) = 0;

 protected:
  ~SessionHost() = default;
};

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  SessionBase(SessionHost& host, std::uint64_t id) : host_(host), id_(id) {}
  virtual ~SessionBase() { host_.session_ended(id_); }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // Starts serving on the connection's strand. Call once, after registering the session.
  virtual void start() = 0;
  // Asks the connection to close after its current response, and at once if it is idle
  // or has not started a request. Thread-safe.
  virtual void drain() = 0;

 protected:
  SessionHost& host_;

 private:
  const std::uint64_t id_;
};

// A session over an accepted socket (whose executor is the connection's strand).
// `draining` starts it already draining (accepted while shutdown began).
std::shared_ptr<SessionBase> make_plain_session(SessionHost& host, std::uint64_t id,
                                                boost::asio::ip::tcp::socket socket,
                                                std::string remote_address, bool draining);
std::shared_ptr<SessionBase> make_tls_session(SessionHost& host, std::uint64_t id,
                                              boost::asio::ip::tcp::socket socket,
                                              boost::asio::ssl::context& tls,
                                              std::string remote_address, bool draining);

}  // namespace leasefs::backend::http
