// The FUSE adapter: a fixed inode table built from the configuration (directories and
// secret files), the control directory .leasefs/ (status, leases/), and the low-level
// operations, each a small handler sending exactly one reply. Only open() of a secret
// file reaches the server (through SecretSource); lookup, getattr and readdir answer
// from the table. run_mount() wires client, source, auditor and session together.
#pragma once

#include <string>

#include "fs/config.h"

namespace leasefs::fs {

struct RunOptions {
  std::string mountpoint{};
  bool foreground = false;
  std::string config_file{};  // for log lines only
  // Where the log goes once mounted (appended; created 0600), instead of stderr, which
  // fuse_daemonize points at /dev/null. "" keeps stderr. Opened before mounting.
  std::string log_file{};
};

// Mounts, serves until SIGTERM/SIGINT or an unmount, then cleans up. Returns an exit
// code from exit_codes.h. Logs to stderr, or to options.log_file (no secret values).
int run_mount(const MountConfig& config, const RunOptions& options);

}  // namespace leasefs::fs
