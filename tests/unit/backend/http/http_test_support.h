// Helpers for the HTTP server and client tests: a raw POSIX client that can misbehave
// on purpose (half requests, garbage, pipelining), a listener that never answers, a
// throwaway PKI made with the openssl command line, curl with a deadline, and a gate
// a test handler can block on. Every wait has a bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tests/support/process.h"

namespace leasefs::backend::http::testing {

using namespace std::chrono_literals;

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers, as received
  std::string body;
  // The value of a header (case-insensitive name), or "" when absent.
  std::string header(std::string_view name) const;
};

// A blocking TCP client over POSIX sockets whose reads all take a timeout.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port, const char* host = "127.0.0.1");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view data);
  // One response: headers, then a Content-Length body (none when `head` is true or for
  // 1xx/204/304). nullopt when the timeout passes or the connection ends first.
  std::optional<RawResponse> read_response(std::chrono::milliseconds timeout, bool head = false);
  // True when the server closes the connection (EOF or reset) within the timeout.
  bool wait_closed(std::chrono::milliseconds timeout);
  // True when no byte arrives and the connection stays open for `duration`.
  bool stays_silent(std::chrono::milliseconds duration);
  void close();

 private:
  // Appends what arrives to pending_; false on timeout, EOF or error.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool eof_ = false;
  std::string pending_;
};

// A socket that listens on 127.0.0.1 but never accepts or answers: connections
// complete in the kernel's backlog and then hang, like a wedged server.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A port on 127.0.0.1 where nothing listens (bound, read, released).
std::uint16_t unused_port();
// True when a TCP connection to 127.0.0.1:port is accepted by the kernel.
bool can_connect(std::uint16_t port);

// Certificates for 127.0.0.1, ::1 and localhost signed by a throwaway CA, plus a
// second unrelated CA and a certificate for another host name, all in `dir`.
struct TlsFiles {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string other_ca_cert;    // a CA that signed nothing the server uses
  std::string other_ca_key;     // does not match server_cert
  std::string wrong_host_cert;  // signed by the CA, only for wrong.example
  std::string wrong_host_key;
};
// Makes the files with the openssl command; an empty ca_cert means it failed (the
// reason is in `error`).
TlsFiles make_tls_files(const std::string& dir, std::string* error);

// Runs /usr/bin/curl with a 20 s deadline: -sS plus `args`.
leasefs::testing::ProcessResult curl(std::vector<std::string> args);

// A door test handlers wait at (for at most 10 s), with a count of who arrived.
class Gate {
 public:
  // Called by a handler: counts the arrival, then waits until open() or 10 s.
  void arrive_and_wait();
  // Waits until `count` handlers have arrived; false after `timeout`.
  bool wait_for_arrivals(int count, std::chrono::milliseconds timeout);
  void open();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  bool open_ = false;
};

// Polls `condition` every 5 ms until it is true or `timeout` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace leasefs::backend::http::testing
