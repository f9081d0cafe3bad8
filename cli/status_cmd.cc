// `leasefs status`: the seal status of a store (of a storage file with -storage; of a
// running server once the HTTP API exists). Exit codes as Vault's: 0 unsealed,
// 2 sealed, 1 error.
#include "cli/cli.h"
#include "cli/local_store.h"
#include "cli/output.h"
#include "leasefs_version.h"

namespace leasefs::cli {

namespace {

struct StatusFlags {
  std::string storage;
  Format format = Format::kTable;
};

int run_status(const StatusFlags& f) {
  if (f.storage.empty()) {
    return fail("no storage file given: pass -storage FILE (the status of a running server "
                "arrives with the HTTP API)");
  }
  auto store = LocalStore::open(f.storage, /*create=*/false);
  if (!store) return fail(store.error());
  auto s = (*store)->seal().status();
  if (!s) return fail(s.error());
  if (f.format == Format::kJson) {
    print_json({{"type", "shamir"},
                {"initialized", s->initialized},
                {"sealed", s->sealed},
                {"t", s->threshold},
                {"n", s->shares},
                {"progress", s->progress},
                {"version", LEASEFS_VERSION},
                {"storage_type", "sqlite"}});
  } else {
    print_table({{"Seal Type", "shamir"},
                 {"Initialized", s->initialized ? "true" : "false"},
                 {"Sealed", s->sealed ? "true" : "false"},
                 {"Total Shares", std::to_string(s->shares)},
                 {"Threshold", std::to_string(s->threshold)},
                 {"Version", LEASEFS_VERSION},
                 {"Storage Type", "sqlite"}});
  }
  return s->sealed ? kExitUsage : kExitOk;
}

}  // namespace

void register_status_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<StatusFlags>();
  auto* cmd = app.add_subcommand("status", "Print the seal status (exit 0 unsealed, 2 sealed)");
  cmd->add_option("--storage", flags->storage, "Read the status of this SQLite storage file");
  add_format_flag(*cmd, flags->format);
  cmd->callback([flags, &exit_code] { exit_code = run_status(*flags); });
}

}  // namespace leasefs::cli
