// Who is opening a file: the FUSE request's uid/gid/pid turned into the process (the
// thread group), its executable, supplementary groups and cgroup, read from /proc; and
// the check of a file's `allow` rules against it. /proc is racy by nature (a process can
// exit or exec in between); anything that cannot be read is left empty, and a rule that
// needs it then refuses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

#include "fs/config.h"

namespace leasefs::fs {

struct Caller {
  std::int64_t pid = -1;  // the thread group id; 0 when the caller is outside our pid namespace
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups{};  // supplementary groups
  std::string exe{};                    // "/usr/bin/cat"; "" when unknown
  std::string cgroup{};                 // cgroup v2 path "/system.slice/x.service"; "" when unknown
};

// Fills a Caller from the request's uid, gid and thread id. Reads /proc; never blocks
// on the network. Thread-safe.
//
// A thread seen before is answered from a cache that holds an O_PATH descriptor of its
// /proc/TGID/task/TID. Without process events, one readlinkat of "exe" through it per
// call both proves the thread is the same one (a descriptor of a thread that exited
// fails, even when its id has been reused) and gives the current executable (an exec
// replaces it, and then the rest is read again). With process events
// (watch_process_events), a thread with no exec, fork or loss of events since it was
// read is answered from the cache alone, for up to a second after the last read, unless
// `fresh_exe` or `fresh_cgroup` (an allow rule tests the executable or the cgroup: a
// rule is always checked against /proc, never against the cache). The cgroup comes from
// the cache while it is younger than a second and the executable is unchanged, unless
// `fresh_cgroup`. Supplementary groups are read, always fresh, only with `need_groups`
// (a read of /proc/TID/status).
Caller describe_caller(std::uint32_t uid, std::uint32_t gid, pid_t tid, bool need_groups = true,
                       bool fresh_cgroup = true, bool fresh_exe = true);

// Subscribes describe_caller to the kernel's exec, fork and exit events (see
// proc_events.h), so it can answer a known thread without reading /proc. Returns "" when
// the events flow, else why they cannot be used (describe_caller then reads /proc every
// time). Call once, early; later calls return "" once it has worked.
std::string watch_process_events();

// "on", "off: <why>" or "not started", for the mount's status file.
std::string process_events_state();

// Empty when `caller` passes every non-empty list of `rules`; else the reason
// ("uid 1000 is not allowed").
std::string check_allow(const AllowRules& rules, const Caller& caller);

}  // namespace leasefs::fs
