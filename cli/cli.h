// Shared pieces of the `leasefs` command: exit codes, error printing, the flags every
// command takes, and the registration functions of each subcommand group (one file per
// group).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "backend/sdk/status.h"
#include "cli/api_session.h"
#include "cli/output.h"

namespace leasefs::cli {

// Every exit code the command uses.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,  // the operation failed; one line on stderr says why
  kExitUsage = 2,  // bad flags or arguments; CLI11 prints the usage
  // As Vault: `read`, `list`, `kv get` and friends found nothing at the path, and
  // `status` found the server sealed. Same number as kExitUsage, as in Vault.
  kExitNoValue = 2,
};

// Prints "leasefs: <message>" on stderr and returns kExitError.
int fail(std::string_view message);
int fail(const backend::sdk::Status& status);
// Prints "leasefs: <context>: <status message>" on stderr and returns kExitError.
int fail(std::string_view context, const backend::sdk::Status& status);
// Prints "leasefs: <message>" and a hint to --help on stderr; returns kExitUsage.
int usage_error(std::string_view message);
// Prints "leasefs: <message>" on stderr and returns kExitNoValue.
int no_value(std::string_view message);

// Shows a LIST answer (null: nothing there) as Vault's `list` does: the sorted keys
// under "Keys", or their JSON array. Exit kExitNoValue, with "No value found at
// <shown_path>" in table format or {} in JSON, when there are no keys.
int output_list(const nlohmann::json& secret, std::string_view shown_path, Format format);

// Adds the -format flag (table or json) to a command.
void add_format_flag(CLI::App& cmd, Format& format);

// The flags of every command that talks to a server.
struct CommonFlags {
  ConnectionFlags connection{};
  Format format = Format::kTable;
  std::string field{};
};
// Adds the connection flags and -format, and -field when `with_field`.
void add_common_flags(CLI::App& cmd, CommonFlags& flags, bool with_field = false);

// Vault's sanitizePath: surrounding spaces and slashes removed.
std::string sanitize_path(std::string_view path);
// Vault's path.Join for API paths: non-empty parts joined by single slashes, no
// trailing slash.
std::string join_path(std::initializer_list<std::string_view> parts);

// Adds "ha_enabled" (from sys/leader; false when the server cannot say, e.g. sealed) to
// a seal status before it is shown, as Vault's `status` does.
void add_ha_status(ApiSession& session, nlohmann::json& status);

// Vault's CLI takes long flags with one dash (-key-shares=5); CLI11 wants two. Returns
// argv with "-name..." turned into "--name..." for every argument before "--" that
// starts with one dash and two or more letters. "-" and negative numbers are kept.
std::vector<std::string> normalize_vault_flags(int argc, char** argv);

// Subcommand groups. Each adds its commands to `app`; their callbacks set `exit_code`.
void register_operator_commands(CLI::App& app, int& exit_code);
void register_status_command(CLI::App& app, int& exit_code);
void register_server_command(CLI::App& app, int& exit_code);
void register_generic_commands(CLI::App& app, int& exit_code);
void register_kv_commands(CLI::App& app, int& exit_code);
void register_token_commands(CLI::App& app, int& exit_code);
void register_policy_commands(CLI::App& app, int& exit_code);
void register_secrets_commands(CLI::App& app, int& exit_code);
void register_auth_commands(CLI::App& app, int& exit_code);
void register_lease_commands(CLI::App& app, int& exit_code);
void register_audit_commands(CLI::App& app, int& exit_code);
void register_mount_command(CLI::App& app, int& exit_code);
void register_volume_plugin_command(CLI::App& app, int& exit_code);
void register_planned_commands(CLI::App& app, int& exit_code);

}  // namespace leasefs::cli
