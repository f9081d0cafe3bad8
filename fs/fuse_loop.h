// The mount's FUSE request loop: a pool of threads reading requests from the session's
// device and handing each to libfuse's dispatcher (fuse_session_process_buf), in place of
// libfuse's fuse_session_loop_mt.
//
// Why not libfuse's loop: a request that finds its thread asleep pays a wake-up and a
// context switch, and open+read+close is three requests in a row. libfuse's loop keeps
// every idle thread blocked in read(2) on the device, and the kernel wakes the longest
// idle one, so nearly every request lands on a cold, sleeping thread. Here
//   - after a request, one thread at a time keeps looking for the next one for a short
//     while (`spin`) before it sleeps, so the request that follows (the read after an
//     open, the next open of a busy reader) is handled at once by a warm thread, without
//     waiting for a sleeper to be scheduled. Only while requests come from a single
//     caller: once two callers (threads) have sent requests within 10 ms, nobody spins
//     for 10 ms, since several callers keep the CPUs busy and a spinner only takes time
//     from them;
//   - the others sleep in epoll, each an exclusive waiter on the (non-blocking) device,
//     so a request wakes one of them (even while a thread spins: the kernel skips only
//     epoll sets nobody waits in, so the sleeper it wakes may find the request taken and
//     sleep again — a wasted wake-up, not a delay);
//   - the pool starts at `min_threads` (one per CPU, 2 to 8) and grows by one whenever
//     every thread has been busy for 5 ms and one of them is waiting rather than
//     running (a handler that waits for the server must not hold up cached reads for
//     longer), up to `max_threads`; threads above the minimum that have had nothing to
//     do for `idle_exit` end. Threads busy only because they were preempted (a loaded
//     machine) do not make it grow: another thread would just compete for the same
//     CPUs. The threads are named "leasefs-fuse".
// bench/fuse_bench.sh measures both loops (a minimal daemon runs either).
#pragma once

#include <chrono>

struct fuse_session;

namespace leasefs::fs {

// One thread per CPU, 2 to 8.
int default_fuse_threads();

struct FuseLoopOptions {
  int min_threads = default_fuse_threads();
  int max_threads = 64;
  // How long the thread that finished a request looks for the next one before it sleeps.
  // Zero: never (every idle thread sleeps in poll).
  std::chrono::microseconds spin{20};
  std::chrono::milliseconds idle_exit{30'000};
};

// Serves `session` (mounted) until it ends: unmounted, or fuse_session_exit (libfuse's
// SIGTERM/SIGINT handlers call it), noticed within 100 ms. A handler still running
// then is waited for (handlers have their own time bounds). Returns 0 when the session
// ended, or -errno when the loop failed (reading the device, or setting up: the cause
// is logged then; the session is ended too). The threads block SIGTERM, SIGINT, SIGHUP
// and SIGQUIT.
int run_fuse_loop(fuse_session* session, const FuseLoopOptions& options = {});

}  // namespace leasefs::fs
