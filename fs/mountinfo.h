// What /proc/self/mountinfo says about leasefs mounts, for the daemon (a dead mount left
// on its mountpoint) and the volume plugin (is a volume's child mounted yet).
#pragma once

#include <string>

namespace leasefs::fs {

// True when `dir` (absolute, normalized) is a mount point of type fuse.leasefs in this
// process's mount namespace.
bool is_leasefs_mount(const std::string& dir);

}  // namespace leasefs::fs
