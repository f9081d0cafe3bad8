// Name -> factory for every engine. A name listed twice is a programming error and
// aborts at start-up.
#include "engines/registry.h"

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "engines/approle/approle.h"
#include "engines/database/database.h"
#include "engines/kv/kv.h"
#include "engines/pki/pki.h"
#include "engines/ssh/ssh.h"

namespace leasefs::engines {

namespace {

using Factories = std::map<std::string, backend::sdk::BackendFactory>;

Factories build(std::initializer_list<std::pair<const char*, backend::sdk::BackendFactory>> list) {
  Factories out;
  for (const auto& [name, factory] : list) {
    if (!out.emplace(name, factory).second) {
      std::fprintf(stderr, "leasefs: engine \"%s\" is registered twice\n", name);
      std::abort();
    }
  }
  return out;
}

}  // namespace

const Factories& secrets_engines() {
  static const Factories kEngines = build({
      {"kv", kv::make_kv},
      {"pki", pki::make_pki},
      {"database", database::make_database},
      {"ssh", ssh::make_ssh},
  });
  return kEngines;
}

const Factories& auth_methods() {
  static const Factories kMethods = build({
      {"approle", approle::make_approle},
  });
  return kMethods;
}

}  // namespace leasefs::engines
