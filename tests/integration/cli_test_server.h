// Test helper of the CLI tests: a real `leasefs server` as a child process on port 0.
// It starts with its stdout on a pipe, and start() reads the "Api Address:" line under a
// deadline; the server's log goes to a file for failure messages. stop() sends SIGTERM
// and waits (bounded) for the exit status. The child dies with the test process
// (PDEATHSIG), so a crashed test leaves no server behind.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace leasefs::testing {

class CliTestServer {
 public:
  // Runs `leasefs server <args>` and waits up to `deadline` for its API address.
  // Returns nullptr (and a reason in `why`) when it exits or stays silent too long.
  static std::unique_ptr<CliTestServer> start(
      const std::vector<std::string>& args, const std::string& log_file, std::string& why,
      std::chrono::milliseconds deadline = std::chrono::seconds(10));
  ~CliTestServer();
  CliTestServer(const CliTestServer&) = delete;
  CliTestServer& operator=(const CliTestServer&) = delete;

  // "http://127.0.0.1:PORT".
  const std::string& address() const { return address_; }

  // Sends SIGTERM and waits up to `grace` for the exit. Returns the exit code, or -1
  // when the server did not exit in time (it is then killed) or died of a signal.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  CliTestServer() = default;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string address_{};
};

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
int unused_port();

// A socket on 127.0.0.1 that accepts connections into its backlog but never answers:
// a server that hangs. Closed on destruction.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace leasefs::testing
