// A throwaway sshd for tests (see sshd_fixture.h).
#include "tests/support/sshd_fixture.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace leasefs::testing {
namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr const char* kSsh = "/usr/bin/ssh";
constexpr const char* kSshKeygen = "/usr/bin/ssh-keygen";

bool wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A TCP port on 127.0.0.1 that was free a moment ago.
std::uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool accepts_connections(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool sshd_available(std::string* why) {
  std::string reason;
  if (geteuid() != 0)
    reason = "the sshd fixture needs root";
  else if (access(kSshd, X_OK) != 0)
    reason = "no /usr/sbin/sshd (install openssh-server)";
  else if (access(kSsh, X_OK) != 0)
    reason = "no /usr/bin/ssh (install openssh-client)";
  if (why != nullptr) *why = reason;
  return reason.empty();
}

std::expected<std::unique_ptr<SshdServer>, std::string> SshdServer::start(
    const std::string& ca_public_key, std::chrono::milliseconds timeout) {
  std::string why;
  if (!sshd_available(&why)) return std::unexpected(why);
  std::unique_ptr<SshdServer> s(new SshdServer());
  s->dir_ = std::make_unique<TempDir>();
  const std::string dir = s->dir_->path();
  // sshd's privilege separation directory (the package makes it only at boot).
  mkdir("/run/sshd", 0755);

  auto keygen = run_process({kSshKeygen, "-q", "-t", "ed25519", "-N", "", "-f", dir + "/hostkey"},
                            "", std::chrono::seconds(20));
  if (keygen.exit_code != 0) return std::unexpected("ssh-keygen (host key): " + keygen.err);
  {
    std::ofstream ca(dir + "/ca.pub");
    ca << ca_public_key << "\n";
  }

  std::string last_error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    s->port_ = free_port();
    {
      std::ofstream cfg(dir + "/sshd_config");
      cfg << "Port " << s->port_ << "\n"
          << "ListenAddress 127.0.0.1\n"
          << "HostKey " << dir << "/hostkey\n"
          << "PidFile none\n"
          << "TrustedUserCAKeys " << dir << "/ca.pub\n"
          << "AuthorizedKeysFile none\n"
          << "PermitRootLogin prohibit-password\n"
          << "PubkeyAuthentication yes\n"
          << "PasswordAuthentication no\n"
          << "KbdInteractiveAuthentication no\n"
          << "UsePAM no\n"
          << "StrictModes no\n"
          << "LogLevel VERBOSE\n";
    }
    std::vector<std::string> args = {kSshd, "-D", "-e", "-f", dir + "/sshd_config"};
    std::vector<char*> raw;
    for (auto& a : args) raw.push_back(a.data());
    raw.push_back(nullptr);
    const std::string log_path = dir + "/sshd.log";
    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) return std::unexpected("cannot open the sshd log");
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
      close(log_fd);
      return std::unexpected("fork failed");
    }
    if (pid == 0) {
      dup2(log_fd, 1);
      dup2(log_fd, 2);
      int null_fd = open("/dev/null", O_RDONLY);
      if (null_fd >= 0) dup2(null_fd, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(125);
      execv(raw[0], raw.data());
      _exit(127);
    }
    close(log_fd);
    s->pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool up = false;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        s->pid_ = -1;
        break;
      }
      if (accepts_connections(s->port_)) {
        up = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (up) return s;
    last_error = "sshd did not start: " + s->log();
    s->stop();
  }
  return std::unexpected(last_error);
}

SshdServer::~SshdServer() {
  stop();
}

void SshdServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (!wait_for_exit(pid_, std::chrono::seconds(5))) {
    kill(pid_, SIGKILL);
    wait_for_exit(pid_, std::chrono::seconds(5));
  }
  pid_ = -1;
}

std::string SshdServer::log() const {
  if (!dir_) return "";
  std::ifstream in(dir_->path() + "/sshd.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ProcessResult SshdServer::login(const std::string& user, const std::string& key_file,
                                const std::string& cert_file, const std::string& command) const {
  std::vector<std::string> args = {kSsh,
                                   "-F",
                                   "/dev/null",
                                   "-i",
                                   key_file,
                                   "-o",
                                   "CertificateFile=" + cert_file,
                                   "-o",
                                   "IdentitiesOnly=yes",
                                   "-o",
                                   "IdentityAgent=none",
                                   "-o",
                                   "BatchMode=yes",
                                   "-o",
                                   "PasswordAuthentication=no",
                                   "-o",
                                   "StrictHostKeyChecking=no",
                                   "-o",
                                   "UserKnownHostsFile=/dev/null",
                                   "-o",
                                   "GlobalKnownHostsFile=/dev/null",
                                   "-o",
                                   "ConnectTimeout=10",
                                   "-o",
                                   "LogLevel=ERROR",
                                   "-p",
                                   std::to_string(port_),
                                   user + "@127.0.0.1",
                                   command};
  return run_process(args, "", std::chrono::seconds(30));
}

}  // namespace leasefs::testing
