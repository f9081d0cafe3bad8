// Caller identity from /proc and allow rules; see caller.h.
#include "fs/caller.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/proc_events.h"

namespace leasefs::fs {

namespace {

// One read(2) of a small /proc file (status, cgroup) relative to `dir` (AT_FDCWD for an
// absolute path): cheaper than a stream on the open path.
std::string read_small_file(int dir, const char* path) {
  int fd = ::openat(dir, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// The cgroup v2 path (the "0::" line) of the process or thread whose /proc dir is `dir`.
std::string read_cgroup(int dir) {
  std::string text = read_small_file(dir, "cgroup");
  std::string_view v = text;
  std::size_t at = 0;
  while (at < v.size()) {
    std::size_t eol = v.find('\n', at);
    std::string_view line = v.substr(at, eol == std::string_view::npos ? v.npos : eol - at);
    if (line.starts_with("0::")) return std::string(line.substr(3));
    if (eol == std::string_view::npos) break;
    at = eol + 1;
  }
  return {};
}

// readlinkat(dir, "exe"); "" when it cannot be read (the thread exited, a kernel thread).
std::string read_exe(int dir) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(dir, "exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// What is known of one reader thread, and a descriptor that stays tied to it.
struct Known {
  Known(int task_dir, std::int64_t group) : dir(task_dir), tgid(group) {}
  ~Known() { ::close(dir); }
  Known(const Known&) = delete;
  Known& operator=(const Known&) = delete;
  int dir;  // O_PATH of /proc/TGID/task/TID
  std::int64_t tgid;
  // Guarded by CallerCache::mu_:
  std::string exe{};
  std::string cgroup{};
  std::chrono::steady_clock::time_point exe_read{};
  std::chrono::steady_clock::time_point cgroup_read{};
};

// Thread id -> Known. Bounded: descriptors count against the daemon's fd limit.
class CallerCache {
 public:
  static constexpr std::size_t kMax = 256;
  // How long a cgroup read is reused, and (with process events) an executable.
  static constexpr auto kReadFor = std::chrono::seconds(1);

  // Under mu_: applies the process events queued so far. An exec drops every thread of
  // its group (the others are gone; the one that called execve may have had another
  // id), a fork drops the new id (reused), an exit its own, a loss everything.
  void catch_up_locked() {
    if (!events_) return;
    events_->read_queued(scratch_);
    for (const ProcEvent& e : scratch_) {
      ++epoch_;
      switch (e.kind) {
        case ProcEvent::kFork:
        case ProcEvent::kExit:
          map_.erase(e.pid);
          break;
        case ProcEvent::kExec:
          std::erase_if(map_, [&](const auto& entry) { return entry.second->tgid == e.tgid; });
          break;
        case ProcEvent::kLost:
          map_.clear();
          break;
      }
    }
    scratch_.clear();
  }
  std::shared_ptr<Known> find_locked(pid_t tid) {
    auto it = map_.find(tid);
    return it == map_.end() ? nullptr : it->second;
  }
  // Caches what was read after the events up to `epoch` were applied, unless more
  // arrived meanwhile (one of them may be about this thread).
  void put(pid_t tid, std::shared_ptr<Known> k, std::uint64_t epoch) {
    std::lock_guard lock(mu_);
    catch_up_locked();
    if (epoch != epoch_) return;
    if (map_.size() >= kMax) map_.clear();
    map_[tid] = std::move(k);
  }
  void drop(pid_t tid, const std::shared_ptr<Known>& k) {
    std::lock_guard lock(mu_);
    auto it = map_.find(tid);
    if (it != map_.end() && it->second == k) map_.erase(it);
  }
  std::mutex mu_;
  std::unique_ptr<ProcEvents> events_;        // mu_; set once by watch_process_events
  std::uint64_t epoch_ = 0;                   // mu_; events applied so far
  std::string events_state_ = "not started";  // mu_

 private:
  std::unordered_map<pid_t, std::shared_ptr<Known>> map_;
  std::vector<ProcEvent> scratch_;
};

// Never destroyed: FUSE threads may still describe callers while the process exits.
CallerCache& caller_cache() {
  static CallerCache* cache = new CallerCache;
  return *cache;
}

// The thread group of `tid`, from /proc/TID/status (also its supplementary groups when
// `groups` is given); 0 when it cannot be read.
std::int64_t read_status(pid_t tid, std::vector<std::uint32_t>* groups) {
  std::string path = "/proc/" + std::to_string(tid) + "/status";
  std::istringstream lines(read_small_file(AT_FDCWD, path.c_str()));
  std::string line;
  std::int64_t tgid = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("Tgid:", 0) == 0) {
      tgid = std::strtoll(line.c_str() + 5, nullptr, 10);
    } else if (groups != nullptr && line.rfind("Groups:", 0) == 0) {
      std::istringstream list(line.substr(7));
      std::uint32_t g = 0;
      while (list >> g) groups->push_back(g);
    }
  }
  return tgid;
}

}  // namespace

std::string watch_process_events() {
  auto& cache = caller_cache();
  {
    std::lock_guard lock(cache.mu_);
    if (cache.events_) return {};
  }
  auto events = ProcEvents::open(std::chrono::milliseconds(500));
  std::lock_guard lock(cache.mu_);
  if (!events) {
    cache.events_state_ = "off: " + events.error().message();
    return events.error().message();
  }
  cache.events_ = std::move(*events);
  cache.events_state_ = "on";
  // Unsubscribe on the way out, so the kernel stops composing events for this socket.
  std::atexit([] {
    auto& c = caller_cache();
    std::lock_guard exiting(c.mu_);
    c.events_.reset();
    c.events_state_ = "off: the process is exiting";
  });
  return {};
}

std::string process_events_state() {
  auto& cache = caller_cache();
  std::lock_guard lock(cache.mu_);
  return cache.events_state_;
}

Caller describe_caller(std::uint32_t uid, std::uint32_t gid, pid_t tid, bool need_groups,
                       bool fresh_cgroup, bool fresh_exe) {
  Caller c;
  c.uid = uid;
  c.gid = gid;
  c.pid = tid;
  if (tid <= 0) return c;
  auto& cache = caller_cache();
  auto now = std::chrono::steady_clock::now();
  std::int64_t tgid = 0;
  if (need_groups) tgid = read_status(tid, &c.groups);

  std::shared_ptr<Known> known;
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(cache.mu_);
    cache.catch_up_locked();
    epoch = cache.epoch_;
    known = cache.find_locked(tid);
    // With process events, no exec, fork or loss since the thread was cached means it
    // runs the same program: answered without reading /proc.
    if (known && cache.events_ && !fresh_exe && !fresh_cgroup &&
        (tgid == 0 || tgid == known->tgid) && now - known->exe_read < CallerCache::kReadFor &&
        now - known->cgroup_read < CallerCache::kReadFor) {
      c.pid = known->tgid;
      c.exe = known->exe;
      c.cgroup = known->cgroup;
      return c;
    }
  }

  if (known) {
    std::string exe = read_exe(known->dir);
    if (!exe.empty() && (tgid == 0 || tgid == known->tgid)) {
      c.pid = known->tgid;
      std::string cgroup;
      bool stale = false;
      {
        std::lock_guard lock(cache.mu_);
        stale =
            fresh_cgroup || exe != known->exe || now - known->cgroup_read >= CallerCache::kReadFor;
        if (!stale) cgroup = known->cgroup;
        known->exe = exe;
        known->exe_read = now;
      }
      if (stale) {
        cgroup = read_cgroup(known->dir);
        std::lock_guard lock(cache.mu_);
        known->cgroup = cgroup;
        known->cgroup_read = now;
      }
      c.exe = std::move(exe);
      c.cgroup = std::move(cgroup);
      return c;
    }
    cache.drop(tid, known);  // exited (its id may be another thread's now)
  }

  // First sight of this thread. pidfd_open succeeds only for a group leader, the common
  // case (a single-threaded reader), and is cheaper than /proc/TID/status.
  if (tgid == 0) {
    if (int fd = static_cast<int>(::syscall(SYS_pidfd_open, tid, 0)); fd >= 0) {
      ::close(fd);
      tgid = tid;
    } else {
      tgid = read_status(tid, nullptr);
    }
  }
  if (tgid <= 0) return c;
  c.pid = tgid;
  std::string task = "/proc/" + std::to_string(tgid) + "/task/" + std::to_string(tid);
  int dir = ::open(task.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return c;  // gone already
  known = std::make_shared<Known>(dir, tgid);
  c.exe = read_exe(dir);
  c.cgroup = read_cgroup(dir);
  if (c.exe.empty()) return c;  // exited meanwhile, or a kernel thread: not cached
  known->exe = c.exe;
  known->cgroup = c.cgroup;
  known->exe_read = now;
  known->cgroup_read = now;
  cache.put(tid, std::move(known), epoch);
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
