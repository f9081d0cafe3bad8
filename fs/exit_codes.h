// Every exit code of `leasefs mount` (docs/mount.md lists them too).
#pragma once

namespace leasefs::fs {

enum MountExit : int {
  kMountOk = 0,      // unmounted cleanly (SIGTERM, SIGINT, or fusermount3 -u)
  kMountError = 1,   // the FUSE session failed while mounted
  kMountUsage = 2,   // bad command line
  kMountConfig = 3,  // the configuration file is missing or invalid
  kMountFailed = 4,  // the mount itself failed (mountpoint, /dev/fuse, permissions)
  kMountAuth = 5,    // the token file or AppRole files cannot be read
};

}  // namespace leasefs::fs
