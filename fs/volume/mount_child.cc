// Spawning, watching and stopping `leasefs mount` children; see mount_child.h.
#include "fs/volume/mount_child.h"

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
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
// SIGTERM for its sigwait loop; a child must not inherit that). NOTIFY_SOCKET is left
// out of the environment: systemd's READY=1 is the plugin's to send, not each mount's.
// Returns -1 on failure.
pid_t spawn(const std::vector<std::string>& argv, int log_fd, bool die_with_parent) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with("NOTIFY_SOCKET=")) env.push_back(*e);
  }
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
  child->pid_ =
      spawn({spec.binary, "mount", spec.mountpoint, "--config", spec.config_file, "--foreground"},
            log_fd, true);
  int fork_errno = errno;
  ::close(log_fd);
  if (child->pid_ < 0) {
    return sdk::error(sdk::Code::kUnavailable, std::string("cannot start leasefs mount: fork: ") +
                                                   std::strerror(fork_errno));
  }
  auto deadline = std::chrono::steady_clock::now() + spec.mount_timeout;
  while (!is_leasefs_mount(spec.mountpoint)) {
    if (!child->running()) {
      std::string tail = log_tail(spec.log_file);
      return sdk::error(sdk::Code::kUnavailable, "leasefs mount " + child->describe_exit() +
                                                     (tail.empty() ? "" : ": " + tail));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child->stop(std::chrono::seconds(2));
      std::string tail = log_tail(spec.log_file);
      return sdk::error(sdk::Code::kDeadlineExceeded,
                        "the mount did not appear within " +
                            std::to_string(spec.mount_timeout.count()) + " ms" +
                            (tail.empty() ? "" : ": " + tail));
    }
    std::this_thread::sleep_for(kPoll);
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
