// Error printing, the format flag and Vault-style flag normalization.
#include "cli/cli.h"

#include <cstdio>

namespace leasefs::cli {

int fail(std::string_view message) {
  std::fprintf(stderr, "leasefs: %.*s\n", static_cast<int>(message.size()), message.data());
  return kExitError;
}

int fail(const backend::sdk::Status& status) { return fail(status.message()); }

void add_format_flag(CLI::App& cmd, Format& format) {
  std::map<std::string, Format> names{{"table", Format::kTable}, {"json", Format::kJson}};
  cmd.add_option("--format", format, "Output format: table or json")
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->default_str("table");
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
