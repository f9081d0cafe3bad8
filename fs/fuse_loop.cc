// The mount's FUSE request loop; see fuse_loop.h.
#define FUSE_USE_VERSION 312
#include "fs/fuse_loop.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/sdk/log.h"

namespace leasefs::fs {
namespace {

namespace sdk = backend::sdk;
using Clock = std::chrono::steady_clock;
constexpr auto kExitCheck = std::chrono::milliseconds(100);
// While a request is being handled, the loop looks this often whether every thread is
// busy, and adds one when they have all been busy for kGrowAfter.
constexpr auto kGrowCheck = std::chrono::milliseconds(5);
constexpr auto kGrowAfter = std::chrono::milliseconds(5);
// After a thread could not be started, no new one is tried for this long.
constexpr auto kGrowBackoff = std::chrono::seconds(1);
constexpr auto kSeveralCallers = std::chrono::milliseconds(10);

struct Pool {
  ~Pool() {
    if (stop_fd >= 0) ::close(stop_fd);
  }

  fuse_session* session = nullptr;
  FuseLoopOptions options{};
  int fd = -1;       // the session's device, non-blocking
  int stop_fd = -1;  // an eventfd, readable once the loop ends: wakes every sleeper

  std::mutex mu;
  std::condition_variable changed;      // a thread ended, or one got busy while main_dozing
  int threads = 0;                      // mu
  int idle = 0;                         // mu: threads not handling a request
  Clock::time_point all_busy_since{};   // mu: when idle last became 0; {} while idle > 0
  std::vector<pid_t> busy_tids{};       // mu: the threads handling a request now
  bool main_dozing = false;             // mu: the main loop waits kExitCheck, not kGrowCheck
  int error = 0;                        // mu: the first failure (-errno)
  bool spawn_failed = false;            // mu: logged once
  Clock::time_point no_growth_until{};  // mu: set when a thread could not be started
  std::atomic<int> spinners{0};         // at most one thread looks for work instead of sleeping
  // The caller (thread id) of the last request, and steady-clock nanoseconds until which
  // no thread spins: set when requests come from more than one caller (note_caller).
  std::atomic<std::uint32_t> last_caller{0};
  std::atomic<std::int64_t> no_spin_until{0};
  std::atomic<bool> stopping{false};
};

void stop(Pool& pool) {
  if (pool.stopping.exchange(true)) return;
  const std::uint64_t one = 1;
  // An eventfd's counter cannot overflow from one write; a failure leaves the sleepers
  // to notice the stop at their next poll timeout.
  (void)!::write(pool.stop_fd, &one, sizeof one);
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

void worker(std::shared_ptr<Pool> pool);

// Under pool.mu. Logs the first failure to start a thread; each failure holds off
// growth for kGrowBackoff.
void growth_failed_locked(Pool& pool, const std::string& why) {
  pool.no_growth_until = Clock::now() + kGrowBackoff;
  if (pool.spawn_failed) return;
  pool.spawn_failed = true;
  sdk::log_warn("mount", "cannot start another FUSE thread (" + why + "); serving with " +
                             std::to_string(pool.threads) + " (logged once)");
}

// Under pool.mu. A thread that cannot be started leaves the pool as it is. The threads
// block the signals libfuse handles (as libfuse's own workers do), so SIGTERM lands on
// the main thread and never interrupts a handler's system call.
void spawn_locked(const std::shared_ptr<Pool>& pool) {
  sigset_t handled;
  sigset_t previous;
  sigemptyset(&handled);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) sigaddset(&handled, sig);
  pthread_sigmask(SIG_BLOCK, &handled, &previous);
  try {
    std::thread(worker, pool).detach();
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    growth_failed_locked(*pool, e.what());
    return;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ++pool->threads;
  ++pool->idle;
}

// Whether one of `tids` (threads of this process) is asleep or in an uninterruptible
// wait, rather than running or waiting for a CPU: /proc/self/task/TID/stat's state.
// When no state can be read (no /proc), says yes: the pool then grows as it would
// without this check.
bool any_waiting(const std::vector<pid_t>& tids) {
  bool read_any = false;
  for (pid_t tid : tids) {
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // ended meanwhile, or no /proc
    char text[512];
    const ssize_t n = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (n <= 0) continue;
    // "TID (comm) S ...": the command may hold spaces and parentheses, the state follows
    // the last ')'.
    const std::string_view stat(text, static_cast<std::size_t>(n));
    const auto close_paren = stat.rfind(')');
    if (close_paren == std::string_view::npos || close_paren + 2 >= stat.size()) continue;
    read_any = true;
    if (stat[close_paren + 2] != 'R') return true;
  }
  return !read_any;
}

std::int64_t steady_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Notes who sent the request in `buf` (the kernel's header names the calling thread).
// Requests from more than one caller within kSeveralCallers turn spinning off until
// then: spinning pays off while one caller waits on each of its requests and a CPU would
// otherwise idle (its next request is served at once by the warm thread); when several
// callers keep the CPUs busy, the spinner only takes time from them, and the sleeper in
// its epoll set is woken for each request anyway (measured with bench/fuse_bench.sh: 4
// readers on 2 CPUs served 20% more opens without spinning, 1 reader 30% fewer).
void note_caller(Pool& pool, const fuse_buf& buf) {
  if ((buf.flags & FUSE_BUF_IS_FD) != 0 || buf.mem == nullptr ||
      buf.size < sizeof(fuse_in_header)) {
    return;
  }
  fuse_in_header header;
  std::memcpy(&header, buf.mem, sizeof header);
  if (header.pid == 0) return;  // the kernel's own (FORGET, INTERRUPT...)
  const std::uint32_t before = pool.last_caller.exchange(header.pid, std::memory_order_relaxed);
  if (before != 0 && before != header.pid) {
    pool.no_spin_until.store(steady_ns(Clock::now() + kSeveralCallers), std::memory_order_relaxed);
  }
}

// Whether this thread, which finished a request at `last`, should look for the next one
// again instead of sleeping. Takes or gives back the single spinning slot.
bool keep_spinning(Pool& pool, bool& spinning, Clock::time_point last) {
  if (pool.options.spin.count() <= 0) return false;
  const auto now = Clock::now();
  if (now - last >= pool.options.spin) {
    if (spinning) {
      spinning = false;
      pool.spinners.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;
  }
  if (spinning) return true;
  if (steady_ns(now) < pool.no_spin_until.load(std::memory_order_relaxed)) return false;
  int none = 0;
  spinning = pool.spinners.compare_exchange_strong(none, 1, std::memory_order_relaxed);
  return spinning;
}

void worker(std::shared_ptr<Pool> shared) {
  Pool& pool = *shared;
  fuse_buf buf{};
  bool spinning = false;
  bool retired = false;
  auto last = Clock::now();  // when this thread last finished a request
  const pid_t tid = ::gettid();
  // Named for operators (top -H, ps -L) and for the tests that count the pool.
  pthread_setname_np(pthread_self(), "leasefs-fuse");
  const int idle_ms = static_cast<int>(
      std::clamp<std::int64_t>(pool.options.idle_exit.count(), 1, std::numeric_limits<int>::max()));
  // Each thread sleeps in its own epoll set holding the device as an exclusive waiter:
  // a request wakes one sleeper, not all of them as poll(2) would (which made every
  // thread the pool grew to cost a wake-up per request). The stop eventfd wakes all.
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event device{.events = EPOLLIN | EPOLLEXCLUSIVE, .data = {.fd = pool.fd}};
  epoll_event stopper{.events = EPOLLIN, .data = {.fd = pool.stop_fd}};
  if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, pool.fd, &device) != 0 ||
      ::epoll_ctl(ep, EPOLL_CTL_ADD, pool.stop_fd, &stopper) != 0) {
    const int err = errno;
    if (ep >= 0) ::close(ep);
    std::lock_guard lock(pool.mu);
    --pool.threads;
    --pool.idle;
    growth_failed_locked(pool, std::string("epoll: ") + std::strerror(err));
    if (pool.threads == 0) {
      sdk::log_error("mount", std::string("no FUSE thread can wait for requests: epoll: ") +
                                  std::strerror(err));
      if (pool.error == 0) pool.error = -err;
      stop(pool);
    }
    pool.changed.notify_all();
    return;
  }
  while (!pool.stopping.load(std::memory_order_relaxed) && !fuse_session_exited(pool.session)) {
    const int res = fuse_session_receive_buf(pool.session, &buf);
    if (res == -EAGAIN) {
      if (keep_spinning(pool, spinning, last)) {
        cpu_relax();
        continue;
      }
      epoll_event ready[2];
      if (::epoll_wait(ep, ready, 2, idle_ms) == 0) {
        std::lock_guard lock(pool.mu);
        if (pool.threads > pool.options.min_threads) {
          --pool.threads;
          --pool.idle;
          retired = true;
          break;
        }
      }
      continue;
    }
    if (res == -EINTR) continue;
    if (res <= 0) {  // 0: unmounted or fuse_session_exit
      if (res < 0) {
        std::lock_guard lock(pool.mu);
        if (pool.error == 0) {
          pool.error = res;
          sdk::log_error("mount", std::string("reading /dev/fuse failed: ") + std::strerror(-res));
        }
      }
      break;
    }
    if (spinning) {
      spinning = false;
      pool.spinners.fetch_sub(1, std::memory_order_relaxed);
    }
    note_caller(pool, buf);
    {
      std::lock_guard lock(pool.mu);
      if (--pool.idle == 0) pool.all_busy_since = Clock::now();
      pool.busy_tids.push_back(tid);
      if (pool.main_dozing) {
        // Have the main loop watch for growth from now, not after its 100 ms doze; it
        // keeps watching while any thread is busy, so this happens once per busy spell.
        pool.main_dozing = false;
        pool.changed.notify_one();
      }
    }
    fuse_session_process_buf(pool.session, &buf);
    {
      std::lock_guard lock(pool.mu);
      ++pool.idle;
      pool.all_busy_since = {};
      std::erase(pool.busy_tids, tid);
    }
    last = Clock::now();
  }
  if (spinning) pool.spinners.fetch_sub(1, std::memory_order_relaxed);
  ::close(ep);
  std::free(buf.mem);
  if (!retired) {
    // The session ended (or the device failed): every thread leaves.
    stop(pool);
    std::lock_guard lock(pool.mu);
    --pool.threads;
    --pool.idle;
  }
  pool.changed.notify_all();
}

}  // namespace

int default_fuse_threads() {
  return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 2, 8);
}

int run_fuse_loop(fuse_session* session, const FuseLoopOptions& options) {
  auto pool = std::make_shared<Pool>();
  pool->session = session;
  pool->options = options;
  pool->options.min_threads = std::max(1, options.min_threads);
  pool->options.max_threads = std::max(pool->options.min_threads, options.max_threads);
  pool->fd = fuse_session_fd(session);
  const int flags = ::fcntl(pool->fd, F_GETFL);
  if (flags < 0 || ::fcntl(pool->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    const int err = errno;
    sdk::log_error("mount",
                   std::string("cannot make /dev/fuse non-blocking: ") + std::strerror(err));
    return -err;
  }
  pool->stop_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (pool->stop_fd < 0) {
    const int err = errno;
    sdk::log_error("mount",
                   std::string("cannot create the FUSE loop's eventfd: ") + std::strerror(err));
    return -err;
  }

  std::unique_lock lock(pool->mu);
  for (int i = 0; i < pool->options.min_threads; ++i) spawn_locked(pool);
  if (pool->threads == 0) {
    sdk::log_error("mount", "no FUSE thread could be started");
    return -EAGAIN;
  }
  // libfuse's signal handlers only mark the session as exited; look for that here, so
  // the threads asleep in epoll are woken rather than left to their idle timeout.
  // And add a thread when all have been busy for a while: handlers that wait for the
  // server (a first open, a shared lease being fetched) must not hold up the others.
  // Growing only then, not whenever the threads are busy at once, keeps the pool at its
  // minimum under a steady load of quick requests, where extra threads only add cold
  // wake-ups (measured: 2 threads serve open+read+close ~1.5x faster than 7 on 2 CPUs).
  while (pool->threads > 0) {
    const bool busy = pool->idle < pool->threads;
    pool->main_dozing = !busy;
    pool->changed.wait_for(lock, busy ? kGrowCheck : kExitCheck);
    pool->main_dozing = false;
    if (fuse_session_exited(session)) {
      lock.unlock();
      stop(*pool);
      lock.lock();
      continue;
    }
    const auto now = Clock::now();
    if (pool->idle == 0 && pool->all_busy_since != Clock::time_point{} &&
        now - pool->all_busy_since >= kGrowAfter && pool->threads < pool->options.max_threads &&
        now >= pool->no_growth_until && !pool->stopping.load()) {
      // Only when a handler is waiting (for the server, a lock, the disk). Threads that
      // are all running or waiting for a CPU were preempted or are computing: another
      // thread would only compete with them for the same CPUs, and would stay (under a
      // steady load nobody is idle long enough to retire). On a loaded machine that is
      // what happened: fuse_bench's cached reads grew the mount's pool from 2 to 3.
      const std::vector<pid_t> handling = pool->busy_tids;
      lock.unlock();
      const bool waiting = any_waiting(handling);
      lock.lock();
      if (waiting && pool->idle == 0 && pool->threads < pool->options.max_threads) {
        spawn_locked(pool);
      }
      // The next look (and the next thread) no sooner than kGrowAfter from now.
      if (pool->all_busy_since != Clock::time_point{}) pool->all_busy_since = now;
    }
  }
  return pool->error;
}

}  // namespace leasefs::fs
