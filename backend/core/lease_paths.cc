// sys/leases/*: lookup, list, renew, revoke (+sync), revoke-prefix, revoke-force, tidy,
// count and the irrevocable listing; and the older sys/renew, sys/revoke,
// sys/revoke-prefix and sys/revoke-force that many clients still call. Shapes and
// defaults as Vault's (reference/vault-api.md section 5): revocations are synchronous
// unless the body says "sync": false; revoke-prefix and revoke-force need sudo (the
// system backend's root paths).
#include <charconv>
#include <string>

#include "backend/core/core.h"
#include "backend/core/internal_backends.h"
#include "backend/sdk/duration.h"

namespace leasefs::backend::core {

using nlohmann::json;
using sdk::FieldData;
using sdk::FieldSpec;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

namespace {

// Vault's sys/leases default cap on the irrevocable listing.
constexpr std::size_t kDefaultIrrevocableLimit = 10000;

// The lease id from the body ("lease_id") or the URL ("url_lease_id").
Result<std::string> lease_id_of(const FieldData& d) {
  std::string body = d.string("lease_id");
  std::string url = d.string("url_lease_id");
  if (!body.empty() && !url.empty() && body != url) {
    return sdk::invalid_argument("lease id given twice: in the URL and as \"lease_id\", and they differ");
  }
  std::string id = body.empty() ? url : body;
  if (id.empty()) return sdk::invalid_argument("lease_id must be specified");
  return id;
}

// The limits of the mount that issued a lease (its id starts with the request path).
sdk::MountLimits limits_of(Core& core, std::string_view lease_id) {
  auto mount = core.route(lease_id);
  return mount ? mount->limits : core.options().system_limits;
}

lease::RevokeMode mode_of(const FieldData& d) {
  return d.boolean("sync") ? lease::RevokeMode::kSync : lease::RevokeMode::kAsync;
}

json time_or_null(sdk::WallTime t) {
  return t == sdk::WallTime{} ? json(nullptr) : json(sdk::rfc3339(t));
}

Result<Response> lookup(Core& core, const FieldData& d) {
  auto id = lease_id_of(d);
  if (!id) return sdk::error(id.error());
  auto found = core.expiration().lookup(*id);
  if (!found) return sdk::error(found.error());
  const lease::LeaseDetails& l = *found;
  return Response::with_data({{"id", l.id},
                              {"issue_time", sdk::rfc3339(l.issue_time)},
                              {"expire_time", time_or_null(l.expire_time)},
                              {"last_renewal_time", time_or_null(l.last_renewal.value_or(sdk::WallTime{}))},
                              {"renewable", l.renewable},
                              {"ttl", sdk::whole_seconds(l.ttl)}});
}

Result<Response> list(Core& core, const FieldData& d) {
  auto names = core.expiration().list(d.string("prefix"));
  if (!names) return sdk::error(names.error());
  if (names->empty()) return sdk::not_found("");
  return Response::with_data({{"keys", *names}});
}

Result<Response> renew(Core& core, const FieldData& d) {
  auto id = lease_id_of(d);
  if (!id) return sdk::error(id.error());
  auto renewed = core.expiration().renew(*id, d.duration("increment"), limits_of(core, *id));
  if (!renewed) return sdk::error(renewed.error());
  Response r;
  r.data = renewed->data.is_object() ? renewed->data : json(nullptr);
  r.warnings = renewed->warnings;
  r.lease_block = {{"lease_id", renewed->lease_id},
                   {"renewable", renewed->renewable},
                   {"lease_duration", sdk::whole_seconds(renewed->ttl)}};
  return r;
}

Result<Response> revoke(Core& core, const FieldData& d) {
  auto id = lease_id_of(d);
  if (!id) return sdk::error(id.error());
  LEASEFS_TRY(core.expiration().revoke(*id, mode_of(d)));
  return Response::empty();
}

Result<Response> revoke_prefix(Core& core, const FieldData& d) {
  std::string prefix = d.string("prefix");
  if (prefix.empty()) return sdk::invalid_argument("prefix must be specified");
  auto handled = core.expiration().revoke_prefix(prefix, mode_of(d));
  if (!handled) return sdk::error(handled.error());
  return Response::empty();
}

Result<Response> revoke_force(Core& core, const FieldData& d) {
  std::string prefix = d.string("prefix");
  if (prefix.empty()) return sdk::invalid_argument("prefix must be specified");
  auto handled = core.expiration().revoke_force(prefix);
  if (!handled) return sdk::error(handled.error());
  return Response::empty();
}

Result<Response> tidy(Core& core) {
  auth::TokenStore* tokens = &core.tokens();
  bool started = core.expiration().start_tidy([tokens](std::string_view hash) -> Result<bool> {
    auto found = tokens->lookup_hash(hash);
    if (!found) return sdk::error(found.error());
    return found->has_value();
  });
  Response r;
  r.status = 202;
  r.warnings.push_back(started ? "Tidy operation successfully started. Any information from the "
                                 "operation will be printed to the server's logs."
                               : "Tidy operation already in progress.");
  return r;
}

Result<void> need_irrevocable(const FieldData& d) {
  if (d.string("type") != "irrevocable") {
    return sdk::invalid_argument("invalid 'type' parameter: only \"irrevocable\" is supported");
  }
  return {};
}

Result<Response> count(Core& core, const FieldData& d) {
  LEASEFS_TRY(need_irrevocable(d));
  auto counted = core.expiration().count_irrevocable();
  if (!counted) return sdk::error(counted.error());
  return Response::with_data({{"lease_count", counted->lease_count}, {"counts", counted->counts}});
}

Result<Response> irrevocable(Core& core, const FieldData& d) {
  LEASEFS_TRY(need_irrevocable(d));
  std::size_t limit = kDefaultIrrevocableLimit;
  std::string text = d.string("limit");
  if (text == "none") {
    limit = 0;
  } else if (!text.empty()) {
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n == 0) {
      return sdk::invalid_argument("invalid 'limit' parameter \"" + text + "\": want a positive number or \"none\"");
    }
    limit = n;
  }
  auto listed = core.expiration().list_irrevocable(limit);
  if (!listed) return sdk::error(listed.error());
  json leases = json::array();
  for (const auto& l : listed->leases) {
    leases.push_back({{"lease_id", l.lease_id},
                      {"mount_id", l.mount},
                      {"error", l.error},
                      {"expire_time", sdk::rfc3339(l.expire_time)}});
  }
  Response r = Response::with_data({{"lease_count", listed->total}, {"leases", leases}});
  if (!listed->warning.empty()) r.warnings.push_back(listed->warning);
  return r;
}

std::vector<FieldSpec> lease_fields() {
  return {{.name = "lease_id", .type = FieldType::kString},
          {.name = "url_lease_id", .type = FieldType::kString},
          {.name = "increment", .type = FieldType::kDuration},
          {.name = "sync", .type = FieldType::kBool, .default_value = true}};
}

std::vector<FieldSpec> prefix_fields() {
  return {{.name = "prefix", .type = FieldType::kString},
          {.name = "sync", .type = FieldType::kBool, .default_value = true}};
}

}  // namespace

std::vector<sdk::PathSpec> lease_paths(Core& core) {
  Core* c = &core;
  auto bind = [c](Result<Response> (*fn)(Core&, const FieldData&)) {
    return [c, fn](Request&, const FieldData& d) { return fn(*c, d); };
  };
  std::vector<sdk::PathSpec> p;
  p.push_back({.pattern = "leases",
               .fields = {{.name = "type", .type = FieldType::kString},
                          {.name = "limit", .type = FieldType::kString}},
               .operations = {{Operation::kRead, bind(irrevocable)}}});
  p.push_back({.pattern = "leases/count",
               .fields = {{.name = "type", .type = FieldType::kString}},
               .operations = {{Operation::kRead, bind(count)}}});
  p.push_back({.pattern = "leases/lookup",
               .fields = lease_fields(),
               .operations = {{Operation::kUpdate, bind(lookup)}}});
  p.push_back({.pattern = "leases/lookup/{prefix*?}",
               .fields = {{.name = "prefix", .type = FieldType::kString}},
               .operations = {{Operation::kList, bind(list)}}});
  p.push_back({.pattern = "leases/tidy",
               .operations = {{Operation::kUpdate, [c](Request&, const FieldData&) { return tidy(*c); }}}});
  // Current and legacy spellings of the same operations.
  for (std::string base : {"leases/", ""}) {
    p.push_back({.pattern = base + "renew",
                 .fields = lease_fields(),
                 .operations = {{Operation::kUpdate, bind(renew)}}});
    p.push_back({.pattern = base + "renew/{url_lease_id*}",
                 .fields = lease_fields(),
                 .operations = {{Operation::kUpdate, bind(renew)}}});
    p.push_back({.pattern = base + "revoke",
                 .fields = lease_fields(),
                 .operations = {{Operation::kUpdate, bind(revoke)}}});
    p.push_back({.pattern = base + "revoke/{url_lease_id*}",
                 .fields = lease_fields(),
                 .operations = {{Operation::kUpdate, bind(revoke)}}});
    p.push_back({.pattern = base + "revoke-prefix/{prefix*}",
                 .fields = prefix_fields(),
                 .operations = {{Operation::kUpdate, bind(revoke_prefix)}}});
    p.push_back({.pattern = base + "revoke-force/{prefix*}",
                 .fields = prefix_fields(),
                 .operations = {{Operation::kUpdate, bind(revoke_force)}}});
  }
  return p;
}

std::string lease_metrics_text(Core& core) {
  if (core.sealed()) return {};
  const lease::ExpirationMetrics m = core.expiration().metrics();
  std::string out;
  auto gauge = [&out](const char* name, const char* help, const char* type, std::uint64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  gauge("leasefs_expire_leases_active", "Leases in force, not irrevocable.", "gauge", m.active_leases);
  gauge("leasefs_expire_leases_irrevocable", "Leases whose revocation failed for good.", "gauge",
        m.irrevocable_leases);
  gauge("leasefs_expire_revocations_queued", "Due leases waiting for a revocation worker.", "gauge",
        m.queued_revocations);
  gauge("leasefs_expire_registered_total", "Leases registered since start.", "counter", m.registered_total);
  gauge("leasefs_expire_renewed_total", "Lease renewals since start.", "counter", m.renewed_total);
  gauge("leasefs_expire_revoked_total", "Leases revoked since start.", "counter", m.revoked_total);
  gauge("leasefs_expire_revoke_failures_total", "Failed revocation attempts since start.", "counter",
        m.revoke_failures_total);
  gauge("leasefs_expire_restore_loaded", "Leases loaded by the restore after unseal.", "gauge",
        m.restore.loaded);
  return out;
}

}  // namespace leasefs::backend::core
