// KV v2 "data/<path>": read a version, write a new one (with check-and-set), patch the
// latest one (JSON merge patch), soft-delete the latest one. Also the catch-all for
// paths a v2 mount does not serve.
#include <mutex>
#include <shared_mutex>

#include "engines/kv/paths.h"

namespace leasefs::engines::kv {
namespace {

using sdk::FieldData;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

// The "cas" member of the "options" field, if the client sent one. Accepts what
// Vault's weak decoding accepts: integers, integral floats, numeric strings, bools.
Result<std::optional<std::int64_t>> cas_option(const FieldData& d) {
  if (!d.has("options")) return std::optional<std::int64_t>();
  json options = d.map("options");
  auto it = options.find("cas");
  if (it == options.end() || it->is_null()) return std::optional<std::int64_t>();
  auto converted = sdk::convert_field("cas", FieldType::kInt, *it);
  if (converted && converted->is_number_integer()) {
    return std::optional<std::int64_t>(converted->get<std::int64_t>());
  }
  if (it->is_boolean()) return std::optional<std::int64_t>(it->get<bool>() ? 1 : 0);
  return sdk::invalid_argument("error parsing check-and-set parameter");
}

Result<void> check_cas(const std::optional<std::int64_t>& cas, const MountConfig& config,
                       const KeyMetadata& meta) {
  if (cas) {
    if (*cas < 0 || static_cast<std::uint64_t>(*cas) != meta.current_version) {
      return sdk::error(sdk::Code::kConflict,
                        "check-and-set parameter did not match the current version");
    }
    return {};
  }
  if (config.cas_required || meta.cas_required) {
    return sdk::invalid_argument("check-and-set parameter required for this call");
  }
  return {};
}

// Adds a version holding `encoded` to `meta` and stores it, the metadata and the
// removal of versions that fell out of the window, in one batch. Caller holds the
// secret's lock exclusively.
Result<Response> commit_version(VersionedStore& store, KeyMetadata& meta, const MountConfig& config,
                                const std::string& encoded) {
  sdk::WallTime now = store.now();
  auto dropped = add_version(meta, now, deletion_time_for(now, config, meta), config);
  std::vector<sdk::StorageOp> ops;
  ops.reserve(2 + dropped.size());
  ops.push_back(store.put_version(meta.key, meta.current_version, encoded));
  ops.push_back(store.put_metadata(meta));
  for (std::uint64_t n : dropped) {
    ops.push_back(sdk::StorageOp::remove(VersionedStore::version_key(meta.key, n)));
  }
  LEASEFS_TRY(store.apply(ops));
  return Response::with_data(version_metadata_json(meta, meta.current_version));
}

Result<Response> read_data(VersionedStore& store, Request& request, const FieldData& d) {
  std::string path = d.string("path");
  if (path.ends_with('/')) return invalid_v2_path_response(request);
  return read_version(store, path, d.integer("version"), "data", {});
}

Result<Response> write_data(VersionedStore& store, Request& request, const FieldData& d) {
  std::string path = d.string("path");
  if (path.ends_with('/')) return invalid_v2_path_response(request);
  LEASEFS_TRY(validate_secret_path(path));
  if (!d.has("data")) return sdk::invalid_argument("no data provided");
  auto encoded = encode_secret(d.map("data"));
  if (!encoded) return sdk::error(encoded.error());
  auto cas = cas_option(d);
  if (!cas) return sdk::error(cas.error());
  auto config = store.config();
  if (!config) return sdk::error(config.error());

  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  KeyMetadata m = meta->has_value() ? std::move(**meta) : KeyMetadata{.key = path};
  LEASEFS_TRY(check_cas(*cas, *config, m));
  return commit_version(store, m, *config, *encoded);
}

Result<Response> patch_data(VersionedStore& store, Request& request, const FieldData& d) {
  std::string path = d.string("path");
  if (path.ends_with('/')) return invalid_v2_path_response(request);
  if (!d.has("data")) return sdk::invalid_argument("no data provided");
  auto cas = cas_option(d);
  if (!cas) return sdk::error(cas.error());
  auto config = store.config();
  if (!config) return sdk::error(config.error());

  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return plain_not_found();
  KeyMetadata& m = **meta;
  LEASEFS_TRY(check_cas(*cas, *config, m));
  auto it = m.versions.find(m.current_version);
  if (it == m.versions.end()) return plain_not_found();
  if (is_deleted(it->second, store.now()) || it->second.destroyed) {
    // Vault answers a patch of a deleted latest version with its metadata, flat.
    return response_with_status(version_metadata_json(m, m.current_version), 404);
  }
  auto data = store.version_data(path, m.current_version);
  if (!data) return sdk::error(data.error());
  data->merge_patch(d.map("data"));
  auto encoded = encode_secret(*data);
  if (!encoded) return sdk::error(encoded.error());
  return commit_version(store, m, *config, *encoded);
}

Result<Response> delete_latest(VersionedStore& store, Request& request, const FieldData& d) {
  std::string path = d.string("path");
  if (path.ends_with('/')) return invalid_v2_path_response(request);
  std::unique_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return Response::empty();
  KeyMetadata& m = **meta;
  auto it = m.versions.find(m.current_version);
  sdk::WallTime now = store.now();
  if (it == m.versions.end() || it->second.destroyed || is_deleted(it->second, now)) {
    return Response::empty();
  }
  it->second.deletion_time = now;
  LEASEFS_TRY(store.apply({store.put_metadata(m)}));
  return Response::empty();
}

}  // namespace

sdk::PathSpec data_path(std::shared_ptr<VersionedStore> store) {
  auto bind = [store](auto fn) {
    return [store, fn](Request& r, const FieldData& d) { return fn(*store, r, d); };
  };
  return {
      .pattern = "data/{path*}",
      .fields = {{.name = "path", .description = "Location of the secret."},
                 {.name = "version",
                  .type = FieldType::kInt,
                  .description = "Version to read; 0 or absent = the latest."},
                 {.name = "options",
                  .type = FieldType::kMap,
                  .description = "Write options: {\"cas\": N} for check-and-set."},
                 {.name = "data",
                  .type = FieldType::kMap,
                  .description = "The secret's key/value pairs."}},
      .operations = {{Operation::kRead, bind(read_data)},
                     {Operation::kCreate, bind(write_data)},
                     {Operation::kUpdate, bind(write_data)},
                     {Operation::kPatch, bind(patch_data)},
                     {Operation::kDelete, bind(delete_latest)},
                     // LIST belongs on metadata/; Vault answers it here as an invalid path.
                     {Operation::kList,
                      [](Request& r, const FieldData&) -> Result<Response> {
                        return invalid_v2_path_response(r);
                      }}},
      .existence = [store](Request&, const FieldData& d) -> Result<bool> {
        auto meta = store->metadata(d.string("path"));
        if (!meta) return sdk::error(meta.error());
        return meta->has_value();
      },
      .synopsis = "Write, patch, read and delete versions of a secret.",
  };
}

sdk::Response invalid_v2_path_response(const sdk::Request& request) {
  Response r;
  r.status = 404;
  std::string_view p = request.path;
  if (p == "metadata" || p == "data" || p == "delete" || p == "undelete" || p == "destroy") {
    r.warnings.push_back("Non-listing operations on the root of a K/V v2 mount are not supported.");
    return r;
  }
  std::string_view command;
  switch (request.operation) {
    case Operation::kCreate:
    case Operation::kUpdate:
      command = "put";
      break;
    case Operation::kPatch:
      command = "patch";
      break;
    case Operation::kRead:
      command = "get";
      break;
    case Operation::kList:
      command = "list";
      break;
    case Operation::kDelete:
      command = "delete";
      break;
  }
  r.warnings.push_back(
      "Invalid path for a versioned K/V secrets engine. See the API docs for the "
      "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv " +
      std::string(command) + "' for this operation.");
  return r;
}

sdk::PathSpec invalid_v2_path() {
  auto handler = [](Request& r, const FieldData&) -> Result<Response> {
    return invalid_v2_path_response(r);
  };
  return {
      .pattern = "{path*?}",
      .fields = {{.name = "path"}},
      .operations = {{Operation::kRead, handler},
                     {Operation::kList, handler},
                     {Operation::kUpdate, handler},
                     {Operation::kPatch, handler},
                     {Operation::kDelete, handler}},
      .synopsis = "Paths a versioned K/V mount does not serve.",
  };
}

}  // namespace leasefs::engines::kv
