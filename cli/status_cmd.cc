// `leasefs status`: the seal status of a running server (GET sys/seal-status), or of a
// storage file with -storage. Exit codes as Vault's: 0 unsealed, 2 sealed, 1 error.
#include "cli/cli.h"
#include "cli/local_store.h"
#include "cli/output.h"
#include "leasefs_version.h"

namespace leasefs::cli {

namespace {

struct StatusFlags {
  CommonFlags common{};
  std::string storage{};
};

int run_local_status(const StatusFlags& f) {
  auto store = LocalStore::open(f.storage, /*create=*/false);
  if (!store) return fail(store.error());
  auto s = (*store)->seal().status();
  if (!s) return fail(s.error());
  if (f.common.format == Format::kJson) {
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
  return s->sealed ? kExitNoValue : kExitOk;
}

int run_server_status(const StatusFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto reply = (*session)->send("GET", "sys/seal-status", nullptr, {}, /*with_token=*/false);
  if (!reply) return fail("Error checking seal status", reply.error());
  if (reply->status != 200 || !reply->body.is_object()) {
    return fail("Error checking seal status", response_error(*reply));
  }
  nlohmann::json status = std::move(reply->body);
  add_ha_status(**session, status);
  print_seal_status(status, f.common.format);
  return json_bool(status, "sealed") ? kExitNoValue : kExitOk;
}

}  // namespace

void add_ha_status(ApiSession& session, nlohmann::json& status) {
  bool ha = false;
  if (!json_bool(status, "sealed")) {
    auto leader = session.send("GET", "sys/leader", nullptr, {}, /*with_token=*/false);
    if (leader && leader->status == 200) ha = json_bool(leader->body, "ha_enabled");
  }
  status["ha_enabled"] = ha;
}

void register_status_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<StatusFlags>();
  auto* cmd = app.add_subcommand(
      "status", "Print the server's seal status (exit 0 unsealed, 2 sealed, 1 error)");
  add_common_flags(*cmd, flags->common);
  cmd->add_option("--storage", flags->storage,
                  "Read the status of this SQLite storage file instead");
  cmd->callback([flags, &exit_code] {
    exit_code = flags->storage.empty() ? run_server_status(*flags) : run_local_status(*flags);
  });
}

}  // namespace leasefs::cli
