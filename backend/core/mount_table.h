// The mount tables: which engine serves which path. Two tables as in Vault — secrets
// engines ("mounts", at "<path>") and auth methods ("auth", at "auth/<path>") — each
// stored as one JSON document behind the barrier (core/mounts, core/auth) and loaded
// at every unseal. An entry's UUID names its storage prefix, so a disabled and
// re-enabled mount starts empty.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/sdk/clock.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::core {

enum class MountTable { kSecrets, kAuth };

struct MountConfig {
  sdk::Duration default_lease_ttl{0};  // 0 = the system default
  sdk::Duration max_lease_ttl{0};      // 0 = the system max
  bool force_no_cache = false;
  std::string listing_visibility{};
  std::vector<std::string> audit_non_hmac_request_keys{};
  std::vector<std::string> audit_non_hmac_response_keys{};
  std::vector<std::string> passthrough_request_headers{};
  std::vector<std::string> allowed_response_headers{};
};

struct MountEntry {
  MountTable table = MountTable::kSecrets;
  std::string path{};  // relative to its table, ends in '/': "secret/", "approle/"
  std::string type{};  // engine type: "kv", "approle", "system", "token"
  std::string description{};
  std::string uuid{};
  std::string accessor{};  // "kv_1f2e3d4c"
  MountConfig config{};
  std::map<std::string, std::string> options{};
  bool local = false;
  bool seal_wrap = false;
  bool builtin = false;  // sys/ and auth/token/: cannot be disabled or moved

  // The path requests use: "secret/", "auth/approle/".
  std::string api_path() const { return table == MountTable::kAuth ? "auth/" + path : path; }
  // Where its engine's storage lives behind the barrier.
  std::string storage_prefix() const {
    return (table == MountTable::kAuth ? "auth/" : "logical/") + uuid + "/";
  }
};

// The JSON Vault shows for an entry in sys/mounts and sys/auth.
nlohmann::json mount_entry_view(const MountEntry& entry);
nlohmann::json mount_config_view(const MountConfig& config);

// Storage form of a whole table.
std::string serialize_table(const std::vector<MountEntry>& entries);
sdk::Result<std::vector<MountEntry>> parse_table(MountTable table, std::string_view text);

// Checks and normalizes a user-given mount path: trims slashes at both ends, refuses
// empty, "..", control bytes, and reserved prefixes; returns it ending in '/'.
sdk::Result<std::string> normalize_mount_path(std::string_view path);

// Parses the "config" object of sys/mounts/<path> (and its tune): durations as
// seconds or "1h", "system" for the default. Unknown keys are refused.
sdk::Result<MountConfig> parse_mount_config(const nlohmann::json& config, MountConfig base);

}  // namespace leasefs::backend::core
