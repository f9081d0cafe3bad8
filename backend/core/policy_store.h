// The policy store: named ACL policies kept behind the barrier (sys/policy/<name>), the
// built-in "root" (fixed, not stored) and "default" (stored, editable, undeletable),
// and a cache of compiled ACLs per set of policy names, dropped whenever a policy
// changes. Every authenticated request asks it for its token's ACL.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/auth/acl.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::core {

struct StoredPolicy {
  std::string name{};
  std::string text{};  // as written by the operator (HCL or JSON)
};

class PolicyStore {
 public:
  // `storage` is the store's view ("sys/policy/" behind the barrier).
  explicit PolicyStore(sdk::Storage& storage);

  // Writes the default policy when there is none (init, and stores made before).
  sdk::Result<void> setup();

  // Lower-cased, checked policy name; invalid_argument when empty or malformed.
  static sdk::Result<std::string> normalize_name(std::string_view name);

  sdk::Result<std::optional<StoredPolicy>> get(std::string_view name);
  // Parses then stores; invalid_argument with the parser's message on bad text, and
  // "cannot update root policy" for root.
  sdk::Result<void> put(std::string_view name, std::string_view text);
  // Refuses root and default; deleting a missing policy succeeds.
  sdk::Result<void> remove(std::string_view name);
  // Every policy name, sorted, root included (as Vault lists it).
  sdk::Result<std::vector<std::string>> list();
  // True when a policy of this name exists (root always does).
  sdk::Result<bool> exists(std::string_view name);

  // The compiled ACL for a token's policies. Names without a stored policy are
  // skipped, as in Vault. Thread-safe; the result may be shared.
  sdk::Result<std::shared_ptr<const auth::Acl>> acl_for(const std::vector<std::string>& names);

  // Drops every cached ACL (on seal).
  void clear();

 private:
  sdk::Storage& storage_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const auth::Acl>> acl_cache_;  // guarded by mu_
  std::uint64_t generation_ = 0;                                        // guarded by mu_
};

}  // namespace leasefs::backend::core
