// Test helper: a real `leasefs mount --foreground` child on a fresh directory. start()
// writes the configuration, spawns the daemon (killed with the test process through
// PR_SET_PDEATHSIG) and polls /proc/self/mountinfo with a deadline until the mount is
// there; stop() sends SIGTERM and waits with a deadline. Every path — failed start,
// destructor, timed-out stop — ends with the daemon reaped and the mount gone
// (fusermount3 -uz, then umount -l), so no test leaves a mount or process behind.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include "tests/support/process.h"

namespace leasefs::testing {

// True when `dir` is a mount point of type fuse.leasefs (per /proc/self/mountinfo).
bool is_leasefs_mount(const std::string& dir);
// Whether this machine can mount FUSE at all (/dev/fuse, fusermount3, root).
std::string fuse_unavailable_reason();

struct MountExit {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
};

class MountProcess {
 public:
  // `dir` holds the config file, the log and the mountpoint "mnt".
  static std::expected<std::unique_ptr<MountProcess>, std::string> start(
      const nlohmann::json& config, const std::string& dir,
      std::chrono::milliseconds timeout = std::chrono::seconds(15),
      const std::vector<std::string>& env = {});  // "K=V" added to the daemon's environment
  ~MountProcess();

  const std::string& mountpoint() const { return mountpoint_; }
  std::string path(const std::string& file) const { return mountpoint_ + "/" + file; }
  pid_t pid() const { return pid_; }
  // The daemon's stderr and stdout so far.
  std::string log() const;
  // SIGTERM, then wait up to `timeout` (SIGKILL and timed_out past it). Unmounts
  // forcibly if the daemon left the mount behind.
  MountExit stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool running();
  // The mountpoint now belongs to another daemon: this one's cleanup leaves it alone.
  void disown_mountpoint() { mountpoint_.clear(); }

 private:
  MountProcess() = default;
  void force_cleanup();

  pid_t pid_ = -1;
  std::string mountpoint_{};
  std::string log_file_{};
  bool reaped_ = false;
  MountExit exit_{};
};

// Runs a command with a 20 s deadline (run_process), for cat/stat/getfattr/setpriv.
ProcessResult run(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace leasefs::testing
