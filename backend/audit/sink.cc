// File, socket, stdout and discard sinks (see sink.h).
#include "backend/audit/sink.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend/sdk/log.h"

namespace leasefs::backend::audit {
namespace {

using sdk::Code;

sdk::Status errno_status(int err, const std::string& what) {
  Code code = Code::kUnavailable;
  if (err == ENOENT || err == ENOTDIR) code = Code::kNotFound;
  if (err == EACCES || err == EPERM || err == EROFS) code = Code::kPermissionDenied;
  return sdk::Status(code, what + ": " + std::strerror(err));
}

int remaining_ms(SteadyTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>(left.count(), 60'000));
}

// Writes everything to a blocking descriptor.
sdk::Result<void> write_all(int fd, std::string_view bytes, std::size_t& written) {
  written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sdk::error(errno_status(errno, "write"));
    }
    if (n == 0) return sdk::error(Code::kUnavailable, "write: no progress");
    written += static_cast<std::size_t>(n);
  }
  return {};
}

class FileSink final : public Sink {
 public:
  explicit FileSink(const DeviceConfig& config)
      : path_(config.file_path), mode_(config.mode), set_mode_(config.set_mode) {}
  ~FileSink() override { close(); }

  sdk::Result<LogTail> open(SteadyTime) override {
    auto opened = open_path();
    if (!opened) return sdk::error(opened.error());
    replace_fd(opened->first);
    return opened->second;
  }

  sdk::Result<void> write(std::string_view bytes, SteadyTime) override {
    if (fd_ < 0) {
      auto opened = open_path();
      if (!opened) return sdk::error(opened.error());
      replace_fd(opened->first);
    }
    struct statx st {};
    if (!stat_for_write(st)) return sdk::error(errno_status(errno, "stat " + path_));
    if (S_ISREG(st.stx_mode) && st.stx_nlink == 0) {
      // The file was deleted under us: lines written now would be lost with it. Start a
      // new file at the path (the chain goes on), or fail if that is impossible.
      sdk::log_warn("audit", "the audit file " + path_ + " was deleted; creating it again");
      auto opened = open_path();
      if (!opened) return sdk::error(opened.error().with_context("the audit file was deleted"));
      replace_fd(opened->first);
      if (!stat_for_write(st)) return sdk::error(errno_status(errno, "stat " + path_));
    }
    std::size_t written = 0;
    auto result = write_all(fd_, bytes, written);
    if (!result) {
      if (S_ISREG(st.stx_mode) && written > 0 &&
          ::ftruncate(fd_, static_cast<off_t>(st.stx_size)) != 0) {
        sdk::log_error("audit",
                       "cannot cut a partial line off " + path_ + ": " + std::strerror(errno));
      }
      return sdk::error(result.error().with_context(path_));
    }
    return {};
  }

  sdk::Result<void> sync() override {
    if (fd_ >= 0 && ::fdatasync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
      return sdk::error(errno_status(errno, "fdatasync " + path_));
    }
    return {};
  }

  int sync_fd() const override { return fd_; }

  sdk::Result<LogTail> reopen(SteadyTime) override {
    auto opened = open_path();
    if (!opened) return sdk::error(opened.error());
    (void)sync();
    replace_fd(opened->first);
    return opened->second;
  }

  void close() override {
    if (fd_ < 0) return;
    (void)sync();
    ::close(fd_);
    fd_ = -1;
  }

  std::string describe() const override { return "file " + path_; }

 private:
  // Type, link count and size of the open file, for the checks around each write. Asks
  // for nothing else on purpose: a stat that reads the timestamps (fstat) marks them as
  // seen, and on Linux 6.13+ (multigrain timestamps) the next write must then log a
  // fine-grained mtime/ctime update in the filesystem journal — once per entry.
  bool stat_for_write(struct statx& st) const {
    return ::statx(fd_, "", AT_EMPTY_PATH, STATX_TYPE | STATX_NLINK | STATX_SIZE, &st) == 0;
  }

  void replace_fd(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

  // Opens (creating) the path for appending, applies the mode, reads the log's tail and
  // ends a torn last line.
  sdk::Result<std::pair<int, LogTail>> open_path() {
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
      return sdk::invalid_argument(path_ + " is not a regular file");
    }
    const mode_t create_mode = set_mode_ ? mode_ : 0600;
    // Read access is only for finding the log's last entry; a file we may only append
    // to is still usable (its chain then continues from the saved head).
    bool readable = true;
    int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, create_mode);
    if (fd < 0 && errno == EACCES) {
      readable = false;
      fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, create_mode);
    }
    if (fd < 0) return sdk::error(errno_status(errno, "open " + path_));
    auto fail = [&](sdk::Status s) -> sdk::Result<std::pair<int, LogTail>> {
      ::close(fd);
      return sdk::error(std::move(s));
    };
    if (::fstat(fd, &st) != 0) return fail(errno_status(errno, "stat " + path_));
    if (S_ISREG(st.st_mode) && set_mode_ && (st.st_mode & 07777) != mode_ &&
        ::fchmod(fd, mode_) != 0) {
      return fail(errno_status(errno, "chmod " + path_));
    }
    auto tail = readable ? read_log_tail(fd) : sdk::Result<LogTail>(LogTail{});
    if (!tail) return fail(tail.error().with_context(path_));
    if (tail->torn) {
      sdk::log_warn("audit", "the last line of " + path_ +
                                 " is incomplete (a torn write); ending it and continuing "
                                 "the chain from the last complete entry");
      std::size_t written = 0;
      if (auto ended = write_all(fd, "\n", written); !ended) {
        return fail(ended.error().with_context(path_));
      }
    }
    return std::make_pair(fd, std::move(*tail));
  }

  std::string path_;
  unsigned mode_;
  bool set_mode_;
  int fd_ = -1;
};

class SocketSink final : public Sink {
 public:
  explicit SocketSink(const DeviceConfig& config)
      : address_(config.address), unix_(config.socket_type == "unix") {}
  ~SocketSink() override { close(); }

  sdk::Result<LogTail> open(SteadyTime deadline) override {
    LEASEFS_TRY(connect(deadline));
    return LogTail{};
  }

  sdk::Result<void> write(std::string_view bytes, SteadyTime deadline) override {
    sdk::Status last;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt > 0 && remaining_ms(deadline) == 0) break;
      if (fd_ >= 0 && peer_closed()) close();
      if (fd_ < 0) {
        if (auto connected = connect(deadline); !connected) {
          last = connected.error();
          continue;
        }
      }
      auto sent = send_all(bytes, deadline);
      if (sent) return {};
      last = sent.error();
      close();  // the peer may hold a partial line; a new connection starts clean
    }
    return sdk::error(last.with_context(describe()));
  }

  sdk::Result<LogTail> reopen(SteadyTime deadline) override {
    close();
    LEASEFS_TRY(connect(deadline));
    return LogTail{};
  }

  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string describe() const override {
    return std::string(unix_ ? "unix socket " : "tcp socket ") + address_;
  }

 private:
  // A peer that closed its end (or reset it) is noticed before writing, so an entry is
  // not written into a dead connection (Vault loses one entry that way).
  bool peer_closed() {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      // Discard whatever the peer sends (nothing is expected); 0 means it closed.
      std::array<char, 4096> scratch{};
      for (int i = 0; i < 16; ++i) {
        ssize_t n = ::recv(fd_, scratch.data(), scratch.size(), MSG_DONTWAIT);
        if (n == 0) return true;
        if (n < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
      }
    }
    return false;
  }

  sdk::Result<void> connect_to(const sockaddr* addr, socklen_t len, int family,
                               SteadyTime deadline) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return sdk::error(errno_status(errno, "socket"));
    if (::connect(fd, addr, len) != 0) {
      if (errno != EINPROGRESS && errno != EAGAIN) {
        int err = errno;
        ::close(fd);
        return sdk::error(errno_status(err, "connect " + address_));
      }
      pollfd p{fd, POLLOUT, 0};
      int ready = 0;
      do {
        ready = ::poll(&p, 1, remaining_ms(deadline));
      } while (ready < 0 && errno == EINTR);
      if (ready <= 0) {
        ::close(fd);
        return sdk::error(Code::kDeadlineExceeded, "connect " + address_ + ": timed out");
      }
      int err = 0;
      socklen_t err_len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
      if (err != 0) {
        ::close(fd);
        return sdk::error(errno_status(err, "connect " + address_));
      }
    }
    if (family != AF_UNIX) {
      int one = 1;
      (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    fd_ = fd;
    return {};
  }

  sdk::Result<void> connect(SteadyTime deadline) {
    close();
    if (unix_) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::memcpy(addr.sun_path, address_.data(),
                  std::min(address_.size(), sizeof addr.sun_path - 1));
      return connect_to(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, AF_UNIX, deadline);
    }
    auto colon = address_.rfind(':');
    std::string host = address_.substr(0, colon);
    std::string port = address_.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
      return sdk::error(Code::kUnavailable, "resolve " + address_ + ": " + gai_strerror(rc));
    }
    sdk::Status last(Code::kUnavailable, "connect " + address_ + ": no address");
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      auto connected = connect_to(ai->ai_addr, ai->ai_addrlen, ai->ai_family, deadline);
      if (connected) break;
      last = connected.error();
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) return sdk::error(last);
    return {};
  }

  sdk::Result<void> send_all(std::string_view bytes, SteadyTime deadline) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n =
          ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return sdk::error(errno_status(errno, "send"));
      }
      int wait = remaining_ms(deadline);
      if (wait == 0) {
        return sdk::error(Code::kDeadlineExceeded,
                          "write timed out with " + std::to_string(bytes.size() - sent) + " of " +
                              std::to_string(bytes.size()) + " bytes unsent");
      }
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, wait) < 0 && errno != EINTR) {
        return sdk::error(errno_status(errno, "poll"));
      }
    }
    return {};
  }

  std::string address_;
  bool unix_;
  int fd_ = -1;
};

class FdSink final : public Sink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  sdk::Result<LogTail> open(SteadyTime) override { return LogTail{}; }
  sdk::Result<void> write(std::string_view bytes, SteadyTime) override {
    std::size_t written = 0;
    auto result = write_all(fd_, bytes, written);
    if (!result) return sdk::error(result.error().with_context("stdout"));
    return {};
  }
  sdk::Result<LogTail> reopen(SteadyTime) override { return LogTail{}; }
  void close() override {}
  std::string describe() const override { return "stdout"; }

 private:
  int fd_;
};

class DiscardSink final : public Sink {
 public:
  sdk::Result<LogTail> open(SteadyTime) override { return LogTail{}; }
  sdk::Result<void> write(std::string_view, SteadyTime) override { return {}; }
  sdk::Result<LogTail> reopen(SteadyTime) override { return LogTail{}; }
  void close() override {}
  std::string describe() const override { return "discard"; }
};

}  // namespace

std::unique_ptr<Sink> make_sink(const DeviceConfig& config, int stdout_fd) {
  switch (config.sink) {
    case SinkKind::kFile:
      return std::make_unique<FileSink>(config);
    case SinkKind::kSocket:
      return std::make_unique<SocketSink>(config);
    case SinkKind::kStdout:
      return std::make_unique<FdSink>(stdout_fd);
    case SinkKind::kDiscard:
      return std::make_unique<DiscardSink>();
  }
  return std::make_unique<DiscardSink>();
}

}  // namespace leasefs::backend::audit
