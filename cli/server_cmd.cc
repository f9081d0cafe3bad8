// `leasefs server`: run the secrets server, from a configuration file or in dev mode.
#include "backend/server/run.h"
#include "cli/cli.h"
#include "leasefs_version.h"

namespace leasefs::cli {

namespace {

struct ServerFlags {
  std::string config_file;
  bool dev = false;
  std::string dev_root_token;
  std::string listen;
  std::string log_level;
};

int run(const ServerFlags& f) {
  backend::server::ServerConfig config;
  if (f.dev) {
    if (!f.config_file.empty()) return fail("-dev and -config cannot be used together");
    config.dev = true;
    config.storage_type = "inmem";
    config.dev_root_token = f.dev_root_token;
  } else {
    if (f.config_file.empty()) {
      return fail("a configuration file is required: leasefs server -config FILE (or -dev)");
    }
    if (!f.dev_root_token.empty()) return fail("-dev-root-token needs -dev");
    auto loaded = backend::server::load_server_config(f.config_file);
    if (!loaded) return fail(loaded.error());
    config = std::move(*loaded);
  }
  if (!f.listen.empty()) config.listen_address = f.listen;
  if (!f.log_level.empty() && !backend::sdk::parse_log_level(f.log_level, config.log_level)) {
    return fail("-log-level: want trace, debug, info, warn, error or off");
  }
  return backend::server::run_server(config, LEASEFS_VERSION);
}

}  // namespace

void register_server_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServerFlags>();
  auto* cmd = app.add_subcommand(
      "server",
      "Run the secrets server (Vault HTTP API). Stops cleanly on SIGTERM or SIGINT: it "
      "stops accepting, finishes requests in flight, seals and exits 0");
  cmd->add_option("--config", flags->config_file, "Server configuration file (JSON)");
  cmd->add_flag("--dev", flags->dev,
                "Development mode: memory storage, initialized and unsealed at start, KV v2 "
                "at secret/, root token printed");
  cmd->add_option("--dev-root-token", flags->dev_root_token,
                  "In dev mode, use this value as the root token");
  cmd->add_option("--listen", flags->listen,
                  "Listen on HOST:PORT (overrides the configuration; default 127.0.0.1:8200)");
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off");
  cmd->callback([flags, &exit_code] { exit_code = run(*flags); });
}

}  // namespace leasefs::cli
