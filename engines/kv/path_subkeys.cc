// KV v2 "subkeys/<path>": the shape of a version's data with every value replaced by
// null, so a client can see which keys exist without reading any secret.
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

// Replaces, in place, every value of `object` (at nesting level `depth`, the top being
// 1) that is not a non-empty object by null; objects nested deeper than `max_depth`
// become null too (0 = no limit).
void strip_values(json& object, std::int64_t depth, std::int64_t max_depth) {
  for (auto& [key, value] : object.items()) {
    std::int64_t next = depth + 1;
    if (value.is_object() && !value.empty() && (max_depth == 0 || next <= max_depth)) {
      strip_values(value, next, max_depth);
    } else {
      value = nullptr;
    }
  }
}

Result<Response> read_subkeys(VersionedStore& store, Request&, const FieldData& d) {
  const std::int64_t depth = d.integer("depth");
  return read_version(store, d.string("path"), d.integer("version"), "subkeys",
                      [depth](json& data) { strip_values(data, 1, depth); });
}

}  // namespace

sdk::PathSpec subkeys_path(std::shared_ptr<VersionedStore> store) {
  return {
      .pattern = "subkeys/{path*}",
      .fields = {{.name = "path", .description = "Location of the secret."},
                 {.name = "version",
                  .type = FieldType::kInt,
                  .description = "Version to read; 0 or absent = the latest."},
                 {.name = "depth",
                  .type = FieldType::kInt,
                  .description = "Deepest nesting level to show; 0 = no limit."}},
      .operations = {{Operation::kRead,
                      [store](Request& r, const FieldData& d) {
                        return read_subkeys(*store, r, d);
                      }}},
      .synopsis = "Read the structure of a secret with its values removed.",
  };
}

}  // namespace leasefs::engines::kv
