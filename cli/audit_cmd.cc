// `leasefs audit ...`: enable, list and disable audit devices through sys/audit, as
// Vault's `vault audit` does, and `audit verify FILE...`, which checks the hash chain of
// audit logs offline (no server needed) and names the first entry that was altered,
// dropped or reordered. Exit codes of verify: 0 the log is whole, 1 it is not (or cannot
// be read), 2 usage.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backend/audit/chain.h"
#include "cli/cli.h"
#include "cli/kv_args.h"
#include "cli/output.h"

namespace leasefs::cli {

namespace {

namespace audit = backend::audit;
namespace sdk = backend::sdk;
using nlohmann::json;

struct VerifyFlags {
  std::vector<std::string> files{};
  std::string expect_prev{};
  std::string expect_last{};
  Format format = Format::kTable;
};

int run_verify(const VerifyFlags& f) {
  for (const std::string* hash : {&f.expect_prev, &f.expect_last}) {
    if (!hash->empty() && !audit::is_chain_hash(*hash)) {
      return usage_error("expected a chain hash (64 lowercase hex digits), got \"" + *hash + "\"");
    }
  }
  std::vector<std::filesystem::path> paths(f.files.begin(), f.files.end());
  audit::VerifyOptions options;
  options.expected_prev_hash = f.expect_prev;
  options.expected_last_hash = f.expect_last;
  audit::VerifyReport report;
  auto verified = audit::verify_logs(paths, options, &report);
  const bool integrity_fault = report.fault != audit::FaultKind::kNone;
  if (!verified && !integrity_fault) return fail(verified.error());  // cannot read a file

  if (f.format == Format::kJson) {
    nlohmann::json out = {
        {"ok", verified.has_value()},    {"files", f.files},
        {"entries", report.entries},     {"first_prev_hash", report.first_prev_hash},
        {"last_hash", report.last_hash}, {"starts_at_genesis", report.starts_at_genesis}};
    if (integrity_fault) {
      out["fault"] = {{"file", report.fault_file.string()},
                      {"line", report.fault_line},
                      {"kind", std::string(audit::fault_name(report.fault))},
                      {"detail", report.fault_detail}};
    }
    print_json(out);
    return verified ? kExitOk : kExitError;
  }
  if (!verified) return fail(verified.error().message());
  print_table({{"Result", "ok: the hash chain is whole"},
               {"Files", std::to_string(f.files.size())},
               {"Entries", std::to_string(report.entries)},
               {"Starts At Genesis", report.starts_at_genesis ? "true" : "false"},
               {"First Prev Hash", report.first_prev_hash},
               {"Last Hash", report.last_hash}});
  return kExitOk;
}

struct DeviceFlags {
  CommonFlags common{};
  std::vector<std::string> args{};
  std::string path{};
  std::string description{};
  bool local = false;
  bool detailed = false;
};

// Vault's parseArgsDataString: key=value arguments (with @file and - forms) as a map of
// strings; numbers and booleans become their text, lists and objects are refused.
sdk::Result<json> device_options(const std::vector<std::string>& args) {
  auto data = parse_kv_args(args, std::cin);
  if (!data) return sdk::error(data.error());
  json options = json::object();
  for (const auto& [k, v] : data->items()) {
    if (v.is_string()) {
      options[k] = v;
    } else if (v.is_boolean() || v.is_number()) {
      options[k] = v.dump();
    } else if (v.is_null()) {
      options[k] = "";
    } else {
      return sdk::invalid_argument("option " + k + " must be a single value, not a list or object");
    }
  }
  return options;
}

int run_enable(const DeviceFlags& f) {
  if (f.args.empty()) {
    return usage_error(
        "Error enabling audit device: audit type missing. Valid types include 'file', "
        "'socket' and 'stdout'.");
  }
  const std::string type = sanitize_path(f.args[0]);
  if (type.empty()) return usage_error("Error enabling audit device: the audit type is empty");
  const std::string path = sanitize_path(f.path.empty() ? type : f.path);
  if (path.empty()) return usage_error("Error enabling audit device: the path is empty");
  auto options = device_options({f.args.begin() + 1, f.args.end()});
  if (!options) return fail("Failed to parse K=V data", options.error());
  json body = {
      {"type", type}, {"description", f.description}, {"options", *options}, {"local", f.local}};
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->write("sys/audit/" + path, body);
  if (!done) return fail("Error enabling audit device", done.error());
  if (f.common.format == Format::kTable) {
    std::printf("Success! Enabled the %s audit device at: %s/\n", type.c_str(), path.c_str());
  }
  return kExitOk;
}

int run_disable(const DeviceFlags& f) {
  if (f.args.size() != 1) {
    return usage_error(std::string(f.args.empty() ? "Not enough" : "Too many") +
                       " arguments (expected 1, got " + std::to_string(f.args.size()) + ")");
  }
  const std::string path = sanitize_path(f.args[0]);
  if (path.empty()) return usage_error("Error disabling audit device: the path is empty");
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->remove("sys/audit/" + path);
  if (!done) return fail("Error disabling audit device", done.error());
  if (f.common.format == Format::kTable) {
    std::printf("Success! Disabled audit device (if it was enabled) at: %s/\n", path.c_str());
  }
  return kExitOk;
}

// The devices of a sys/audit answer: its data, or (older servers) the envelope itself
// less the envelope's own members.
json devices_of(const json& secret) {
  json data = json_member(secret, "data");
  if (data.is_object()) return data;
  json devices = json::object();
  if (!secret.is_object()) return devices;
  for (const auto& [k, v] : secret.items()) {
    if (v.is_object() && v.contains("type")) devices[k] = v;
  }
  return devices;
}

// Vault's `audit list` tables: Path | Type | Description, and with -detailed also
// Replication and Options (sorted key=value pairs).
void print_devices(const json& devices, bool detailed) {
  std::vector<std::vector<std::string>> rows;
  if (detailed) {
    rows.push_back({"Path", "Type", "Description", "Replication", "Options"});
  } else {
    rows.push_back({"Path", "Type", "Description"});
  }
  for (const auto& [key, d] : devices.items()) {  // nlohmann sorts object keys
    if (!d.is_object()) continue;
    if (!detailed) {
      std::string path = json_string(d, "path");
      rows.push_back(
          {path.empty() ? key : path, json_string(d, "type"), json_string(d, "description")});
      continue;
    }
    std::vector<std::string> options;
    const json opts = json_member(d, "options");
    if (opts.is_object()) {
      for (const auto& [k, v] : opts.items()) options.push_back(k + "=" + format_value(v));
    }
    std::sort(options.begin(), options.end());
    std::string joined;
    for (const auto& o : options) joined += (joined.empty() ? "" : " ") + o;
    rows.push_back({key, json_string(d, "type"), json_string(d, "description"),
                    json_bool(d, "local") ? "local" : "replicated", joined});
  }
  print_columns(rows);
}

int run_list(const DeviceFlags& f) {
  if (!f.args.empty()) {
    return usage_error("Too many arguments (expected 0, got " + std::to_string(f.args.size()) +
                       ")");
  }
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->read("sys/audit");
  if (!secret) return fail("Error listing audits", secret.error());
  if (secret->is_null()) return fail("Error listing audits: the server sent nothing");
  const json devices = devices_of(*secret);
  if (f.common.format == Format::kJson) {
    print_json(devices);
    return kExitOk;
  }
  if (devices.empty()) {
    // As Vault: on stdout, and exit 2.
    std::printf("No audit devices are enabled.\n");
    return kExitNoValue;
  }
  print_devices(devices, f.detailed);
  return kExitOk;
}

}  // namespace

void register_audit_commands(CLI::App& app, int& exit_code) {
  auto* audit_cmd = app.add_subcommand("audit", "Audit devices and log verification");
  audit_cmd->require_subcommand(1);

  auto ef = std::make_shared<DeviceFlags>();
  auto* enable = audit_cmd->add_subcommand(
      "enable",
      "Enable an audit device: TYPE [key=value ...], e.g. file file_path=/var/log/leasefs.log");
  add_common_flags(*enable, ef->common);
  enable->add_option("--path", ef->path, "Where to enable it (default: the type)");
  enable->add_option("--description", ef->description, "A human-friendly description");
  enable->add_flag("--local", ef->local, "Do not replicate this device");
  enable->add_option("args", ef->args, "TYPE, then the device's options as key=value");
  enable->callback([ef, &exit_code] { exit_code = run_enable(*ef); });

  auto lf = std::make_shared<DeviceFlags>();
  auto* list = audit_cmd->add_subcommand(
      "list", "List the enabled audit devices (exit 2 when there are none)");
  add_common_flags(*list, lf->common);
  list->add_flag("--detailed", lf->detailed, "Show replication and options");
  list->add_option("args", lf->args)->group("");  // only to refuse them
  list->callback([lf, &exit_code] { exit_code = run_list(*lf); });

  auto df = std::make_shared<DeviceFlags>();
  auto* disable = audit_cmd->add_subcommand(
      "disable", "Disable the audit device at a path (its log file stays)");
  add_common_flags(*disable, df->common);
  disable->add_option("path", df->args, "The device's path");
  disable->callback([df, &exit_code] { exit_code = run_disable(*df); });

  auto flags = std::make_shared<VerifyFlags>();
  auto* verify = audit_cmd->add_subcommand(
      "verify",
      "Verify the hash chain of audit log files (oldest first for a rotated series); "
      "names the first altered, dropped or reordered entry");
  verify->add_option("file", flags->files, "audit log files, oldest first")
      ->required()
      ->check(CLI::ExistingFile);
  verify->add_option("--expect-prev", flags->expect_prev,
                     "hash the first entry must link to (the last hash of the previous file, "
                     "or 64 zeros for a complete chain)");
  verify->add_option("--expect-last", flags->expect_last,
                     "hash the last entry must have (the device's chain head), to prove "
                     "that nothing was cut off the end");
  add_format_flag(*verify, flags->format);
  verify->callback([flags, &exit_code] { exit_code = run_verify(*flags); });
}

}  // namespace leasefs::cli
