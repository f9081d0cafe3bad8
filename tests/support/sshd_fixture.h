// Test helper: a throwaway OpenSSH server on a free loopback port that trusts one user
// CA (TrustedUserCAKeys) and nothing else: no passwords, no authorized_keys. For the SSH
// engine's tests, which sign keys and log in with the certificates. The sshd runs in the
// foreground (-D) as a child of the test, is killed (SIGTERM, then SIGKILL) on every
// path that does not stop it — destructor, failed start, and through PR_SET_PDEATHSIG
// the test process dying — and its temporary directory is removed.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include <sys/types.h>

#include "tests/support/process.h"

namespace leasefs::testing {

class SshdServer {
 public:
  // `ca_public_key`: one line "ssh-ed25519 AAAA..." that sshd trusts for user
  // certificates. Errors: a message with sshd's log. Needs root (sshd's privilege
  // separation) and /usr/sbin/sshd; start from the test's main thread.
  static std::expected<std::unique_ptr<SshdServer>, std::string> start(
      const std::string& ca_public_key,
      std::chrono::milliseconds timeout = std::chrono::seconds(20));

  ~SshdServer();
  SshdServer(const SshdServer&) = delete;
  SshdServer& operator=(const SshdServer&) = delete;

  std::uint16_t port() const { return port_; }
  // Runs `ssh -i key -o CertificateFile=cert user@127.0.0.1 command` non-interactively
  // (BatchMode, no host key checks, no agent, no user config), bounded by a deadline.
  ProcessResult login(const std::string& user, const std::string& key_file,
                      const std::string& cert_file, const std::string& command = "true") const;
  void stop();
  std::string log() const;

 private:
  SshdServer() = default;

  std::unique_ptr<TempDir> dir_{};
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// True when this machine can run the sshd fixture (root, /usr/sbin/sshd, /usr/bin/ssh).
bool sshd_available(std::string* why = nullptr);

}  // namespace leasefs::testing
