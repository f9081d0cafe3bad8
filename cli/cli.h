// Shared pieces of the `leasefs` command: exit codes, output format, error printing,
// and the registration functions of each subcommand group (one file per group).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/status.h"

namespace leasefs::cli {

// Every exit code the command uses.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,  // the operation failed; one line on stderr says why
  kExitUsage = 2,  // bad flags or arguments; CLI11 prints the usage
};

enum class Format { kTable, kJson };

// Prints "leasefs: <message>" on stderr and returns kExitError.
int fail(std::string_view message);
int fail(const backend::sdk::Status& status);

// Adds the -format flag (table or json) to a command.
void add_format_flag(CLI::App& cmd, Format& format);

// Vault's CLI takes long flags with one dash (-key-shares=5); CLI11 wants two. Returns
// argv with "-name..." turned into "--name..." for every argument before "--" that
// starts with one dash and two or more letters. "-" and negative numbers are kept.
std::vector<std::string> normalize_vault_flags(int argc, char** argv);

// Subcommand groups. Each adds its commands to `app`; their callbacks set `exit_code`.
void register_operator_commands(CLI::App& app, int& exit_code);
void register_status_command(CLI::App& app, int& exit_code);
void register_server_command(CLI::App& app, int& exit_code);
void register_planned_commands(CLI::App& app, int& exit_code);

}  // namespace leasefs::cli
