// A leasefs mount daemon for tests; see mount_fixture.h.
#include "tests/fuse/mount_fixture.h"

#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace leasefs::testing {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool is_leasefs_mount(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point != dir) continue;
    if (line.find(" - fuse.leasefs ") != std::string::npos) return true;
  }
  return false;
}

std::string fuse_unavailable_reason() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return "/dev/fuse is missing or not usable";
  if (::access("/usr/bin/fusermount3", X_OK) != 0) return "fusermount3 is not installed";
  if (::geteuid() != 0) return "FUSE tests need root (allow_other, setpriv)";
  return {};
}

ProcessResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  return run_process(argv, "", timeout);
}

std::expected<std::unique_ptr<MountProcess>, std::string> MountProcess::start(
    const nlohmann::json& config, const std::string& dir, std::chrono::milliseconds timeout,
    const std::vector<std::string>& env) {
  std::unique_ptr<MountProcess> m(new MountProcess());
  m->mountpoint_ = dir + "/mnt";
  m->log_file_ = dir + "/mount.log";
  ::mkdir(m->mountpoint_.c_str(), 0755);
  std::string config_file = dir + "/mount.json";
  {
    std::ofstream out(config_file);
    out << config.dump(2);
  }
  std::string binary = leasefs_binary();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return std::unexpected("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(m->log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
    ::execl(binary.c_str(), binary.c_str(), "mount", m->mountpoint_.c_str(), "--config",
            config_file.c_str(), "--foreground", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  m->pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!is_leasefs_mount(m->mountpoint_)) {
    if (!m->running()) {
      return std::unexpected("leasefs mount exited with code " +
                             std::to_string(m->exit_.exit_code) + ":\n" + m->log());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::string log = m->log();
      m->stop(std::chrono::seconds(5));
      return std::unexpected("the mount did not appear in time:\n" + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return m;
}

MountProcess::~MountProcess() {
  if (running()) stop(std::chrono::seconds(5));
  force_cleanup();
}

std::string MountProcess::log() const {
  return read_file(log_file_);
}

bool MountProcess::running() {
  if (reaped_ || pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  reaped_ = true;
  if (r == pid_) {
    if (WIFEXITED(status)) exit_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) exit_.signal = WTERMSIG(status);
  }
  return false;
}

MountExit MountProcess::stop(std::chrono::milliseconds timeout) {
  if (running()) {
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        reaped_ = true;
        exit_.timed_out = true;
        exit_.signal = SIGKILL;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  force_cleanup();
  return exit_;
}

void MountProcess::force_cleanup() {
  if (mountpoint_.empty() || !is_leasefs_mount(mountpoint_)) return;
  run_process({"/usr/bin/fusermount3", "-uz", mountpoint_}, "", std::chrono::seconds(10));
  if (is_leasefs_mount(mountpoint_)) {
    run_process({"/usr/bin/umount", "-l", mountpoint_}, "", std::chrono::seconds(10));
  }
}

}  // namespace leasefs::testing
