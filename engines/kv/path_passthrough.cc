// KV v1: one JSON object per path, stored as is under the path itself (the mount's
// view holds nothing else). A "ttl" or "lease" key only changes the lease_duration
// shown on read (Response::advisory_ttl); the mount's default TTL is shown otherwise.
#include "backend/sdk/duration.h"
#include "engines/kv/paths.h"

namespace leasefs::engines::kv {
namespace {

using sdk::FieldData;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

// The advisory TTL of a stored object: its "ttl" (else "lease") key when that parses
// as a duration, else the mount's default lease TTL.
sdk::Duration advisory_ttl(const json& data, const Request& request) {
  auto it = data.find("ttl");
  if (it == data.end()) it = data.find("lease");
  if (it != data.end()) {
    auto d = sdk::duration_from_json(*it);
    if (d) return *d;
  }
  return request.limits.default_lease_ttl;
}

Result<Response> read_secret(sdk::Storage& storage, Request& request, const FieldData& d) {
  std::string path = d.string("path");
  if (!sdk::validate_key(path)) return plain_not_found();
  auto raw = storage.get(path);
  if (!raw) return sdk::error(raw.error());
  if (!raw->has_value()) return plain_not_found();
  auto data = parse_json(**raw);
  if (!data || !data->is_object()) {
    return sdk::error(sdk::Code::kDataLoss, "kv: stored secret is not a JSON object");
  }
  Response r;
  r.advisory_ttl = advisory_ttl(*data, request);
  r.data = std::move(*data);
  return r;
}

Result<Response> write_secret(sdk::Storage& storage, Request& request, const FieldData& d) {
  std::string path = d.string("path");
  if (path.empty()) return sdk::invalid_argument("missing path");
  if (!request.data.is_object() || request.data.empty()) {
    return sdk::invalid_argument("missing data fields");
  }
  auto valid = sdk::validate_key(path);
  if (!valid) {
    std::string message = valid.error().message();
    if (message.starts_with("storage key")) message.replace(0, 11, "path");
    return sdk::invalid_argument(std::move(message));
  }
  auto encoded = encode_secret(request.data);
  if (!encoded) return sdk::error(encoded.error());
  LEASEFS_TRY(storage.put(path, *encoded));
  return Response::empty();
}

Result<Response> delete_secret(sdk::Storage& storage, Request&, const FieldData& d) {
  std::string path = d.string("path");
  if (!sdk::validate_key(path)) return Response::empty();  // nothing can be stored there
  LEASEFS_TRY(storage.remove(path));
  return Response::empty();
}

Result<Response> list_secrets(sdk::Storage& storage, Request&, const FieldData& d) {
  std::string prefix = d.string("path");
  if (!prefix.empty() && !prefix.ends_with('/')) prefix.push_back('/');
  if (!sdk::validate_key(prefix, /*is_prefix=*/true)) return plain_not_found();
  auto keys = storage.list(prefix);
  if (!keys) return sdk::error(keys.error());
  if (keys->empty()) return plain_not_found();
  return Response::with_data(json{{"keys", std::move(*keys)}});
}

}  // namespace

sdk::PathSpec passthrough_path(sdk::Storage& storage) {
  sdk::Storage* s = &storage;
  auto bind = [s](auto fn) {
    return [s, fn](Request& r, const FieldData& d) { return fn(*s, r, d); };
  };
  return {
      .pattern = "{path*?}",
      .fields = {{.name = "path", .description = "Location of the secret."}},
      .operations = {{Operation::kRead, bind(read_secret)},
                     {Operation::kCreate, bind(write_secret)},
                     {Operation::kUpdate, bind(write_secret)},
                     {Operation::kDelete, bind(delete_secret)},
                     {Operation::kList, bind(list_secrets)}},
      .existence = [s](Request&, const FieldData& d) -> Result<bool> {
        std::string path = d.string("path");
        if (!sdk::validate_key(path)) return false;
        auto raw = s->get(path);
        if (!raw) return sdk::error(raw.error());
        return raw->has_value();
      },
      .synopsis = "Pass-through secret storage: read and write arbitrary JSON objects.",
  };
}

}  // namespace leasefs::engines::kv
