// One volume's `leasefs mount --foreground` child process: started and watched until
// its FUSE mount appears, stopped with SIGTERM and, when that is not enough, SIGKILL
// and a lazy unmount, so that nothing stays mounted. Every wait here has a bound.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <sys/types.h>

#include "backend/sdk/status.h"
#include "fs/mountinfo.h"

namespace leasefs::fs::volume {

namespace sdk = backend::sdk;

// Detaches whatever FUSE mount is on `dir`: umount2(MNT_DETACH), then
// `fusermount3 -u -z` (bounded) when that is refused. Errors: unavailable naming both
// failures. Nothing mounted is not an error.
sdk::Status detach_mount(const std::string& dir);

struct MountChildSpec {
  std::string binary{};       // the leasefs executable
  std::string mountpoint{};   // an existing directory
  std::string config_file{};  // passed as --config
  std::string log_file{};     // the child's stdout and stderr (truncated at start)
  std::chrono::milliseconds mount_timeout{10'000};
};

class MountChild {
 public:
  // Spawns `BINARY mount MOUNTPOINT --config FILE --foreground` and waits up to
  // mount_timeout until the child has sent READY=1 (to a NOTIFY_SOCKET of its own) and
  // MOUNTPOINT is a leasefs mount. The child gets SIGTERM when the
  // thread that started it ends (PR_SET_PDEATHSIG), so a plugin that dies takes its
  // mounts with it. Errors: unavailable with the exit code and the last lines of the
  // log when the child exits first (a mount it left behind, dead, is detached);
  // deadline_exceeded when the mount is not up in time (the child is then stopped and
  // the mount detached). Not thread-safe.
  static sdk::Result<std::unique_ptr<MountChild>> start(const MountChildSpec& spec);

  // stop() with the default bound.
  ~MountChild();
  MountChild(const MountChild&) = delete;
  MountChild& operator=(const MountChild&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& mountpoint() const { return spec_.mountpoint; }
  // True while the child runs (reaps it once it has exited).
  bool running();
  // SIGTERM, wait up to `timeout`; past it SIGKILL. Then detaches the mount if the
  // child left it behind. Returns how the child ended ("exit code 0", "killed after
  // 10s", ...) for the log. Idempotent.
  std::string stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  MountChild() = default;
  std::string describe_exit() const;

  MountChildSpec spec_{};
  pid_t pid_ = -1;
  bool reaped_ = false;
  int wait_status_ = 0;
  bool killed_ = false;
};

// The last `lines` non-empty lines of a file, joined with "; " and cut to 600 bytes.
std::string log_tail(const std::string& file, std::size_t lines = 3);

}  // namespace leasefs::fs::volume
