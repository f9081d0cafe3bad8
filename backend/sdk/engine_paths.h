// Path helpers for engines whose handlers share one Engine object (pki, ssh, database):
// binding a handler that takes the engine, and the "roles" / "roles/{name}" pair of
// paths every such engine has. The Engine type needs
//   Result<void> fill_context(Request&) const;
// which each handler call runs first (the request's storage, clock and random source).
#pragma once

#include <utility>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/sdk/backend.h"
#include "backend/sdk/status.h"

namespace leasefs::backend::sdk {

template <class Engine>
using EngineHandler = std::function<Result<Response>(Engine&, Request&, const FieldData&)>;

// A Handler that fills the request's context from `engine`, then calls `handler`.
template <class Engine>
Handler bind_engine_handler(const std::shared_ptr<Engine>& engine, EngineHandler<Engine> handler) {
  return [engine, handler = std::move(handler)](Request& request,
                                                const FieldData& fields) -> Result<Response> {
    LEASEFS_TRY(engine->fill_context(request));
    return handler(*engine, request, fields);
  };
}

template <class Engine>
struct RoleHandlers {
  EngineHandler<Engine> list{};    // LIST roles
  EngineHandler<Engine> read{};    // GET roles/{name}
  EngineHandler<Engine> write{};   // POST/PUT roles/{name} (create and update)
  EngineHandler<Engine> remove{};  // DELETE roles/{name}
  // Whether roles/{name} exists, which tells a create from an update.
  std::function<Result<bool>(Engine&, Request&, const FieldData&)> exists{};
};

// "roles" (LIST) and "roles/{name}" (read, create, update, delete) with `fields` (the
// role's parameters, "name" among them) and `synopsis` for roles/{name}.
template <class Engine>
std::vector<PathSpec> role_paths(const std::shared_ptr<Engine>& engine,
                                 RoleHandlers<Engine> handlers, std::vector<FieldSpec> fields,
                                 std::string synopsis) {
  std::vector<PathSpec> paths;
  paths.push_back(
      {.pattern = "roles",
       .fields = {},
       .operations = {{Operation::kList, bind_engine_handler(engine, std::move(handlers.list))}},
       .existence = {},
       .synopsis = "List the roles."});
  Handler write = bind_engine_handler(engine, std::move(handlers.write));
  paths.push_back(
      {.pattern = "roles/{name}",
       .fields = std::move(fields),
       .operations = {{Operation::kRead, bind_engine_handler(engine, std::move(handlers.read))},
                      {Operation::kCreate, write},
                      {Operation::kUpdate, write},
                      {Operation::kDelete,
                       bind_engine_handler(engine, std::move(handlers.remove))}},
       .existence = [engine, exists = std::move(handlers.exists)](
                        Request& request, const FieldData& f) -> Result<bool> {
         LEASEFS_TRY(engine->fill_context(request));
         return exists(*engine, request, f);
       },
       .synopsis = std::move(synopsis)});
  return paths;
}

}  // namespace leasefs::backend::sdk
