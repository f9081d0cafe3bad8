// KV v2 "config": mount-wide max_versions, cas_required and delete_version_after.
#include <limits>
#include <mutex>

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

// delete_version_after of the config is signed: a negative value switches the feature
// off for every key, 0 clears it. Takes seconds or a duration string ("-1s", "1h").
Result<sdk::Duration> signed_duration(const json& raw) {
  auto bad = [](const sdk::Status& s) {
    return sdk::error(s.with_context("field \"delete_version_after\""));
  };
  if (raw.is_number_integer() && !raw.is_number_unsigned() && raw.get<std::int64_t>() < 0) {
    auto d = sdk::duration_from_json(json(-raw.get<std::int64_t>()));
    if (!d) return bad(d.error());
    return -*d;
  }
  if (raw.is_number_float() && raw.get<double>() < 0) {
    auto d = sdk::duration_from_json(json(-raw.get<double>()));
    if (!d) return bad(d.error());
    return -*d;
  }
  if (raw.is_string() && raw.get_ref<const std::string&>().starts_with('-')) {
    auto d = sdk::parse_duration(std::string_view(raw.get_ref<const std::string&>()).substr(1));
    if (!d) return bad(d.error());
    return -*d;
  }
  auto d = sdk::duration_from_json(raw);
  if (!d) return bad(d.error());
  return *d;
}

Result<Response> read_config(VersionedStore& store, Request&, const FieldData&) {
  auto config = store.config();
  if (!config) return sdk::error(config.error());
  return Response::with_data(
      json{{"cas_required", config->cas_required},
           {"delete_version_after", sdk::format_duration(config->delete_version_after)},
           {"max_versions", config->max_versions}});
}

Result<Response> write_config(VersionedStore& store, Request&, const FieldData& d) {
  bool has_max = d.has("max_versions");
  bool has_cas = d.has("cas_required");
  bool has_dva = d.has("delete_version_after");
  if (!has_max && !has_cas && !has_dva) return Response::empty();
  std::int64_t max_versions = d.integer("max_versions");
  if (max_versions < 0 || max_versions > std::numeric_limits<std::uint32_t>::max()) {
    return sdk::invalid_argument("field \"max_versions\": must be between 0 and 4294967295");
  }
  sdk::Duration dva{0};
  if (has_dva) {
    auto parsed = signed_duration(d.raw("delete_version_after"));
    if (!parsed) return sdk::error(parsed.error());
    // Whole seconds, as Vault's TypeSignedDurationSecond.
    dva = std::chrono::seconds(sdk::whole_seconds(*parsed));
  }

  std::lock_guard lock(store.config_mutex());
  auto config = store.config();
  if (!config) return sdk::error(config.error());
  if (has_max) config->max_versions = static_cast<std::uint32_t>(max_versions);
  if (has_cas) config->cas_required = d.boolean("cas_required");
  if (has_dva) {
    if (dva < sdk::Duration(0)) {
      config->delete_version_after = kDeleteVersionAfterDisabled;
    } else {
      config->delete_version_after = dva;  // 0 clears the setting
    }
  }
  LEASEFS_TRY(store.apply({store.put_config(*config)}));
  return Response::empty();
}

}  // namespace

sdk::PathSpec config_path(std::shared_ptr<VersionedStore> store) {
  return {
      .pattern = "config",
      .fields = {{.name = "max_versions",
                  .type = FieldType::kInt,
                  .description = "Versions to keep of each secret; 0 = 10."},
                 {.name = "cas_required",
                  .type = FieldType::kBool,
                  .description = "Require check-and-set on every write."},
                 {.name = "delete_version_after",
                  .type = FieldType::kAny,
                  .description = "Time after which a new version counts as deleted; "
                                 "negative switches the feature off, 0 clears it."}},
      .operations =
          {{Operation::kRead,
            [store](Request& r, const FieldData& d) { return read_config(*store, r, d); }},
           {Operation::kUpdate,
            [store](Request& r, const FieldData& d) { return write_config(*store, r, d); }}},
      .synopsis = "Configure settings that apply to every secret of the mount.",
  };
}

}  // namespace leasefs::engines::kv
