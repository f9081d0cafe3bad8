// Spawning, watching and stopping `leasefs mount` children; see mount_child.h.
#include "fs/volume/mount_child.h"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace leasefs::fs::volume {
namespace {

constexpr std::chrono::milliseconds kPoll{20};
constexpr std::chrono::milliseconds kKillWait{3'000};
constexpr std::chrono::milliseconds kFusermountTimeout{5'000};

// Waits up to `timeout` for `pid` to exit; true (and its status) when it did.
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout, int& status) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

// fork + exec with stdin/stdout/stderr on /dev/null (or `log_fd` for the latter two),
// every other descriptor closed and the signal mask cleared (the plugin blocks
// SIGTERM for its sigwait loop; a child must not inherit that). The plugin's
// NOTIFY_SOCKET is left out of the environment: systemd's READY=1 is the plugin's to
// send, not each mount's; `notify_socket` ("" for none) is the child's own.
// Returns -1 on failure.
pid_t spawn(const std::vector<std::string>& argv, int log_fd, bool die_with_parent,
            const std::string& notify_socket = "") {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with("NOTIFY_SOCKET=")) env.push_back(*e);
  }
  std::string notify_env = "NOTIFY_SOCKET=" + notify_socket;
  if (!notify_socket.empty()) env.push_back(notify_env.data());
  env.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: async-signal-safe calls only.
  if (die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
  }
  ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the plugin, which stops its children
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(log_fd >= 0 ? log_fd : null, 1);
  ::dup2(log_fd >= 0 ? log_fd : null, 2);
  ::close_range(3, ~0U, 0);
  ::execve(args[0], args.data(), env.data());
  ::_exit(127);
}

// A datagram socket in the abstract namespace where one child sends sd_notify's
// READY=1 once it has mounted and authenticated (the mount shows in mountinfo before
// the daemon has logged in, and is taken down again when that fails). Messages carry
// the sender's credentials, so only the child's own count.
class ReadySocket {
 public:
  ReadySocket() {
    static std::atomic<unsigned> counter{0};
    name_ = "leasefs-volume-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name_.data(), name_.size());  // sun_path[0] = 0: abstract
    const int on = 1;
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name_.size());
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
        ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ReadySocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReadySocket(const ReadySocket&) = delete;
  ReadySocket& operator=(const ReadySocket&) = delete;

  bool usable() const { return fd_ >= 0; }
  // The NOTIFY_SOCKET value for the child ("@" names the abstract namespace).
  std::string address() const { return usable() ? "@" + name_ : ""; }

  // Waits up to `timeout` for a message; true when one from `pid` says READY=1.
  bool ready_from(pid_t pid, std::chrono::milliseconds timeout) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    for (;;) {
      iovec iov{.iov_base = buf, .iov_len = sizeof buf - 1};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
      if (n < 0) return false;
      const cmsghdr* c = CMSG_FIRSTHDR(&msg);
      if (c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS) continue;
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      if (cred.pid != pid) continue;
      std::string_view text(buf, static_cast<std::size_t>(n));
      if (text.starts_with("READY=1") || text.find("\nREADY=1") != std::string_view::npos) {
        return true;
      }
    }
  }

 private:
  std::string name_{};
  int fd_ = -1;
};

}  // namespace

sdk::Status detach_mount(const std::string& dir) {
  if (!is_leasefs_mount(dir)) return {};
  if (::umount2(dir.c_str(), MNT_DETACH) == 0) return {};
  std::string umount_error = std::strerror(errno);
  pid_t pid = spawn({"/usr/bin/fusermount3", "-u", "-z", dir}, -1, false);
  int status = 0;
  if (pid > 0 && !wait_exit(pid, kFusermountTimeout, status)) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, kKillWait, status);
  }
  if (!is_leasefs_mount(dir)) return {};
  return sdk::Status(sdk::Code::kUnavailable, "cannot unmount " + dir + ": umount2: " +
                                                  umount_error + "; fusermount3 -u -z failed");
}

std::string log_tail(const std::string& file, std::size_t lines) {
  std::ifstream in(file);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += (out.empty() ? "" : "; ") + l;
  if (out.size() > 600) out = "..." + out.substr(out.size() - 600);
  return out;
}

sdk::Result<std::unique_ptr<MountChild>> MountChild::start(const MountChildSpec& spec) {
  int log_fd = ::open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    return sdk::error(sdk::Code::kUnavailable,
                      "cannot open the mount log " + spec.log_file + ": " + std::strerror(errno));
  }
  std::unique_ptr<MountChild> child(new MountChild());
  child->spec_ = spec;
  ReadySocket ready;
  child->pid_ =
      spawn({spec.binary, "mount", spec.mountpoint, "--config", spec.config_file, "--foreground"},
            log_fd, true, ready.address());
  int fork_errno = errno;
  ::close(log_fd);
  if (child->pid_ < 0) {
    return sdk::error(sdk::Code::kUnavailable, std::string("cannot start leasefs mount: fork: ") +
                                                   std::strerror(fork_errno));
  }
  auto deadline = std::chrono::steady_clock::now() + spec.mount_timeout;
  // Up: said READY=1 (mounted, logged in, serving), and shows in mountinfo. Without a
  // socket, showing in mountinfo is all there is to go by.
  bool said_ready = !ready.usable();
  while (!said_ready || !is_leasefs_mount(spec.mountpoint)) {
    if (!child->running()) {
      std::string tail = log_tail(spec.log_file);
      return sdk::error(sdk::Code::kUnavailable, "leasefs mount " + child->describe_exit() +
                                                     (tail.empty() ? "" : ": " + tail));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child->stop(std::chrono::seconds(2));
      std::string tail = log_tail(spec.log_file);
      return sdk::error(sdk::Code::kDeadlineExceeded,
                        "the mount was not up (mounted and logged in) within " +
                            std::to_string(spec.mount_timeout.count()) + " ms" +
                            (tail.empty() ? "" : ": " + tail));
    }
    if (said_ready) {
      std::this_thread::sleep_for(kPoll);
    } else {
      said_ready = ready.ready_from(child->pid_, kPoll);
    }
  }
  return child;
}

MountChild::~MountChild() {
  stop();
}

bool MountChild::running() {
  if (reaped_ || pid_ <= 0) return false;
  pid_t r = ::waitpid(pid_, &wait_status_, WNOHANG);
  if (r == 0) return true;
  reaped_ = true;
  return false;
}

std::string MountChild::describe_exit() const {
  if (killed_) return "did not stop in time and was killed";
  if (WIFEXITED(wait_status_))
    return "exited with code " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) return "ended by signal " + std::to_string(WTERMSIG(wait_status_));
  return "ended";
}

std::string MountChild::stop(std::chrono::milliseconds timeout) {
  if (pid_ > 0 && running()) {
    ::kill(pid_, SIGTERM);
    if (wait_exit(pid_, timeout, wait_status_)) {
      reaped_ = true;
    } else {
      ::kill(pid_, SIGKILL);
      killed_ = true;
      // A process stuck in the kernel may outlive even this; it is then left to init.
      reaped_ = wait_exit(pid_, kKillWait, wait_status_);
    }
  }
  std::string how = describe_exit();
  if (auto status = detach_mount(spec_.mountpoint); !status.ok()) how += "; " + status.message();
  return how;
}

}  // namespace leasefs::fs::volume
