// `leasefs mount MOUNTPOINT --config FILE [--foreground] [--log-file FILE]`: the FUSE daemon (fs/). This
// file only parses flags and the configuration; fs::run_mount does the rest.
#include "backend/sdk/log.h"
#include "cli/cli.h"
#include "fs/config.h"
#include "fs/exit_codes.h"
#include "fs/mount.h"

namespace leasefs::cli {

namespace {

struct MountFlags {
  std::string mountpoint;
  std::string config_file;
  bool foreground = false;
  std::string log_level;
  std::string log_file;
};

int run(const MountFlags& f) {
  if (!f.log_level.empty()) {
    backend::sdk::LogLevel level{};
    if (!backend::sdk::parse_log_level(f.log_level, level)) {
      fail("--log-level: want trace, debug, info, warn, error or off");
      return fs::kMountUsage;
    }
    backend::sdk::set_log_level(level);
  }
  auto config = fs::load_mount_config(f.config_file);
  if (!config) {
    fail(config.error());
    return fs::kMountConfig;
  }
  return fs::run_mount(*config, fs::RunOptions{.mountpoint = f.mountpoint,
                                               .foreground = f.foreground,
                                               .config_file = f.config_file,
                                               .log_file = f.log_file});
}

}  // namespace

void register_mount_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<MountFlags>();
  auto* cmd = app.add_subcommand(
      "mount",
      "Mount a directory where opening a file generates a leased secret (FUSE). Unmounts "
      "cleanly on SIGTERM or SIGINT. Exit codes: 0 unmounted cleanly, 1 FUSE session "
      "error, 2 usage, 3 bad configuration, 4 mount failed, 5 token or AppRole files "
      "unreadable");
  cmd->add_option("mountpoint", flags->mountpoint, "Directory to mount on")->required();
  cmd->add_option("--config", flags->config_file, "Mount configuration (JSON)")->required();
  cmd->add_flag("--foreground,-f", flags->foreground, "Stay in the foreground (no daemon)");
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off");
  cmd->add_option("--log-file", flags->log_file,
                  "Once mounted, append the log to FILE (created 0600) instead of stderr; "
                  "without --foreground stderr is /dev/null");
  cmd->callback([flags, &exit_code] { exit_code = run(*flags); });
}

}  // namespace leasefs::cli
