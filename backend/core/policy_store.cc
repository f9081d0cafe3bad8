// Policy storage, validation and ACL caching.
#include "backend/core/policy_store.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace leasefs::backend::core {

using nlohmann::json;

namespace {
constexpr std::size_t kMaxCachedAcls = 10'000;
}

PolicyStore::PolicyStore(sdk::Storage& storage) : storage_(storage) {}

sdk::Result<std::string> PolicyStore::normalize_name(std::string_view name) {
  std::string out;
  for (char c : name) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (out.empty()) return sdk::invalid_argument("policy name missing");
  if (out.size() > 128) return sdk::invalid_argument("policy name is too long");
  for (char c : out) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '@')) {
      return sdk::invalid_argument("policy name \"" + out + "\" contains a character other than "
                                   "letters, digits, '-', '_', '.' and '@'");
    }
  }
  return out;
}

sdk::Result<void> PolicyStore::setup() {
  auto existing = storage_.get(std::string(auth::kDefaultPolicyName));
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) return {};
  return put(auth::kDefaultPolicyName, auth::kDefaultPolicyText);
}

sdk::Result<std::optional<StoredPolicy>> PolicyStore::get(std::string_view name) {
  auto n = normalize_name(name);
  if (!n) return sdk::error(n.error());
  if (*n == auth::kRootPolicyName) {
    return std::optional<StoredPolicy>(StoredPolicy{*n, ""});
  }
  auto stored = storage_.get(*n);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<StoredPolicy>();
  auto doc = json::parse(**stored, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("policy") ||
      !doc["policy"].is_string()) {
    return sdk::error(sdk::Code::kDataLoss, "stored policy \"" + *n + "\" is malformed");
  }
  return std::optional<StoredPolicy>(StoredPolicy{*n, doc["policy"].get<std::string>()});
}

sdk::Result<void> PolicyStore::put(std::string_view name, std::string_view text) {
  auto n = normalize_name(name);
  if (!n) return sdk::error(n.error());
  if (*n == auth::kRootPolicyName) return sdk::invalid_argument("cannot update root policy");
  std::string decoded = auth::decode_policy_text(text);
  auto parsed = auth::parse_policy(*n, decoded);
  if (!parsed) return sdk::error(parsed.error());
  json doc = {{"name", *n}, {"policy", decoded}};
  LEASEFS_TRY(storage_.put(*n, doc.dump(-1, ' ', false, json::error_handler_t::replace)));
  clear();
  return {};
}

sdk::Result<void> PolicyStore::remove(std::string_view name) {
  auto n = normalize_name(name);
  if (!n) return sdk::error(n.error());
  if (*n == auth::kRootPolicyName) return sdk::invalid_argument("cannot delete root policy");
  if (*n == auth::kDefaultPolicyName) return sdk::invalid_argument("cannot delete default policy");
  LEASEFS_TRY(storage_.remove(*n));
  clear();
  return {};
}

sdk::Result<std::vector<std::string>> PolicyStore::list() {
  auto names = storage_.list("");
  if (!names) return sdk::error(names.error());
  std::vector<std::string> out;
  for (auto& n : *names) {
    if (!n.empty() && n.back() != '/') out.push_back(std::move(n));
  }
  out.emplace_back(auth::kRootPolicyName);
  std::sort(out.begin(), out.end());
  return out;
}

sdk::Result<bool> PolicyStore::exists(std::string_view name) {
  auto p = get(name);
  if (!p) return sdk::error(p.error());
  return p->has_value();
}

sdk::Result<std::shared_ptr<const auth::Acl>> PolicyStore::acl_for(
    const std::vector<std::string>& names) {
  std::string key;
  for (const auto& n : names) {
    key += n;
    key.push_back('\n');
  }
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (auto it = acl_cache_.find(key); it != acl_cache_.end()) return it->second;
    generation = generation_;
  }
  std::vector<auth::Policy> policies;
  bool root = std::find(names.begin(), names.end(), auth::kRootPolicyName) != names.end();
  if (root) {
    policies.push_back(auth::Policy{.name = std::string(auth::kRootPolicyName)});
  } else {
    for (const auto& n : names) {
      auto stored = get(n);
      if (!stored) return sdk::error(stored.error());
      if (!stored->has_value()) continue;
      auto parsed = auth::parse_policy((*stored)->name, (*stored)->text);
      if (!parsed) {
        return sdk::error(sdk::Code::kDataLoss, "stored policy \"" + n + "\" does not parse");
      }
      policies.push_back(std::move(*parsed));
    }
  }
  auto acl = auth::Acl::build(policies);
  if (!acl) return sdk::error(acl.error());
  auto shared = std::make_shared<const auth::Acl>(std::move(*acl));
  std::lock_guard lock(mu_);
  if (generation == generation_) {
    if (acl_cache_.size() >= kMaxCachedAcls) acl_cache_.clear();
    acl_cache_[key] = shared;
  }
  return shared;
}

void PolicyStore::clear() {
  std::lock_guard lock(mu_);
  ++generation_;
  acl_cache_.clear();
}

}  // namespace leasefs::backend::core
