// Raw sockets, a silent listener, a throwaway PKI and curl for the HTTP tests.
#include "tests/unit/backend/http/http_test_support.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace leasefs::backend::http::testing {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int connect_to(std::uint16_t port, const char* host) {
  bool v6 = std::string_view(host).find(':') != std::string_view::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rc = -1;
  if (v6) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    ::inet_pton(AF_INET6, host, &address.sin6_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, host, &address.sin_addr);
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

int bind_loopback() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::string RawResponse::header(std::string_view name) const {
  std::string wanted = lower(name) + ":";
  std::size_t line = head.find("\r\n");
  while (line != std::string::npos && line + 2 < head.size()) {
    std::size_t next = head.find("\r\n", line + 2);
    std::string_view text(head.data() + line + 2,
                          (next == std::string::npos ? head.size() : next) - line - 2);
    if (lower(text.substr(0, wanted.size())) == wanted) {
      std::string_view value = text.substr(wanted.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    line = next;
  }
  return {};
}

RawConnection::RawConnection(std::uint16_t port, const char* host) : fd_(connect_to(port, host)) {}

RawConnection::~RawConnection() {
  close();
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawConnection::fill(std::chrono::steady_clock::time_point deadline) {
  if (fd_ < 0 || eof_) return false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd descriptor{fd_, POLLIN, 0};
    int ready = ::poll(&descriptor, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char buffer[65536];
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    pending_.append(buffer, static_cast<std::size_t>(n));
    return true;
  }
}

std::optional<RawResponse> RawConnection::read_response(std::chrono::milliseconds timeout,
                                                        bool head) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t end = std::string::npos;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill(deadline)) return std::nullopt;
  }
  RawResponse response;
  response.head = pending_.substr(0, end + 2);
  pending_.erase(0, end + 4);
  if (response.head.size() > 12) response.status = std::atoi(response.head.c_str() + 9);
  std::string length_text = response.header("content-length");
  bool bodyless =
      head || response.status / 100 == 1 || response.status == 204 || response.status == 304;
  std::size_t length = bodyless || length_text.empty() ? 0 : std::stoul(length_text);
  while (pending_.size() < length) {
    if (!fill(deadline)) return std::nullopt;
  }
  response.body = pending_.substr(0, length);
  pending_.erase(0, length);
  return response;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    pending_.clear();
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

bool RawConnection::stays_silent(std::chrono::milliseconds duration) {
  auto deadline = std::chrono::steady_clock::now() + duration;
  return pending_.empty() && !fill(deadline) && !eof_;
}

SilentListener::SilentListener() : fd_(bind_loopback()) {
  if (fd_ >= 0 && ::listen(fd_, 16) == 0) port_ = bound_port(fd_);
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint16_t unused_port() {
  int fd = bind_loopback();
  std::uint16_t port = fd >= 0 ? bound_port(fd) : 0;
  if (fd >= 0) ::close(fd);
  return port;
}

bool can_connect(std::uint16_t port) {
  int fd = connect_to(port, "127.0.0.1");
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TlsFiles make_tls_files(const std::string& dir, std::string* error) {
  TlsFiles files;
  auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    auto result = leasefs::testing::run_process(args, "", std::chrono::seconds(30));
    if (result.exit_code != 0 && error != nullptr && error->empty()) {
      *error = "openssl " + args[1] + " failed: " + result.err;
    }
    return result.exit_code == 0;
  };
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  const std::vector<std::string> kEcKey = {"-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:prime256v1", "-nodes"};
  auto make_ca = [&](const std::string& name) {
    std::vector<std::string> args = {"req", "-x509"};
    args.insert(args.end(), kEcKey.begin(), kEcKey.end());
    args.insert(args.end(),
                {"-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".crt", "-days",
                 "2", "-subj", "/CN=leasefs test " + name});
    return openssl(args);
  };
  auto make_leaf = [&](const std::string& name, const std::string& san) {
    std::vector<std::string> request = {"req"};
    request.insert(request.end(), kEcKey.begin(), kEcKey.end());
    request.insert(request.end(), {"-keyout", dir + "/" + name + ".key", "-out",
                                   dir + "/" + name + ".csr", "-subj", "/CN=" + name});
    std::string extensions = write(name + ".ext", "subjectAltName=" + san +
                                                      "\nextendedKeyUsage=serverAuth\n"
                                                      "basicConstraints=CA:FALSE\n");
    return openssl(request) &&
           openssl({"x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.crt",
                    "-CAkey", dir + "/ca.key", "-CAcreateserial", "-out", dir + "/" + name + ".crt",
                    "-days", "2", "-extfile", extensions});
  };
  if (!make_ca("ca") || !make_ca("other-ca") ||
      !make_leaf("server", "DNS:localhost,IP:127.0.0.1,IP:::1") ||
      !make_leaf("wrong-host", "DNS:wrong.example")) {
    return files;
  }
  files.ca_cert = dir + "/ca.crt";
  files.server_cert = dir + "/server.crt";
  files.server_key = dir + "/server.key";
  files.other_ca_cert = dir + "/other-ca.crt";
  files.other_ca_key = dir + "/other-ca.key";
  files.wrong_host_cert = dir + "/wrong-host.crt";
  files.wrong_host_key = dir + "/wrong-host.key";
  return files;
}

leasefs::testing::ProcessResult curl(std::vector<std::string> args) {
  args.insert(args.begin(), {"/usr/bin/curl", "-sS"});
  return leasefs::testing::run_process(args, "", std::chrono::seconds(20));
}

void Gate::arrive_and_wait() {
  std::unique_lock lock(mutex_);
  ++arrived_;
  changed_.notify_all();
  changed_.wait_for(lock, 10s, [this] { return open_; });
}

bool Gate::wait_for_arrivals(int count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return arrived_ >= count; });
}

void Gate::open() {
  std::lock_guard lock(mutex_);
  open_ = true;
  changed_.notify_all();
}

}  // namespace leasefs::backend::http::testing
