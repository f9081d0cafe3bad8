// Caller identity from /proc and allow rules; see caller.h.
#include "fs/caller.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace leasefs::fs {

namespace {

// One read(2) of a small /proc file (status, cgroup): cheaper than a stream on the
// open path.
std::string read_small_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Thread id -> thread group id of readers that are not group leaders (threads of a
// multithreaded service). Checked on use: the entry holds while /proc/TGID/task/TID
// exists, which a reused tid in another process would not satisfy.
class TgidCache {
 public:
  std::int64_t find(pid_t tid) {
    std::int64_t tgid = 0;
    {
      std::lock_guard lock(mu_);
      auto it = map_.find(tid);
      if (it == map_.end()) return 0;
      tgid = it->second;
    }
    std::string task = "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid);
    return ::access(task.c_str(), F_OK) == 0 ? tgid : 0;
  }
  void put(pid_t tid, std::int64_t tgid) {
    std::lock_guard lock(mu_);
    if (map_.size() >= 4096) map_.clear();
    map_[tid] = tgid;
  }

 private:
  std::mutex mu_;
  std::unordered_map<pid_t, std::int64_t> map_;
};

TgidCache& tgid_cache() {
  static TgidCache cache;
  return cache;
}

}  // namespace

Caller describe_caller(std::uint32_t uid, std::uint32_t gid, pid_t tid, bool need_groups) {
  Caller c;
  c.uid = uid;
  c.gid = gid;
  c.pid = tid;
  if (tid <= 0) return c;
  // The request carries a thread id; the process is its thread group. pidfd_open
  // succeeds only for a group leader, which is the common case (a single-threaded
  // reader) and is much cheaper than /proc/TID/status.
  bool leader = false;
  if (int fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, 0)); fd >= 0) {
    ::close(fd);
    leader = true;
  }
  if (!leader && !need_groups) {
    if (std::int64_t tgid = tgid_cache().find(tid); tgid > 0) c.pid = tgid;
  }
  std::string status;
  if ((!leader && c.pid == tid) || need_groups) {
    status = read_small_file("/proc/" + std::to_string(tid) + "/status");
  }
  std::istringstream lines(status);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("Tgid:", 0) == 0) {
      c.pid = std::strtoll(line.c_str() + 5, nullptr, 10);
      if (c.pid != tid) tgid_cache().put(tid, c.pid);
    } else if (line.rfind("Groups:", 0) == 0) {
      std::istringstream groups(line.substr(7));
      std::uint32_t g = 0;
      while (groups >> g) c.groups.push_back(g);
    }
  }
  std::string base = "/proc/" + std::to_string(c.pid);
  char buf[PATH_MAX];
  ssize_t n = ::readlink((base + "/exe").c_str(), buf, sizeof buf - 1);
  if (n > 0) c.exe.assign(buf, static_cast<std::size_t>(n));
  // cgroup v2: the "0::" line.
  std::istringstream cg(read_small_file(base + "/cgroup"));
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) == 0) {
      c.cgroup = line.substr(3);
      break;
    }
  }
  return c;
}

std::string check_allow(const AllowRules& rules, const Caller& caller) {
  if (!rules.uids.empty() &&
      std::find(rules.uids.begin(), rules.uids.end(), caller.uid) == rules.uids.end()) {
    return "uid " + std::to_string(caller.uid) + " is not allowed";
  }
  if (!rules.gids.empty()) {
    bool found = std::find(rules.gids.begin(), rules.gids.end(), caller.gid) != rules.gids.end();
    for (auto g : caller.groups) {
      found = found || std::find(rules.gids.begin(), rules.gids.end(), g) != rules.gids.end();
    }
    if (!found) return "gid " + std::to_string(caller.gid) + " is not allowed";
  }
  if (!rules.exe.empty()) {
    if (caller.exe.empty()) return "the caller's executable is unknown";
    if (std::find(rules.exe.begin(), rules.exe.end(), caller.exe) == rules.exe.end()) {
      return "executable " + caller.exe + " is not allowed";
    }
  }
  if (!rules.cgroups.empty()) {
    if (caller.cgroup.empty()) return "the caller's cgroup is unknown";
    bool found = false;
    for (const auto& rule : rules.cgroups) {
      if (caller.cgroup == rule || rule == "/" ||
          (caller.cgroup.rfind(rule, 0) == 0 && caller.cgroup[rule.size()] == '/')) {
        found = true;
      }
    }
    if (!found) return "cgroup " + caller.cgroup + " is not allowed";
  }
  return {};
}

}  // namespace leasefs::fs
