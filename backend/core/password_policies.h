// Password policies kept by the core (sys/policies/password/:name), usable by engines
// through sdk::PasswordPolicies. See password_policies.cc.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sdk/request.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::core {

class PasswordPolicyStore final : public sdk::PasswordPolicies {
 public:
  // `storage`: the view "sys/password_policy/" behind the barrier.
  explicit PasswordPolicyStore(sdk::Storage& storage);

  // The policy text as written; nullopt when there is none.
  sdk::Result<std::optional<std::string>> get(std::string_view name);
  // Parses, then stores; invalid_argument with the parser's message on bad text.
  sdk::Result<void> put(std::string_view name, std::string_view text);
  // Deleting a missing policy succeeds.
  sdk::Result<void> remove(std::string_view name);
  sdk::Result<std::vector<std::string>> list();

  sdk::Result<std::string> generate(std::string_view name, sdk::Random& random) override;

 private:
  sdk::Storage& storage_;
};

}  // namespace leasefs::backend::core
