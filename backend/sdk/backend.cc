// The declarative engine: routing a request to its PathSpec and operation handler.
#include "backend/sdk/backend.h"

#include <cstdio>
#include <cstdlib>

namespace leasefs::backend::sdk {

Result<void> fill_request_context(Request& request, Storage* storage, const Clock* clock,
                                  Random* random, std::string_view engine) {
  if (request.storage == nullptr) request.storage = storage;
  if (request.clock == nullptr) request.clock = clock;
  if (request.random == nullptr) request.random = random;
  if (request.storage == nullptr || request.clock == nullptr || request.random == nullptr) {
    return internal_error(std::string(engine) + ": request has no storage, clock or random");
  }
  return {};
}

std::string_view operation_name(Operation op) {
  switch (op) {
    case Operation::kRead: return "read";
    case Operation::kList: return "list";
    case Operation::kCreate: return "create";
    case Operation::kUpdate: return "update";
    case Operation::kPatch: return "patch";
    case Operation::kDelete: return "delete";
  }
  return "unknown";
}

std::optional<Operation> operation_from_name(std::string_view name) {
  for (auto op : {Operation::kRead, Operation::kList, Operation::kCreate, Operation::kUpdate,
                  Operation::kPatch, Operation::kDelete}) {
    if (operation_name(op) == name) return op;
  }
  return std::nullopt;
}

FrameworkBackend::FrameworkBackend(std::vector<PathSpec> paths,
                                   std::vector<SecretType> secret_types, SpecialPaths special)
    : secret_types_(std::move(secret_types)), special_(std::move(special)) {
  paths_.reserve(paths.size());
  for (auto& spec : paths) {
    auto pattern = PathPattern::compile(spec.pattern);
    if (!pattern) {
      // Patterns are compiled-in constants: a bad one is a programming error.
      std::fprintf(stderr, "leasefs: %s\n", pattern.error().message().c_str());
      std::abort();
    }
    paths_.push_back({std::move(*pattern), std::move(spec)});
  }
}

const FrameworkBackend::CompiledPath* FrameworkBackend::route(
    std::string_view path, std::map<std::string, std::string>& captures) const {
  for (const auto& p : paths_) {
    if (p.pattern.match(path, captures)) return &p;
  }
  return nullptr;
}

const SecretType* FrameworkBackend::secret_type(const std::string& name) const {
  for (const auto& t : secret_types_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<Response> FrameworkBackend::handle(Request& request) {
  std::map<std::string, std::string> captures;
  const CompiledPath* p = route(request.path, captures);
  if (p == nullptr) return not_found("unsupported path");
  auto op = p->spec.operations.find(request.operation);
  if (op == p->spec.operations.end()) {
    // Vault answers a create on a path that only has update (and vice versa) with the
    // other handler; the ACL check already used the right capability.
    if (request.operation == Operation::kCreate) {
      op = p->spec.operations.find(Operation::kUpdate);
    } else if (request.operation == Operation::kUpdate) {
      op = p->spec.operations.find(Operation::kCreate);
    }
    if (op == p->spec.operations.end()) {
      return error(Code::kUnsupported, "unsupported operation");
    }
  }
  auto fields = FieldData::parse(p->spec.fields, request.data, captures);
  if (!fields) return error(fields.error());
  auto response = op->second(request, *fields);
  if (response && !fields->unknown().empty()) {
    std::string warning = "Endpoint ignored these unrecognized parameters: [";
    for (std::size_t i = 0; i < fields->unknown().size(); ++i) {
      if (i > 0) warning += " ";
      warning += fields->unknown()[i];
    }
    warning += "]";
    response->warnings.push_back(std::move(warning));
  }
  return response;
}

Result<std::optional<bool>> FrameworkBackend::exists(Request& request) {
  std::map<std::string, std::string> captures;
  const CompiledPath* p = route(request.path, captures);
  if (p == nullptr || !p->spec.existence) return std::optional<bool>();
  auto fields = FieldData::parse(p->spec.fields, request.data, captures);
  if (!fields) return error(fields.error());
  auto found = p->spec.existence(request, *fields);
  if (!found) return error(found.error());
  return std::optional<bool>(*found);
}

Result<Response> FrameworkBackend::renew_secret(Request& request, const LeaseInfo& lease) {
  const SecretType* type = secret_type(lease.secret_type);
  if (type == nullptr) {
    return internal_error("lease has unknown secret type \"" + lease.secret_type + "\"");
  }
  if (!type->renew) return invalid_argument("lease is not renewable");
  return type->renew(request, lease);
}

Result<void> FrameworkBackend::revoke_secret(Request& request, const LeaseInfo& lease) {
  const SecretType* type = secret_type(lease.secret_type);
  if (type == nullptr) {
    return internal_error("lease has unknown secret type \"" + lease.secret_type + "\"");
  }
  if (!type->revoke) return {};  // nothing to destroy: the lease only expires
  return type->revoke(request, lease);
}

}  // namespace leasefs::backend::sdk
