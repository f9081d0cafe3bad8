// `leasefs secrets ...`: enable, disable, list and tune secrets engines through
// sys/mounts, as Vault's `vault secrets` does.
#include "cli/mount_flags.h"

namespace leasefs::cli {

void register_secrets_commands(CLI::App& app, int& exit_code) {
  auto* secrets = app.add_subcommand("secrets", "Enable, disable, list and tune secrets engines");
  secrets->require_subcommand(1);

  auto ef = std::make_shared<MountFlags>();
  auto* enable = secrets->add_subcommand(
      "enable", "Enable a secrets engine (kv, kv-v2, ...) at -path, by default its type");
  add_common_flags(*enable, ef->common);
  add_mount_config_flags(*enable, *ef, /*enable=*/true);
  enable->add_option("--path", ef->path, "Where to mount it (default: the type)");
  enable->add_option("--version", ef->version,
                     "KV version to run (1 or 2); same as -options=version=N");
  enable->add_option("type", ef->type, "Engine type")->required();
  enable->callback([ef, &exit_code] { exit_code = run_mount_enable(*ef, /*auth=*/false); });

  auto df = std::make_shared<MountFlags>();
  auto* disable = secrets->add_subcommand(
      "disable", "Disable the secrets engine at a path; its data is deleted");
  add_common_flags(*disable, df->common);
  disable->add_option("path", df->path, "Mount path")->required();
  disable->callback([df, &exit_code] { exit_code = run_mount_disable(*df, /*auth=*/false); });

  auto lf = std::make_shared<MountFlags>();
  auto* list = secrets->add_subcommand("list", "List the enabled secrets engines");
  add_common_flags(*list, lf->common);
  list->add_flag("--detailed", lf->detailed, "Show TTLs, options, UUIDs and more");
  list->callback([lf, &exit_code] { exit_code = run_mount_list(*lf, /*auth=*/false); });

  auto tf = std::make_shared<MountFlags>();
  auto* tune =
      secrets->add_subcommand("tune", "Change a secrets engine's TTLs, description or options");
  add_common_flags(*tune, tf->common);
  add_mount_config_flags(*tune, *tf, /*enable=*/false);
  tune->add_option("path", tf->path, "Mount path")->required();
  tune->callback([tf, &exit_code] { exit_code = run_mount_tune(*tf, /*auth=*/false); });
}

}  // namespace leasefs::cli
