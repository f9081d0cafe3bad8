// `leasefs volume-plugin`: the process around VolumeDriver — the unix socket server, the
// signal loop, systemd notification and an orderly stop that leaves nothing mounted.
#pragma once

#include <chrono>
#include <string>

#include "fs/volume/volume_driver.h"

namespace leasefs::fs::volume {

struct PluginOptions {
  std::string socket_path = "/run/docker/plugins/leasefs.sock";
  DriverOptions driver{};
};

// Every exit code of `leasefs volume-plugin`.
enum PluginExit : int {
  kPluginOk = 0,      // stopped on SIGTERM or SIGINT, every volume unmounted
  kPluginError = 1,   // the state or a directory could not be used
  kPluginUsage = 2,   // bad command line
  kPluginSocket = 4,  // the socket could not be served (in use, no permission)
};

// Serves until SIGTERM or SIGINT, then stops accepting, unmounts every volume (each
// bounded by driver.stop_timeout) and removes the socket. Blocks SIGTERM, SIGINT and
// SIGHUP in the calling thread (threads it starts inherit that). Sends READY=1 to
// systemd once the socket accepts. Returns a PluginExit.
int run_volume_plugin(const PluginOptions& options);

}  // namespace leasefs::fs::volume
