// Exec and exit notifications from the kernel's process connector (netlink,
// NETLINK_CONNECTOR / CN_IDX_PROC), so the caller cache (caller.cc) can keep a thread's
// executable without reading /proc/TID/exe on every open.
//
// The kernel queues an exec's notification on the socket from inside execve, before the
// new program runs, and a fork's (a new process or thread) before the new task runs; so
// a request that the new program, or a new owner of a reused thread id, sends is always
// preceded by its event on the socket, and reading what is queued after receiving the
// request is enough to know whether a cached answer still holds. (An exit's event can
// come a little after its id is free again, so exits are not what proves an id's reuse:
// the new owner's fork event is.) When the socket's buffer overflows, the next read
// reports kLost: some events were dropped and nothing cached can be trusted.
//
// Subscribing needs CAP_NET_ADMIN and the initial user, pid and network namespaces (the
// events name processes by their pids there). open() proves that events arrive and that
// their pids are the ones this process sees (it starts a thread and waits for its exit
// event), and fails otherwise; the caller then reads /proc every time, as before.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include <sys/types.h>

#include "backend/sdk/status.h"

namespace leasefs::fs {

struct ProcEvent {
  enum Kind { kFork, kExec, kExit, kLost };
  Kind kind = kLost;
  // The thread: for kFork the new one, for kExec the one that now runs the new program
  // (the group leader's id, even when another thread called execve), for kExit the one
  // that ended.
  pid_t pid = 0;
  pid_t tgid = 0;  // its thread group
};

class ProcEvents {
 public:
  // Subscribes and waits up to `proof_timeout` for the proof above. The error says why
  // the events cannot be used ("socket: Operation not permitted").
  static backend::sdk::Result<std::unique_ptr<ProcEvents>> open(
      std::chrono::milliseconds proof_timeout);
  ~ProcEvents();  // unsubscribes
  ProcEvents(const ProcEvents&) = delete;
  ProcEvents& operator=(const ProcEvents&) = delete;

  // Appends the fork, exec and exit events queued so far to `out`, without blocking
  // (other kinds are skipped), and a kLost when the kernel dropped some for want of buffer space.
  // Not thread-safe: the caller serializes, and applies the events before it trusts
  // anything cached.
  void read_queued(std::vector<ProcEvent>& out);

 private:
  explicit ProcEvents(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace leasefs::fs
