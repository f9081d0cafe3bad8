// The state of one KV v2 mount and how it sits in storage. Internal to engines/kv.
//
// Storage layout (inside the mount's view, which the barrier already encrypts):
//   config               MountConfig as JSON
//   meta/<path>          KeyMetadata of the secret at <path> as JSON, versions included
//   ver/<path>/<n>       {"data": {...}} of version n of <path>
// Secret paths are kept in plain text: the barrier encrypts values, not keys, so
// names are visible to whoever reads the raw store (Vault hashes them; leasefs accepts
// this to make LIST on metadata/ a direct one-level storage list). The version number
// is always the last segment, so "ver/a/1" (a, version 1) and "ver/a/1/1" (a/1,
// version 1) never collide. Every operation writes through one Storage::apply batch,
// so a crash leaves either the old or the new state of a secret, never half of one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/backend.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/storage.h"
#include "engines/kv/kv.h"

namespace leasefs::engines::kv {

using nlohmann::json;

// Versions kept when neither the mount nor the secret sets max_versions.
inline constexpr std::uint32_t kDefaultMaxVersions = 10;
// delete_version_after of the mount config that switches the feature off for all keys.
inline constexpr sdk::Duration kDeleteVersionAfterDisabled = std::chrono::seconds(-1);
// Longest secret path. Storage keys are at most 1024 bytes including the mount view's
// prefix ("logical/<uuid>/", 45 bytes) and "ver/" + "/<version>" (up to 25 bytes);
// 768 leaves room for both with a margin.
inline constexpr std::size_t kMaxPathBytes = 768;

// Mount-wide settings (path "config").
struct MountConfig {
  std::uint32_t max_versions = 0;  // 0 = kDefaultMaxVersions
  bool cas_required = false;
  sdk::Duration delete_version_after{0};  // 0 = unset; kDeleteVersionAfterDisabled = off
};

struct VersionMetadata {
  sdk::WallTime created_time{};
  std::optional<sdk::WallTime> deletion_time{};  // soft delete, or created + dva
  bool destroyed = false;
};

// Everything known about one secret except its data.
struct KeyMetadata {
  std::string key{};
  std::uint64_t current_version = 0;
  std::uint64_t oldest_version = 0;
  std::optional<sdk::WallTime> created_time{};
  std::optional<sdk::WallTime> updated_time{};
  std::uint32_t max_versions = 0;  // 0 = the mount's
  bool cas_required = false;
  sdk::Duration delete_version_after{0};  // 0 = the mount's
  std::map<std::string, std::string> custom_metadata{};
  std::map<std::uint64_t, VersionMetadata> versions{};
};

// A version counts as deleted once its deletion time has been reached.
bool is_deleted(const VersionMetadata& v, sdk::WallTime now);

// The deletion time a version created (or undeleted) at `from` gets: `from` plus the
// smaller non-zero delete_version_after of mount and key; nullopt when neither is set
// or the mount disabled the feature.
std::optional<sdk::WallTime> deletion_time_for(sdk::WallTime from, const MountConfig& config,
                                               const KeyMetadata& meta);

// The number of versions kept: the larger of the key's and the mount's max_versions
// (a key can only raise the mount's limit, as in Vault), or kDefaultMaxVersions.
std::uint32_t effective_max_versions(const KeyMetadata& meta, const MountConfig& config);

// Adds version current+1 created at `now` and slides the window of kept versions.
// Returns the version numbers dropped from the metadata, whose data must be removed.
std::vector<std::uint64_t> add_version(KeyMetadata& meta, sdk::WallTime now,
                                       std::optional<sdk::WallTime> deletion_time,
                                       const MountConfig& config);

// JSON shapes Vault answers with.
json version_metadata_json(const KeyMetadata& meta, std::uint64_t version);  // + custom
json custom_metadata_json(const KeyMetadata& meta);            // null when empty, as Vault
std::string time_json(const std::optional<sdk::WallTime>& t);  // RFC 3339 or ""

// Checks and converts `custom_metadata` the way Vault does: values may be strings,
// numbers or bools (turned into text); with `drop_nulls` null values are skipped
// (PATCH: they remove keys) and returned in `removed`. Enforces at most 64 keys, keys
// of 1..128 bytes, values of 1..512 bytes, no control characters. Errors start with
// "custom_metadata validation failed".
sdk::Result<std::map<std::string, std::string>> parse_custom_metadata(
    const json& raw, bool drop_nulls, std::vector<std::string>* removed = nullptr);
sdk::Result<void> validate_custom_metadata(const std::map<std::string, std::string>& m);

// Shared state of a v2 mount: storage, clock, and the striped locks that serialize
// read-modify-write cycles on one secret. Thread-safe.
class VersionedStore {
 public:
  VersionedStore(sdk::Storage& storage, const sdk::Clock& clock)
      : storage_(&storage), clock_(&clock) {}

  sdk::WallTime now() const { return clock_->now(); }
  sdk::Storage& storage() { return *storage_; }

  // The lock guarding one secret's metadata and versions: shared for reads,
  // exclusive for writes. Different secrets may share a stripe.
  std::shared_mutex& lock_for(std::string_view path);
  // Serializes read-modify-write of the mount config.
  std::mutex& config_mutex() { return config_mutex_; }

  sdk::Result<MountConfig> config();
  sdk::StorageOp put_config(const MountConfig& config) const;

  // The metadata of `path`, or nullopt when there is none (or the path could not
  // name a secret). Fails only on storage errors or corrupt entries.
  sdk::Result<std::optional<KeyMetadata>> metadata(std::string_view path);
  sdk::StorageOp put_metadata(const KeyMetadata& meta) const;
  // The data object of one version; kInternal when the metadata names a version whose
  // data is missing.
  sdk::Result<json> version_data(std::string_view path, std::uint64_t version);
  sdk::StorageOp put_version(std::string_view path, std::uint64_t version,
                             const std::string& encoded_data) const;

  // Applies one operation's writes atomically, and drops what they touch from the
  // cache of decoded metadata and config.
  sdk::Result<void> apply(const std::vector<sdk::StorageOp>& ops);

  static std::string meta_key(std::string_view path);
  static std::string version_key(std::string_view path, std::uint64_t version);

 private:
  static constexpr std::size_t kStripes = 256;

  static constexpr std::size_t kMaxCached = 10'000;
  // Forgets cached entries for every key `ops` writes.
  void invalidate(const std::vector<sdk::StorageOp>& ops);

  sdk::Storage* storage_;
  const sdk::Clock* clock_;
  std::array<std::shared_mutex, kStripes> locks_{};
  std::mutex config_mutex_{};

  // Decoded metadata and config, so a read does not parse JSON it read before. Entries
  // are dropped by apply() (writers hold the secret's lock, so no reader of the same
  // secret is running); `generation_` keeps a read that raced an apply() from putting
  // a stale entry back.
  std::mutex cache_mu_{};
  std::unordered_map<std::string, std::shared_ptr<const KeyMetadata>> meta_cache_{};
  std::optional<MountConfig> config_cache_{};
  std::uint64_t generation_ = 0;
};

// Checks that `path` can name a secret: non-empty, no trailing '/', at most
// kMaxPathBytes, no empty, "." or ".." segment, no control bytes.
sdk::Result<void> validate_secret_path(std::string_view path);

// Deepest nesting a stored secret may have; deeper data is refused on write so that
// nothing recursive (encoding, merge patch, subkeys) runs out of stack on it.
inline constexpr std::size_t kMaxNestingDepth = 256;

// Encodes the data of a write for storage. Fails with kTooLarge over kMaxSecretBytes
// and with invalid_argument when nested deeper than kMaxNestingDepth; the messages
// never contain the data.
sdk::Result<std::string> encode_secret(const json& data);

// Encodes JSON for storage or size checks; invalid UTF-8 becomes U+FFFD, never throws.
std::string dump_json(const json& value);
// Parses stored JSON; nullopt when it is not valid JSON. Never throws.
std::optional<json> parse_json(std::string_view text);

// A plain 404, rendered by the core as Vault's {"errors":[]}.
inline std::unexpected<sdk::Status> plain_not_found() {
  return sdk::not_found("");
}

// A Response with data and a non-default HTTP status.
sdk::Response response_with_status(json data, int status);

// GET data/ and subkeys/ of `path`: version `requested` (> 0), else the current one,
// answered as {data_key: ..., "metadata": {...}}. The version's data goes through
// `shape` (may be empty) before it is put under `data_key`. A secret or version that
// does not exist is a plain 404; a deleted or destroyed one is a 404 that carries the
// metadata, with data_key null (Vault's answers). Takes the path's lock for reading.
sdk::Result<sdk::Response> read_version(VersionedStore& store, const std::string& path,
                                        std::int64_t requested, const char* data_key,
                                        const std::function<void(json&)>& shape);

// Parses Vault's comma-int-slice field ("versions"): [1,2], ["1","2"], "1,2" or 3.
sdk::Result<std::vector<std::int64_t>> parse_int_list(const std::string& field, const json& raw);

}  // namespace leasefs::engines::kv
