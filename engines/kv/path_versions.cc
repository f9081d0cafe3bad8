// KV v2 "delete/<path>", "undelete/<path>" and "destroy/<path>": soft-delete, restore
// and permanently remove chosen versions of a secret. Versions that do not exist (or
// are destroyed, for delete and undelete) are skipped, as in Vault.
#include <mutex>

#include "engines/kv/paths.h"

namespace leasefs::engines::kv {
namespace {

using sdk::FieldData;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

// Vault spells the message with a capital letter for delete and undelete only.
Result<std::vector<std::int64_t>> versions_field(const FieldData& d, std::string_view missing) {
  auto versions = parse_int_list("versions", d.raw("versions"));
  if (!versions) return sdk::error(versions.error());
  if (versions->empty()) return sdk::invalid_argument(std::string(missing));
  return versions;
}

VersionMetadata* find_version(KeyMetadata& m, std::int64_t n) {
  if (n <= 0) return nullptr;
  auto it = m.versions.find(static_cast<std::uint64_t>(n));
  return it == m.versions.end() ? nullptr : &it->second;
}

Result<Response> delete_versions(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  auto versions = versions_field(d, "No version number provided");
  if (!versions) return sdk::error(versions.error());
  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return Response::empty();
  KeyMetadata& m = **meta;
  sdk::WallTime now = store.now();
  for (std::int64_t n : *versions) {
    VersionMetadata* v = find_version(m, n);
    if (v == nullptr || v->destroyed || is_deleted(*v, now)) continue;
    v->deletion_time = now;
  }
  LEASEFS_TRY(store.apply({store.put_metadata(m)}));
  return Response::empty();
}

Result<Response> undelete_versions(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  auto versions = versions_field(d, "No version number provided");
  if (!versions) return sdk::error(versions.error());
  auto config = store.config();
  if (!config) return sdk::error(config.error());
  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return Response::empty();
  KeyMetadata& m = **meta;
  sdk::WallTime now = store.now();
  for (std::int64_t n : *versions) {
    VersionMetadata* v = find_version(m, n);
    if (v == nullptr || v->destroyed) continue;
    // An undeleted version gets a fresh delete_version_after window from now.
    v->deletion_time = deletion_time_for(now, *config, m);
  }
  LEASEFS_TRY(store.apply({store.put_metadata(m)}));
  return Response::empty();
}

Result<Response> destroy_versions(VersionedStore& store, Request&, const FieldData& d) {
  std::string path = d.string("path");
  auto versions = versions_field(d, "no version number provided");
  if (!versions) return sdk::error(versions.error());
  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return Response::empty();
  KeyMetadata& m = **meta;
  std::vector<sdk::StorageOp> ops;
  for (std::int64_t n : *versions) {
    VersionMetadata* v = find_version(m, n);
    if (v == nullptr) continue;
    v->destroyed = true;
    // Removing data that is already gone is harmless (a repeated destroy).
    ops.push_back(
        sdk::StorageOp::remove(VersionedStore::version_key(path, static_cast<std::uint64_t>(n))));
  }
  ops.push_back(store.put_metadata(m));
  LEASEFS_TRY(store.apply(ops));
  return Response::empty();
}

sdk::PathSpec versions_spec(std::shared_ptr<VersionedStore> store, std::string pattern,
                            Result<Response> (*handler)(VersionedStore&, Request&,
                                                        const FieldData&),
                            std::string synopsis) {
  auto call = [store, handler](Request& r, const FieldData& d) { return handler(*store, r, d); };
  return {
      .pattern = std::move(pattern),
      .fields = {{.name = "path", .description = "Location of the secret."},
                 {.name = "versions",
                  .type = FieldType::kAny,
                  .description = "Version numbers: [1, 2], \"1,2\" or 1."}},
      .operations = {{Operation::kUpdate, call}},
      .synopsis = std::move(synopsis),
  };
}

}  // namespace

std::vector<sdk::PathSpec> version_paths(std::shared_ptr<VersionedStore> store) {
  std::vector<sdk::PathSpec> paths;
  paths.push_back(versions_spec(store, "delete/{path*}", delete_versions,
                                "Mark versions of a secret as deleted."));
  paths.push_back(versions_spec(store, "undelete/{path*}", undelete_versions,
                                "Restore deleted versions of a secret."));
  paths.push_back(versions_spec(store, "destroy/{path*}", destroy_versions,
                                "Permanently remove the data of versions of a secret."));
  return paths;
}

}  // namespace leasefs::engines::kv
