// What `leasefs secrets ...` and `leasefs auth ...` share: both enable, disable, list
// and tune mounts, of sys/mounts and sys/auth, with the same configuration flags, request
// bodies and tables. Kept here so the two command groups do not each spell them out.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli.h"

namespace leasefs::cli {

struct MountFlags {
  CommonFlags common{};
  std::string type{};  // enable
  std::string path{};  // -path for enable; the argument for tune and disable
  std::string description{};
  CLI::Option* description_flag = nullptr;
  std::string default_lease_ttl{};
  std::string max_lease_ttl{};
  bool force_no_cache = false;
  std::string listing_visibility{};
  std::vector<std::string> audit_non_hmac_request_keys{};
  std::vector<std::string> audit_non_hmac_response_keys{};
  std::vector<std::string> passthrough_request_headers{};
  std::vector<std::string> allowed_response_headers{};
  std::vector<std::string> options{};
  int version = 0;  // secrets enable: KV version shortcut for -options=version=N
  bool local = false;
  bool seal_wrap = false;
  bool detailed = false;  // list
};

// Adds -description, the TTL and listing flags and -options; for enable also -local
// and -seal-wrap.
void add_mount_config_flags(CLI::App& cmd, MountFlags& f, bool enable);

// The "config" object of sys/mounts/<path> and sys/auth/<path> (enable), or the
// top-level body of .../tune (tune): only the flags that were given. Errors
// (invalid_argument) for a malformed -options entry.
backend::sdk::Result<nlohmann::json> mount_config_body(const MountFlags& f);
backend::sdk::Result<nlohmann::json> mount_options(const MountFlags& f);

// Vault's `secrets list` / `auth list` tables of sys/mounts or sys/auth data.
void print_mounts(const nlohmann::json& mounts, bool auth, bool detailed);

// The enable, disable, list and tune commands of sys/mounts (`auth` false) or sys/auth
// (`auth` true), with Vault's messages; each returns the exit code.
int run_mount_enable(const MountFlags& f, bool auth);
int run_mount_disable(const MountFlags& f, bool auth);
int run_mount_list(const MountFlags& f, bool auth);
int run_mount_tune(const MountFlags& f, bool auth);

}  // namespace leasefs::cli
