// `leasefs volume-plugin`: Docker's volume plugin, each volume a leasefs mount. This
// file only parses flags; fs/volume does the rest.
#include "backend/sdk/duration.h"
#include "backend/sdk/log.h"
#include "cli/cli.h"
#include "fs/volume/volume_plugin.h"

namespace leasefs::cli {

namespace {

struct VolumePluginFlags {
  fs::volume::PluginOptions options{};
  std::string mount_timeout = "10s";
  std::string log_level{};
};

int run(VolumePluginFlags& f) {
  if (!f.log_level.empty()) {
    backend::sdk::LogLevel level{};
    if (!backend::sdk::parse_log_level(f.log_level, level)) {
      fail("--log-level: want trace, debug, info, warn, error or off");
      return fs::volume::kPluginUsage;
    }
    backend::sdk::set_log_level(level);
  }
  auto timeout = backend::sdk::parse_duration(f.mount_timeout);
  if (!timeout || timeout->count() <= 0) {
    fail("--mount-timeout: want a positive duration such as 10s");
    return fs::volume::kPluginUsage;
  }
  auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
  f.options.driver.mount_timeout = bound;
  f.options.driver.stop_timeout = bound;
  return fs::volume::run_volume_plugin(f.options);
}

}  // namespace

void register_volume_plugin_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<VolumePluginFlags>();
  auto& o = flags->options;
  auto* cmd = app.add_subcommand(
      "volume-plugin",
      "Serve Docker's volume plugin protocol: `docker volume create -d leasefs -o config=NAME "
      "VOLUME` names a mount configuration, and each mounted volume is a `leasefs mount` "
      "(docs/volume-plugin.md). Volumes persist in the state directory. SIGTERM or SIGINT "
      "unmounts every volume and removes the socket. Exit codes: 0 stopped cleanly, 1 state "
      "or directories unusable, 2 usage, 4 socket unusable");
  cmd->add_option("--socket", o.socket_path, "Unix socket Docker connects to")
      ->capture_default_str();
  cmd->add_option("--config-dir", o.driver.config_dir,
                  "Where config=NAME finds NAME.json (mount configurations, docs/mount.md)")
      ->capture_default_str();
  cmd->add_option("--state-dir", o.driver.state_dir,
                  "Where volume definitions, generated configurations and mount logs live")
      ->capture_default_str();
  cmd->add_option("--mount-root", o.driver.mount_root, "Volumes are mounted on MOUNT_ROOT/NAME")
      ->capture_default_str();
  cmd->add_option("--mount-timeout", flags->mount_timeout,
                  "Bound on a mount appearing and on a mount daemon stopping")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off");
  cmd->callback([flags, &exit_code] { exit_code = run(*flags); });
}

}  // namespace leasefs::cli
