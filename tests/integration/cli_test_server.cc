// Starting and stopping a leasefs server child process for CLI tests.
#include "tests/integration/cli_test_server.h"

#include <cerrno>
#include <cstring>
#include <optional>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/process.h"

namespace leasefs::testing {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for `pid` until `deadline`; the exit status, or nullopt on timeout.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
  // waitpid has no timeout; a pidfd would, but this is simpler and the waits are short.
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    pollfd none{};
    poll(&none, 0, 10);  // a 10 ms tick under the deadline
  }
}

}  // namespace

std::unique_ptr<CliTestServer> CliTestServer::start(const std::vector<std::string>& args,
                                                    const std::string& log_file, std::string& why,
                                                    std::chrono::milliseconds deadline_in) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    why = "pipe failed";
    return nullptr;
  }
  int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log < 0) {
    why = "cannot open " + log_file;
    return nullptr;
  }
  std::vector<std::string> argv = {leasefs_binary(), "server"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    why = "fork failed";
    return nullptr;
  }
  if (pid == 0) {
    // The child: die with the test, stdout to the pipe, stderr to the log.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out[1], STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(raw[0], raw.data());
    _exit(127);
  }
  close(out[1]);
  close(log);
  std::unique_ptr<CliTestServer> server(new CliTestServer());
  server->pid_ = pid;
  server->stdout_fd_ = out[0];
  fcntl(out[0], F_SETFL, O_NONBLOCK);

  const auto deadline = Clock::now() + deadline_in;
  std::string text;
  constexpr std::string_view kMarker = "Api Address: ";
  while (true) {
    auto at = text.find(kMarker);
    if (at != std::string::npos) {
      auto end = text.find('\n', at);
      if (end != std::string::npos) {
        server->address_ = text.substr(at + kMarker.size(), end - at - kMarker.size());
        return server;
      }
    }
    int left = remaining_ms(deadline);
    if (left == 0) {
      why = "no \"Api Address:\" line within the deadline";
      return nullptr;  // the destructor kills the child
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = poll(&p, 1, left);
    if (ready < 0 && errno != EINTR) {
      why = "poll failed";
      return nullptr;
    }
    if (ready <= 0) continue;
    char buf[4096];
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      why = "the server exited before printing its address (see " + log_file + ")";
      return nullptr;
    }
  }
}

int CliTestServer::stop(std::chrono::milliseconds grace) {
  if (pid_ < 0) return -1;
  kill(pid_, SIGTERM);
  auto status = wait_until(pid_, Clock::now() + grace);
  if (!status) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

CliTestServer::~CliTestServer() {
  if (pid_ >= 0) stop(std::chrono::seconds(5));
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

int unused_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return 1;  // port 1: nothing listens there either
  }
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

SilentListener::SilentListener() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      listen(fd_, 16) == 0 && getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port_ = ntohs(addr.sin_port);
  }
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace leasefs::testing
