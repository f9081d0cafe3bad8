// The mount configuration (issue 5's JSON schema): which server to talk to, how to
// authenticate, mount options, and the files the mount shows. Parsing is strict so a
// typo stops the daemon before it mounts: unknown keys, bad modes, duplicate paths and
// paths escaping the mount are errors whose message names the offending entry.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/status.h"

namespace leasefs::fs {

namespace sdk = backend::sdk;

enum class Format { kField, kJson, kEnv, kTemplate };
enum class Share { kShared, kPerOpen };

// Per-caller rules beyond mode bits. An empty list does not restrict; every non-empty
// list must match (uid in uids, primary or supplementary gid in gids, ...).
struct AllowRules {
  std::vector<std::uint32_t> uids{};
  std::vector<std::uint32_t> gids{};
  std::vector<std::string> exe{};      // absolute executable paths, as /proc/PID/exe
  std::vector<std::string> cgroups{};  // cgroup v2 paths; a rule matches itself and below
  bool empty() const { return uids.empty() && gids.empty() && exe.empty() && cgroups.empty(); }
};

struct FileSpec {
  std::string path{};    // relative to the mount, normalized: "app/api_key"
  std::string secret{};  // backend path: "secret/data/app"
  std::string method{};  // "GET", "POST" or "PUT"
  nlohmann::json args = nlohmann::json::object();  // request body for POST/PUT
  // "ed25519": each fetch generates a key pair, sends its public half as
  // args.public_key (ssh/sign/:role) and adds `private_key` (OpenSSH format) and
  // `public_key` to what the files render from. "" (default): no key.
  std::string generate_key{};
  Format format = Format::kField;
  std::string field{};  // with kField
  std::string tmpl{};   // with kTemplate
  std::uint32_t mode = 0400;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  Share share = Share::kShared;
  AllowRules allow{};
  // Files with equal source keys read one response and share its lease.
  std::string source_key() const;
};

struct AppRoleAuth {
  std::string role_id_file{};
  std::string secret_id_file{};
};

struct ServerSpec {
  std::string address{};
  std::string ca_file{};
  std::chrono::milliseconds timeout{5000};
  std::string token_file{};              // one of token_file ...
  std::optional<AppRoleAuth> approle{};  // ... or approle
  std::string approle_mount = "approle";
};

struct MountOptions {
  bool allow_other = false;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  bool revoke_on_exit = false;
  // leasefs extensions (optional): where undelivered access events wait, and how long
  // a secret without a lease (KV v2) stays cached.
  std::string spool_file{};
  std::chrono::seconds static_ttl{300};
  // How often a live lease is looked up on the server, so one revoked there stops being
  // served; 0 turns the check off (then a revocation is seen at the next renewal).
  std::chrono::milliseconds revocation_check{30'000};
  // Shared files' reads served by the kernel from a backing file (fs/passthrough.h)
  // when the kernel offers FUSE passthrough and the daemon may use it; false: every read
  // is a request to the daemon (and a handle held past its lease reads EIO, not EOF).
  bool passthrough = true;
};

struct MountConfig {
  ServerSpec server{};
  MountOptions mount{};
  std::vector<FileSpec> files{};
};

// Parses and checks a configuration. Errors are kInvalidArgument and name the entry:
// `files[3] ("db/dsn"): "template" is required with "format": "template"`.
sdk::Result<MountConfig> parse_mount_config(const nlohmann::json& config);
// Reads FILE and parses it; errors are prefixed with the file name.
sdk::Result<MountConfig> load_mount_config(const std::string& file);

// Checks a path inside the mount and returns it normalized (no leading, trailing or
// double slashes). Errors: empty, "..", ".", absolute, or under ".leasefs".
sdk::Result<std::string> normalize_mount_path(std::string_view path);

}  // namespace leasefs::fs
