// Error printing, the shared flags and Vault-style flag normalization.
#include "cli/cli.h"

#include <cstdio>

namespace leasefs::cli {

namespace {

void print_error(std::string_view message) {
  std::fprintf(stderr, "leasefs: %.*s\n", static_cast<int>(message.size()), message.data());
}

}  // namespace

int fail(std::string_view message) {
  print_error(message);
  return kExitError;
}

int fail(const backend::sdk::Status& status) {
  return fail(status.message());
}

int fail(std::string_view context, const backend::sdk::Status& status) {
  return fail(std::string(context) + ": " + status.message());
}

int usage_error(std::string_view message) {
  print_error(std::string(message) + " (run with --help for usage)");
  return kExitUsage;
}

int no_value(std::string_view message) {
  print_error(message);
  return kExitNoValue;
}

int output_list(const nlohmann::json& secret, std::string_view shown_path, Format format) {
  const nlohmann::json keys = json_member(json_member(secret, "data"), "keys");
  if (!keys.is_array()) {
    if (format == Format::kJson) {
      print_json(nlohmann::json::object());
      return kExitNoValue;
    }
    return no_value("No value found at " + std::string(shown_path));
  }
  if (format == Format::kJson) {
    print_json(keys);
    return kExitOk;
  }
  print_warnings(secret);
  print_keys(keys);
  return kExitOk;
}

void add_format_flag(CLI::App& cmd, Format& format) {
  std::map<std::string, Format> names{{"table", Format::kTable}, {"json", Format::kJson}};
  cmd.add_option("--format", format, "Output format: table (default) or json")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case).description(""))
      ->type_name("table|json");
}

void add_common_flags(CLI::App& cmd, CommonFlags& flags, bool with_field) {
  add_connection_flags(cmd, flags.connection);
  add_format_flag(cmd, flags.format);
  if (with_field) {
    cmd.add_option("--field", flags.field,
                   "Print only this field, raw (no newline unless on a terminal)");
  }
}

std::string sanitize_path(std::string_view path) {
  auto first = path.find_first_not_of(" \t\r\n/");
  if (first == std::string_view::npos) return {};
  auto last = path.find_last_not_of(" \t\r\n/");
  return std::string(path.substr(first, last - first + 1));
}

std::string join_path(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto part : parts) {
    std::string clean = sanitize_path(part);
    if (clean.empty()) continue;
    if (!out.empty()) out += "/";
    out += clean;
  }
  // Collapse "a//b" inside parts, as path.Join does.
  std::string collapsed;
  for (char c : out) {
    if (c == '/' && !collapsed.empty() && collapsed.back() == '/') continue;
    collapsed.push_back(c);
  }
  return collapsed;
}

std::vector<std::string> normalize_vault_flags(int argc, char** argv) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(argc));
  bool passthrough = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && !passthrough) {
      if (arg == "--") {
        passthrough = true;
      } else if (arg.size() >= 3 && arg[0] == '-' && arg[1] != '-' &&
                 std::isalpha(static_cast<unsigned char>(arg[1])) &&
                 std::isalpha(static_cast<unsigned char>(arg[2]))) {
        arg.insert(0, "-");
      }
    }
    out.push_back(std::move(arg));
  }
  return out;
}

}  // namespace leasefs::cli
