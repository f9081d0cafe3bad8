// KV v2 "metadata/<path>": read a secret's metadata and version history, list secret
// names, set per-secret settings (max_versions, cas_required, delete_version_after,
// custom_metadata) by write or merge patch, and delete a secret with all its versions.
#include <limits>
#include <mutex>
#include <shared_mutex>

#include "backend/sdk/duration.h"
#include "engines/kv/paths.h"

namespace leasefs::engines::kv {
namespace {

using sdk::FieldData;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

constexpr std::string_view kCasMandatedWarning =
    "\"cas_required\" set to false, but is mandated by backend config. This value will be "
    "ignored.";

Result<std::uint32_t> max_versions_field(const FieldData& d) {
  std::int64_t n = d.integer("max_versions");
  if (n < 0 || n > std::numeric_limits<std::uint32_t>::max()) {
    return sdk::invalid_argument("field \"max_versions\": must be between 0 and 4294967295");
  }
  return static_cast<std::uint32_t>(n);
}

json metadata_body(const KeyMetadata& m) {
  json versions = json::object();
  for (const auto& [n, v] : m.versions) {
    versions[std::to_string(n)] = {{"created_time", time_json(v.created_time)},
                                   {"deletion_time", time_json(v.deletion_time)},
                                   {"destroyed", v.destroyed}};
  }
  return {{"cas_required", m.cas_required},
          {"created_time", time_json(m.created_time)},
          {"current_version", m.current_version},
          {"custom_metadata", custom_metadata_json(m)},
          {"delete_version_after", sdk::format_duration(m.delete_version_after)},
          {"max_versions", m.max_versions},
          {"oldest_version", m.oldest_version},
          {"updated_time", time_json(m.updated_time)},
          {"versions", std::move(versions)}};
}

Result<Response> read_metadata(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  std::shared_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return plain_not_found();
  return Response::with_data(metadata_body(**meta));
}

Result<Response> list_metadata(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  if (!path.empty() && !path.ends_with('/')) path.push_back('/');
  std::string prefix = VersionedStore::meta_key(path);
  if (!sdk::validate_key(prefix, /*is_prefix=*/true)) return plain_not_found();
  auto keys = store.storage().list(prefix);
  if (!keys) return sdk::error(keys.error());
  if (keys->empty()) return plain_not_found();
  return Response::with_data(json{{"keys", std::move(*keys)}});
}

Result<Response> write_metadata(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  LEASEFS_TRY(validate_secret_path(path));
  bool has_max = d.has("max_versions");
  bool has_cas = d.has("cas_required");
  bool has_dva = d.has("delete_version_after");
  bool has_custom = d.has("custom_metadata");
  if (!has_max && !has_cas && !has_dva && !has_custom) return Response::empty();

  auto max_versions = max_versions_field(d);
  if (!max_versions) return sdk::error(max_versions.error());
  std::map<std::string, std::string> custom;
  if (has_custom) {
    auto parsed = parse_custom_metadata(d.raw("custom_metadata"), /*drop_nulls=*/false);
    if (!parsed) return sdk::error(parsed.error());
    custom = std::move(*parsed);
  }
  auto config = store.config();
  if (!config) return sdk::error(config.error());
  Response response;
  if (has_cas && config->cas_required && !d.boolean("cas_required")) {
    response.warnings.emplace_back(kCasMandatedWarning);
  }

  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  KeyMetadata m;
  if (meta->has_value()) {
    m = std::move(**meta);
  } else {
    sdk::WallTime now = store.now();
    m = KeyMetadata{.key = path, .created_time = now, .updated_time = now};
  }
  if (has_max) m.max_versions = *max_versions;
  if (has_cas) m.cas_required = d.boolean("cas_required");
  if (has_dva) m.delete_version_after = d.duration("delete_version_after");
  if (has_custom) m.custom_metadata = std::move(custom);
  LEASEFS_TRY(store.apply({store.put_metadata(m)}));
  return response;
}

Result<Response> patch_metadata(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  LEASEFS_TRY(validate_secret_path(path));
  auto max_versions = max_versions_field(d);
  if (!max_versions) return sdk::error(max_versions.error());
  std::map<std::string, std::string> custom_set;
  std::vector<std::string> custom_removed;
  if (d.has("custom_metadata")) {
    auto parsed =
        parse_custom_metadata(d.raw("custom_metadata"), /*drop_nulls=*/true, &custom_removed);
    if (!parsed) return sdk::error(parsed.error());
    custom_set = std::move(*parsed);
  }
  auto config = store.config();
  if (!config) return sdk::error(config.error());

  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return plain_not_found();
  KeyMetadata& m = **meta;
  Response response;
  if (d.has("cas_required") && config->cas_required && !d.boolean("cas_required")) {
    response.warnings.emplace_back(kCasMandatedWarning);
  }
  if (d.has("max_versions")) m.max_versions = *max_versions;
  if (d.has("cas_required")) m.cas_required = d.boolean("cas_required");
  if (d.has("delete_version_after")) {
    m.delete_version_after = d.duration("delete_version_after");
  }
  // JSON merge patch of custom_metadata: null removes a key, a value sets it.
  for (const auto& k : custom_removed) m.custom_metadata.erase(k);
  for (auto& [k, v] : custom_set) m.custom_metadata[k] = std::move(v);
  LEASEFS_TRY(validate_custom_metadata(m.custom_metadata));
  LEASEFS_TRY(store.apply({store.put_metadata(m)}));
  return response;
}

Result<Response> delete_metadata(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return Response::empty();
  std::vector<sdk::StorageOp> ops;
  ops.reserve((**meta).versions.size() + 1);
  for (const auto& [n, v] : (**meta).versions) {
    ops.push_back(sdk::StorageOp::remove(VersionedStore::version_key(path, n)));
  }
  ops.push_back(sdk::StorageOp::remove(VersionedStore::meta_key(path)));
  LEASEFS_TRY(store.apply(ops));
  return Response::empty();
}

}  // namespace

sdk::PathSpec metadata_path(std::shared_ptr<VersionedStore> store) {
  auto bind = [store](auto fn) {
    return [store, fn](Request& r, const FieldData& d) { return fn(*store, r, d); };
  };
  return {
      .pattern = "metadata/{path*?}",
      .fields = {{.name = "path", .description = "Location of the secret."},
                 {.name = "max_versions",
                  .type = FieldType::kInt,
                  .description = "Versions to keep; 0 = the mount's setting."},
                 {.name = "cas_required",
                  .type = FieldType::kBool,
                  .description = "Require check-and-set on every write of this secret."},
                 {.name = "delete_version_after",
                  .type = FieldType::kDuration,
                  .description = "Time after which a new version counts as deleted; 0 "
                                 "clears the setting."},
                 {.name = "custom_metadata",
                  .type = FieldType::kMap,
                  .description = "Up to 64 user key/value pairs describing the secret."}},
      .operations = {{Operation::kRead, bind(read_metadata)},
                     {Operation::kList, bind(list_metadata)},
                     {Operation::kCreate, bind(write_metadata)},
                     {Operation::kUpdate, bind(write_metadata)},
                     {Operation::kPatch, bind(patch_metadata)},
                     {Operation::kDelete, bind(delete_metadata)}},
      .existence = [store](Request&, const FieldData& d) -> Result<bool> {
        auto meta = store->metadata(d.string("path"));
        if (!meta) return sdk::error(meta.error());
        return meta->has_value();
      },
      .synopsis = "Read, list, configure and delete secrets' metadata and versions.",
  };
}

}  // namespace leasefs::engines::kv
