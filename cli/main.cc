// The leasefs command: one binary with subcommands, like vault.
#include <cstdio>

#include "cli/cli.h"
#include "leasefs_version.h"

int main(int argc, char** argv) {
  namespace cli = leasefs::cli;
  CLI::App app{"leasefs: leased secrets as files, behind a Vault-compatible API", "leasefs"};
  app.set_version_flag("--version", std::string("leasefs ") + LEASEFS_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Flags may be written Vault-style with one dash (-format=json).\n"
      "Environment: LEASEFS_ADDR (default http://127.0.0.1:8200), LEASEFS_TOKEN,\n"
      "LEASEFS_CACERT, LEASEFS_SKIP_VERIFY, LEASEFS_CLIENT_TIMEOUT (default 60s); the\n"
      "VAULT_* names are used when these are unset. The token falls back to the file\n"
      "~/.leasefs-token, which `leasefs login` writes.\n"
      "Exit codes: 0 success; 1 error (one line on stderr); 2 usage error, and also, as\n"
      "in Vault, nothing found at the path (read, list, kv get, policy read, lease list,\n"
      "audit list) or a sealed server (status).");

  int exit_code = cli::kExitOk;
  cli::register_server_command(app, exit_code);
  cli::register_status_command(app, exit_code);
  cli::register_operator_commands(app, exit_code);
  cli::register_generic_commands(app, exit_code);
  cli::register_kv_commands(app, exit_code);
  cli::register_token_commands(app, exit_code);
  cli::register_policy_commands(app, exit_code);
  cli::register_secrets_commands(app, exit_code);
  cli::register_auth_commands(app, exit_code);
  cli::register_lease_commands(app, exit_code);
  cli::register_audit_commands(app, exit_code);
  cli::register_mount_command(app, exit_code);
  cli::register_volume_plugin_command(app, exit_code);
  cli::register_planned_commands(app, exit_code);
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("leasefs %s\n", LEASEFS_VERSION); });

  std::vector<std::string> args = cli::normalize_vault_flags(argc, argv);
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  try {
    app.parse(static_cast<int>(raw.size()), raw.data());
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0.
    int code = app.exit(e);
    return code == 0 ? cli::kExitOk : cli::kExitUsage;
  }
  return exit_code;
}
