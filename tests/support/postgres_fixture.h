// Test helper: a throwaway PostgreSQL cluster from the Debian packages, for the database
// engine's tests. start() runs initdb into a fresh directory under /tmp as an
// unprivileged user (postgres, else nobody: PostgreSQL refuses to run as root), then
// runs the postmaster as its own child on 127.0.0.1 and a free port with password
// (scram) authentication, and waits with a deadline until it accepts connections. The
// postmaster is stopped (SIGQUIT, then SIGKILL) and the directory removed on every path
// that does not stop it: destructor, failed start, and — through PR_SET_PDEATHSIG — the
// test process dying. Binaries: $LEASEFS_PG_BIN, else the newest
// /usr/lib/postgresql/<version>/bin.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "tests/support/process.h"

namespace leasefs::testing {

class PostgresServer {
 public:
  // Errors: a message naming the step that failed (no binaries, initdb, start, deadline)
  // with the server's log. Start from the test's main thread (PR_SET_PDEATHSIG follows
  // the thread that forked).
  static std::expected<std::unique_ptr<PostgresServer>, std::string> start(
      std::chrono::milliseconds timeout = std::chrono::seconds(60));

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  std::uint16_t port() const { return port_; }
  // The superuser and its password (random per cluster; do not print it).
  const std::string& superuser() const { return superuser_; }
  const std::string& superuser_password() const { return password_; }
  // libpq key=value connection string as the superuser, with a short connect_timeout.
  std::string conninfo(const std::string& dbname = "postgres") const;
  // Vault's connection_url shape with the {{username}}/{{password}} placeholders.
  std::string connection_url(const std::string& dbname = "postgres") const;

  // Runs `psql -tAX -v ON_ERROR_STOP=1 -c sql` as `user` with `password` over TCP.
  ProcessResult psql(const std::string& user, const std::string& password, const std::string& sql,
                     const std::string& dbname = "postgres") const;
  // The same as the superuser; the trimmed output, or the error text on failure.
  std::expected<std::string, std::string> admin_query(const std::string& sql,
                                                      const std::string& dbname = "postgres") const;

  // Stops the postmaster (immediate shutdown) and waits for it; true when it is gone.
  bool stop();
  // Starts it again on the same data directory and port.
  std::expected<void, std::string> restart(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGSTOP / SIGCONT the postmaster: a paused server accepts TCP but never answers.
  void pause();
  void resume();
  bool running() const { return pid_ > 0; }
  std::string log() const;

 private:
  PostgresServer() = default;
  std::expected<void, std::string> launch(std::chrono::milliseconds timeout);

  std::string bin_dir_{};
  std::string dir_{};
  std::string data_dir_{};
  std::string socket_dir_{};
  std::string log_file_{};
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string superuser_{"postgres"};
  std::string password_{};
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
std::uint16_t free_loopback_port();

}  // namespace leasefs::testing
