// sys/audit (list, enable, disable devices; sudo), sys/audit-hash (the HMAC a device
// writes for a value) and POST sys/access-events (ours: file opens reported by mounts,
// audited as entries of type "access"). The broker (backend/audit/broker.h) does the
// work; these only translate Vault's request shapes.
#include <span>
#include <string>
#include <vector>

#include "backend/core/core.h"
#include "backend/core/internal_backends.h"
#include "backend/sdk/log.h"

namespace leasefs::backend::core {

using nlohmann::json;
using sdk::FieldData;
using sdk::FieldType;
using sdk::Operation;
using sdk::Request;
using sdk::Response;
using sdk::Result;

namespace {

Result<Response> enable(Core& core, const FieldData& d) {
  audit::DeviceSpec spec;
  spec.path = d.string("path");
  spec.type = d.string("type");
  if (spec.type.empty()) return sdk::invalid_argument("type is required");
  spec.description = d.string("description");
  spec.local = d.boolean("local");
  auto options = audit::options_from_json(d.raw("options"));
  if (!options) return sdk::error(options.error());
  spec.options = std::move(*options);
  LEASEFS_TRY(core.audit().enable(std::move(spec)));
  return Response::empty();
}

Result<Response> hash(Core& core, const FieldData& d) {
  auto hashed = core.audit().hash(d.string("path"), d.string("input"));
  if (!hashed) return sdk::error(hashed.error());
  return Response::with_data({{"hash", *hashed}});
}

Result<Response> access_events(Core& core, Request& req, const FieldData& d) {
  // The HTTP layer parses a well-formed batch into events itself (AccessEventBatch);
  // any other body, and internal callers, come as a tree.
  std::vector<audit::AccessEvent> parsed;
  std::span<const audit::AccessEvent> events;
  if (const AccessEventBatch* batch = access_event_batch_of(req)) {
    events = batch->events;
  } else {
    auto list = audit::parse_access_event_list(d.raw("events"), core.clock().now());
    if (!list) return sdk::error(list.error());
    parsed = std::move(*list);
    events = parsed;
  }
  audit::AccessReporter reporter;
  reporter.request_id = req.id;
  reporter.client_token = req.client_token;
  reporter.accessor = req.caller.accessor;
  reporter.display_name = req.caller.display_name;
  reporter.remote_address = req.caller.remote_address;
  if (auto logged = core.audit().log_access_events(events, reporter); !logged) {
    if (logged.error().code() == sdk::Code::kInvalidArgument) return sdk::error(logged.error());
    sdk::log_error("audit", "no audit device recorded a batch of access events: " +
                                logged.error().message());
    return sdk::error(sdk::Code::kInternal, "internal error");
  }
  return Response::with_data({{"recorded", events.size()}});
}

}  // namespace

std::vector<sdk::PathSpec> audit_paths(Core& core) {
  Core* c = &core;
  std::vector<sdk::PathSpec> p;
  p.push_back({.pattern = "audit",
               .operations = {{Operation::kRead, [c](Request&, const FieldData&) -> Result<Response> {
                 return Response::with_data(c->audit().list());
               }}}});
  p.push_back({.pattern = "audit/{path*}",
               .fields = {{.name = "path", .type = FieldType::kString},
                          {.name = "type", .type = FieldType::kString},
                          {.name = "description", .type = FieldType::kString},
                          {.name = "options", .type = FieldType::kAny},
                          {.name = "local", .type = FieldType::kBool}},
               .operations = {{Operation::kUpdate,
                               [c](Request&, const FieldData& d) { return enable(*c, d); }},
                              {Operation::kDelete, [c](Request&, const FieldData& d) -> Result<Response> {
                                 LEASEFS_TRY(c->audit().disable(d.string("path")));
                                 return Response::empty();
                               }}}});
  p.push_back({.pattern = "audit-hash/{path*}",
               .fields = {{.name = "path", .type = FieldType::kString},
                          {.name = "input", .type = FieldType::kString}},
               .operations = {{Operation::kUpdate,
                               [c](Request&, const FieldData& d) { return hash(*c, d); }}}});
  p.push_back({.pattern = "access-events",
               .fields = {{.name = "events", .type = FieldType::kAny}},
               .operations = {{Operation::kUpdate, [c](Request& r, const FieldData& d) {
                 return access_events(*c, r, d);
               }}}});
  return p;
}

}  // namespace leasefs::backend::core
