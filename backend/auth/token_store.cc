// Token creation, lookup, use counting, renewal and revocation.
#include "backend/auth/token_store.h"

#include <algorithm>
#include <cctype>

#include "backend/sdk/duration.h"
#include "backend/sdk/encoding.h"
#include "backend/sdk/ttl.h"

namespace leasefs::backend::auth {

namespace sdk = leasefs::backend::sdk;
using nlohmann::json;

namespace {

constexpr std::size_t kSaltSize = 32;
constexpr std::size_t kTokenChars = 24;
constexpr std::size_t kMaxCached = 100'000;
constexpr int kMaxTreeDepth = 1000;

std::int64_t to_ns(sdk::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
sdk::WallTime from_ns(std::int64_t ns) {
  return sdk::WallTime(std::chrono::duration_cast<sdk::WallTime::duration>(std::chrono::nanoseconds(ns)));
}
std::int64_t secs(sdk::Duration d) { return sdk::whole_seconds(d); }

json entry_to_json(const TokenEntry& e) {
  return {{"accessor", e.accessor},
          {"parent", e.parent_hash},
          {"policies", e.policies},
          {"meta", e.meta},
          {"display_name", e.display_name},
          {"path", e.path},
          {"num_uses", e.num_uses},
          {"creation_time_ns", to_ns(e.creation_time)},
          {"issue_time_ns", to_ns(e.issue_time)},
          {"creation_ttl_ns", e.creation_ttl.count()},
          {"ttl_ns", e.ttl.count()},
          {"explicit_max_ttl_ns", e.explicit_max_ttl.count()},
          {"period_ns", e.period.count()},
          {"renewable", e.renewable},
          {"entity_id", e.entity_id},
          {"bound_cidrs", e.bound_cidrs}};
}

sdk::Result<TokenEntry> entry_from_json(std::string_view id_hash, const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  auto bad = [&] {
    return sdk::error(sdk::Code::kDataLoss, "stored token entry is malformed");
  };
  if (j.is_discarded() || !j.is_object()) return bad();
  TokenEntry e;
  e.id_hash = id_hash;
  try {
    e.accessor = j.at("accessor").get<std::string>();
    e.parent_hash = j.at("parent").get<std::string>();
    e.policies = j.at("policies").get<std::vector<std::string>>();
    e.meta = j.at("meta").get<std::map<std::string, std::string>>();
    e.display_name = j.at("display_name").get<std::string>();
    e.path = j.at("path").get<std::string>();
    e.num_uses = j.at("num_uses").get<std::int64_t>();
    e.creation_time = from_ns(j.at("creation_time_ns").get<std::int64_t>());
    e.issue_time = from_ns(j.at("issue_time_ns").get<std::int64_t>());
    e.creation_ttl = sdk::Duration(j.at("creation_ttl_ns").get<std::int64_t>());
    e.ttl = sdk::Duration(j.at("ttl_ns").get<std::int64_t>());
    e.explicit_max_ttl = sdk::Duration(j.at("explicit_max_ttl_ns").get<std::int64_t>());
    e.period = sdk::Duration(j.at("period_ns").get<std::int64_t>());
    e.renewable = j.at("renewable").get<bool>();
    e.entity_id = j.at("entity_id").get<std::string>();
    e.bound_cidrs = j.value("bound_cidrs", std::vector<std::string>{});
  } catch (const json::exception&) {
    return bad();
  }
  return e;
}

std::string sanitize_display_name(std::string_view name) {
  std::string full = "token-";
  full += name;
  for (char& c : full) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '-';
  }
  while (!full.empty() && full.back() == '-') full.pop_back();
  return full;
}

bool subset(const std::vector<std::string>& super, const std::vector<std::string>& sub) {
  return std::all_of(sub.begin(), sub.end(), [&](const std::string& p) {
    return std::find(super.begin(), super.end(), p) != super.end();
  });
}

}  // namespace

bool TokenEntry::has_policy(std::string_view name) const {
  return std::find(policies.begin(), policies.end(), name) != policies.end();
}

std::vector<std::string> sanitize_policies(std::vector<std::string> policies, bool add_default) {
  std::vector<std::string> out;
  for (auto& p : policies) {
    std::string_view v = p;
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    std::string s(v);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s.empty()) continue;
    if (s == "root") return {"root"};
    out.push_back(std::move(s));
  }
  if (add_default) out.emplace_back("default");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

sdk::Result<std::string> generate_token_id(sdk::Random& random) {
  auto body = sdk::random_base62(random, kTokenChars);
  if (!body) return body;
  return "hvs." + *body;
}

TokenStore::TokenStore(sdk::Storage& storage, const sdk::Clock& clock, sdk::Random& random)
    : storage_(storage), clock_(clock), random_(random) {}

sdk::Result<void> TokenStore::setup() {
  auto stored = storage_.get("salt");
  if (!stored) return sdk::error(stored.error());
  sdk::SecureBuffer salt;
  if (stored->has_value()) {
    if ((*stored)->size() != kSaltSize) {
      return sdk::error(sdk::Code::kDataLoss, "token store salt is malformed");
    }
    salt = sdk::SecureBuffer::copy_of(**stored);
    sdk::wipe((*stored)->data(), (*stored)->size());
  } else {
    auto made = sdk::random_key(random_, kSaltSize);
    if (!made) return sdk::error(made.error());
    LEASEFS_TRY(storage_.put("salt", made->view()));
    salt = std::move(*made);
  }
  auto hmac = sdk::HmacSha256::create(salt.span());
  if (!hmac) return sdk::error(hmac.error());
  std::unique_lock lock(salt_mu_);
  hmac_ = std::move(*hmac);
  return {};
}

void TokenStore::clear() {
  {
    std::unique_lock lock(salt_mu_);
    hmac_.reset();
  }
  std::lock_guard lock(cache_mu_);
  ++generation_;
  cache_.clear();
}

std::string TokenStore::hash(std::string_view token) const {
  std::shared_lock lock(salt_mu_);
  if (!hmac_) return "h";  // sealed: matches nothing
  return "h" + hmac_->hex(token);
}

std::mutex& TokenStore::stripe(std::string_view id_hash) {
  return stripes_[std::hash<std::string_view>{}(id_hash) % stripes_.size()];
}

void TokenStore::cache_put(const TokenEntry& entry, std::uint64_t generation) {
  std::lock_guard lock(cache_mu_);
  if (generation != generation_) return;
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_[entry.id_hash] = std::make_shared<const TokenEntry>(entry);
}

void TokenStore::cache_drop(std::string_view id_hash) {
  std::lock_guard lock(cache_mu_);
  ++generation_;
  cache_.erase(std::string(id_hash));
}

std::uint64_t TokenStore::cache_generation() {
  std::lock_guard lock(cache_mu_);
  return generation_;
}

sdk::Result<std::optional<TokenEntry>> TokenStore::lookup_hash(std::string_view id_hash) {
  std::shared_ptr<const TokenEntry> cached;
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = cache_.find(std::string(id_hash)); it != cache_.end()) cached = it->second;
  }
  std::optional<TokenEntry> entry;
  if (cached) {
    entry = *cached;
  } else {
    const std::uint64_t generation = cache_generation();
    auto stored = storage_.get("id/" + std::string(id_hash));
    if (!stored) return sdk::error(stored.error());
    if (!stored->has_value()) return std::optional<TokenEntry>();
    auto parsed = entry_from_json(id_hash, **stored);
    if (!parsed) return sdk::error(parsed.error());
    entry = std::move(*parsed);
    if (entry->num_uses == 0) cache_put(*entry, generation);
  }
  if (entry->num_uses < 0) return std::optional<TokenEntry>();  // used up
  if (entry->expires() && clock_.now() >= entry->expire_time()) {
    return std::optional<TokenEntry>();  // expired; the expiration manager deletes it
  }
  return entry;
}

sdk::Result<std::optional<TokenEntry>> TokenStore::lookup(std::string_view token) {
  if (token.empty() || token.size() > 256) return std::optional<TokenEntry>();
  return lookup_hash(hash(token));
}

sdk::Result<std::optional<TokenEntry>> TokenStore::lookup_accessor(std::string_view accessor) {
  if (accessor.empty() || accessor.size() > 256) return std::optional<TokenEntry>();
  auto stored = storage_.get("accessor/" + hash(accessor));
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<TokenEntry>();
  return lookup_hash(**stored);
}

sdk::Result<void> TokenStore::store_entry(const TokenEntry& entry,
                                          std::vector<sdk::StorageOp> extra) {
  extra.push_back(sdk::StorageOp::put("id/" + entry.id_hash, entry_to_json(entry).dump()));
  cache_drop(entry.id_hash);
  LEASEFS_TRY(storage_.apply(extra));
  cache_drop(entry.id_hash);
  return {};
}

sdk::Result<IssuedToken> TokenStore::create(const TokenEntry* parent, bool sudo,
                                            TokenCreate req) {
  IssuedToken out;
  TokenEntry& te = out.entry;
  const sdk::WallTime now = clock_.now();
  te.creation_time = now;
  te.issue_time = now;
  te.path = req.path;
  te.meta = req.meta;
  if (req.display_name_verbatim) {
    te.display_name = req.display_name;
  } else {
    te.display_name =
        req.display_name.empty() ? "token" : sanitize_display_name(req.display_name);
  }
  if (req.num_uses < 0) return sdk::invalid_argument("number of uses cannot be negative");
  te.num_uses = req.num_uses;
  const bool parent_root = parent != nullptr && parent->has_policy("root");
  if (parent != nullptr && parent->num_uses > 0 && !parent_root) {
    // A limited-use token could otherwise mint unlimited children.
    return sdk::invalid_argument("token with a use limit cannot create child tokens");
  }

  bool add_default = false;
  std::vector<std::string> policies = req.policies;
  if (policies.empty()) {
    policies = parent != nullptr ? sanitize_policies(parent->policies, false)
                                 : std::vector<std::string>{};
  } else if (!sudo) {
    auto wanted = sanitize_policies(policies, false);
    auto have = parent != nullptr ? sanitize_policies(parent->policies, false)
                                  : std::vector<std::string>{};
    if (!subset(have, wanted)) return sdk::invalid_argument("child policies must be subset of parent");
    add_default = !req.no_default_policy && parent != nullptr && parent->has_policy("default");
  } else {
    add_default = !req.no_default_policy;
  }
  te.policies = sanitize_policies(policies, add_default);
  if (req.no_default_policy) std::erase(te.policies, "default");
  if (te.has_policy("root") && !parent_root && parent != nullptr) {
    return sdk::invalid_argument("root tokens may not be created without parent token being root");
  }

  if (req.orphan) {
    te.parent_hash.clear();
  } else if (parent != nullptr) {
    te.parent_hash = parent->id_hash;
    te.entity_id = parent->entity_id;
  }
  te.bound_cidrs = req.bound_cidrs;
  if (te.bound_cidrs.empty() && parent != nullptr && !req.orphan) te.bound_cidrs = parent->bound_cidrs;

  if (req.explicit_max_ttl.count() < 0) return sdk::invalid_argument("explicit_max_ttl must be positive");
  if (req.period.count() < 0) return sdk::invalid_argument("period must be positive");
  if (req.ttl.count() < 0) return sdk::invalid_argument("ttl must be positive");
  if (req.period.count() > 0 && !sudo) {
    return sdk::invalid_argument("root or sudo privileges required to create periodic token");
  }
  te.explicit_max_ttl = req.explicit_max_ttl;
  te.period = req.period;
  te.ttl = req.ttl;
  if (te.period.count() > 0 || te.ttl.count() > 0 || !te.has_policy("root")) {
    auto ttl = sdk::calculate_ttl(req.limits,
                                  {.ttl = te.ttl,
                                   .period = te.period,
                                   .explicit_max_ttl = te.explicit_max_ttl,
                                   .start = now},
                                  now);
    if (!ttl) return sdk::error(ttl.error());
    te.ttl = ttl->ttl;
    out.warnings = std::move(ttl->warnings);
  }
  if (te.ttl.count() == 0 && te.explicit_max_ttl.count() > 0) te.ttl = te.explicit_max_ttl;
  te.renewable = req.renewable;
  if (te.ttl.count() == 0) {
    if (parent != nullptr && parent->expires()) {
      return sdk::invalid_argument("expiring root tokens cannot create non-expiring root tokens");
    }
    te.renewable = false;
  }
  te.creation_ttl = te.ttl;

  if (!req.id.empty()) {
    if (!sudo) return sdk::invalid_argument("root or sudo privileges required to specify token id");
    if (req.id.size() > 256) return sdk::invalid_argument("token id is too long");
    out.token = req.id;
  } else {
    auto id = generate_token_id(random_);
    if (!id) return sdk::error(id.error());
    out.token = std::move(*id);
  }
  te.id_hash = hash(out.token);
  auto accessor = sdk::random_base62(random_, kTokenChars);
  if (!accessor) return sdk::error(accessor.error());
  te.accessor = std::move(*accessor);

  if (!req.id.empty()) {
    auto existing = storage_.get("id/" + te.id_hash);
    if (!existing) return sdk::error(existing.error());
    if (existing->has_value()) return sdk::invalid_argument("token id is already in use");
  }
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::put("accessor/" + hash(te.accessor), te.id_hash));
  if (!te.parent_hash.empty()) {
    ops.push_back(sdk::StorageOp::put("parent/" + te.parent_hash + "/" + te.id_hash, ""));
  }
  LEASEFS_TRY(store_entry(te, std::move(ops)));
  return out;
}

sdk::Result<IssuedToken> TokenStore::create_root(std::string id) {
  TokenCreate req;
  req.policies = {"root"};
  req.path = "auth/token/root";
  req.orphan = true;
  req.id = std::move(id);
  return create(nullptr, /*sudo=*/true, std::move(req));
}

sdk::Result<bool> TokenStore::use(const TokenEntry& entry) {
  if (entry.num_uses == 0) return false;
  std::lock_guard lock(stripe(entry.id_hash));
  auto stored = storage_.get("id/" + entry.id_hash);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return sdk::error(sdk::Code::kPermissionDenied, "permission denied");
  auto current = entry_from_json(entry.id_hash, **stored);
  if (!current) return sdk::error(current.error());
  if (current->num_uses < 0) return sdk::error(sdk::Code::kPermissionDenied, "permission denied");
  bool last = current->num_uses == 1;
  current->num_uses = last ? -1 : current->num_uses - 1;
  LEASEFS_TRY(store_entry(*current));
  return last;
}

sdk::Result<TokenEntry> TokenStore::renew(std::string_view id_hash, sdk::Duration increment,
                                          const sdk::MountLimits& limits,
                                          std::vector<std::string>& warnings) {
  std::lock_guard lock(stripe(id_hash));
  auto found = lookup_hash(id_hash);
  if (!found) return sdk::error(found.error());
  if (!found->has_value()) return sdk::invalid_argument("token not found");
  TokenEntry te = std::move(**found);
  if (!te.renewable || !te.expires()) return sdk::invalid_argument("lease is not renewable");
  const sdk::WallTime now = clock_.now();
  auto ttl = sdk::calculate_ttl(limits,
                                {.increment = increment,
                                 .ttl = te.creation_ttl,
                                 .period = te.period,
                                 .explicit_max_ttl = te.explicit_max_ttl,
                                 .start = te.creation_time},
                                now);
  if (!ttl) return sdk::error(ttl.error());
  warnings.insert(warnings.end(), ttl->warnings.begin(), ttl->warnings.end());
  te.issue_time = now;
  te.ttl = ttl->ttl;
  LEASEFS_TRY(store_entry(te));
  return te;
}

void TokenStore::set_revoke_hook(std::function<sdk::Result<void>(const TokenEntry&)> hook) {
  revoke_hook_ = std::move(hook);
}

void TokenStore::append_removal(const TokenEntry& entry, std::vector<sdk::StorageOp>& ops) const {
  ops.push_back(sdk::StorageOp::remove("id/" + entry.id_hash));
  ops.push_back(sdk::StorageOp::remove("accessor/" + hash(entry.accessor)));
  if (!entry.parent_hash.empty()) {
    ops.push_back(sdk::StorageOp::remove("parent/" + entry.parent_hash + "/" + entry.id_hash));
  }
}

sdk::Result<void> TokenStore::collect_tree(std::string_view id_hash,
                                           std::unordered_set<std::string>& seen,
                                           std::vector<sdk::StorageOp>& ops,
                                           std::vector<std::string>& dropped) {
  // Depth-first without recursion, children before their parent: committed one token
  // at a time (revoke_tree) a failure part-way leaves every remaining token still
  // reachable from the root; committed together (revoke_trees) it is all or nothing.
  struct Frame {
    std::string hash;
    bool expanded;
  };
  std::vector<Frame> stack{{std::string(id_hash), false}};
  std::size_t visited = 0;
  while (!stack.empty()) {
    if (++visited > 10'000'000) return sdk::internal_error("token tree is too large to revoke");
    Frame& top = stack.back();
    if (!top.expanded) {
      top.expanded = true;
      auto children = storage_.list("parent/" + top.hash + "/");
      if (!children) return sdk::error(children.error());
      if (stack.size() > static_cast<std::size_t>(kMaxTreeDepth)) {
        return sdk::internal_error("token tree is too deep to revoke");
      }
      for (const auto& child : *children) stack.push_back({child, false});  // `top` dangles now
      continue;
    }
    std::string hash_value = top.hash;
    stack.pop_back();
    if (!seen.insert(hash_value).second) continue;  // in an earlier tree of this batch
    auto stored = storage_.get("id/" + hash_value);
    if (!stored) return sdk::error(stored.error());
    if (!stored->has_value()) continue;  // already gone
    auto entry = entry_from_json(hash_value, **stored);
    if (!entry) return sdk::error(entry.error());
    if (revoke_hook_) LEASEFS_TRY(revoke_hook_(*entry));
    append_removal(*entry, ops);
    dropped.push_back(std::move(hash_value));
  }
  return {};
}

sdk::Result<void> TokenStore::revoke_tree(std::string_view id_hash) {
  const std::string one(id_hash);
  auto statuses = revoke_trees(std::span<const std::string>(&one, 1));
  if (!statuses.front().ok()) return sdk::error(statuses.front());
  return {};
}

std::vector<sdk::Status> TokenStore::revoke_trees(std::span<const std::string> id_hashes) {
  std::vector<sdk::Status> out(id_hashes.size());
  std::unordered_set<std::string> seen;
  std::vector<sdk::StorageOp> ops;
  std::vector<std::string> dropped;
  std::vector<std::size_t> committed;  // indexes into id_hashes whose ops are in `ops`
  for (std::size_t i = 0; i < id_hashes.size(); ++i) {
    const std::size_t mark = ops.size();
    const std::size_t dropped_mark = dropped.size();
    if (auto collected = collect_tree(id_hashes[i], seen, ops, dropped); !collected) {
      // This tree fails alone; what it had added is taken back (its hooks have run, as
      // they would have for a revocation that failed token by token).
      ops.resize(mark);
      for (std::size_t d = dropped_mark; d < dropped.size(); ++d) seen.erase(dropped[d]);
      dropped.resize(dropped_mark);
      out[i] = collected.error();
      continue;
    }
    committed.push_back(i);
  }
  for (const auto& hash_value : dropped) cache_drop(hash_value);
  // In chunks, in order: children come before their parents, so a commit that fails
  // part-way leaves every token not yet removed reachable from its root.
  constexpr std::size_t kOpsPerCommit = 4096;
  sdk::Status failed;
  for (std::size_t at = 0; at < ops.size() && failed.ok(); at += kOpsPerCommit) {
    const std::size_t n = std::min(kOpsPerCommit, ops.size() - at);
    if (auto applied = storage_.apply(std::span<const sdk::StorageOp>(ops).subspan(at, n));
        !applied) {
      failed = applied.error();
    }
  }
  for (const auto& hash_value : dropped) cache_drop(hash_value);
  if (!failed.ok()) {
    for (std::size_t i : committed) out[i] = failed;
  }
  return out;
}

sdk::Result<void> TokenStore::revoke_orphan(std::string_view id_hash) {
  auto stored = storage_.get("id/" + std::string(id_hash));
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return {};
  auto entry = entry_from_json(id_hash, **stored);
  if (!entry) return sdk::error(entry.error());
  if (revoke_hook_) LEASEFS_TRY(revoke_hook_(*entry));
  // The children stay, as orphans: their parent link goes with the parent.
  std::vector<sdk::StorageOp> ops;
  auto children = storage_.list("parent/" + entry->id_hash + "/");
  if (!children) return sdk::error(children.error());
  for (const auto& child : *children) {
    ops.push_back(sdk::StorageOp::remove("parent/" + entry->id_hash + "/" + child));
    auto child_stored = storage_.get("id/" + child);
    if (!child_stored) return sdk::error(child_stored.error());
    if (!child_stored->has_value()) continue;
    auto te = entry_from_json(child, **child_stored);
    if (!te) return sdk::error(te.error());
    te->parent_hash.clear();
    ops.push_back(sdk::StorageOp::put("id/" + child, entry_to_json(*te).dump()));
    cache_drop(child);
  }
  append_removal(*entry, ops);
  cache_drop(entry->id_hash);
  LEASEFS_TRY(storage_.apply(ops));
  cache_drop(entry->id_hash);
  return {};
}

sdk::Result<std::vector<std::string>> TokenStore::accessors() {
  std::vector<std::string> out;
  std::string after;
  while (true) {
    auto page = storage_.list_page("id/", after, 1000);
    if (!page) return sdk::error(page.error());
    if (page->empty()) break;
    for (const auto& h : *page) {
      auto e = lookup_hash(h);
      if (e && e->has_value()) out.push_back((*e)->accessor);
    }
    after = page->back();
  }
  std::sort(out.begin(), out.end());
  return out;
}

json TokenStore::lookup_data(const TokenEntry& e, std::string_view token) const {
  const sdk::WallTime now = clock_.now();
  json meta = e.meta.empty() ? json(nullptr) : json(e.meta);
  std::int64_t ttl_left = 0;
  if (e.expires()) {
    ttl_left = std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::seconds>(e.expire_time() - now).count());
  }
  json data = {{"accessor", e.accessor},
               {"creation_time", sdk::unix_seconds(e.creation_time)},
               {"creation_ttl", secs(e.creation_ttl)},
               {"display_name", e.display_name},
               {"entity_id", e.entity_id},
               {"expire_time", e.expires() ? json(sdk::rfc3339(e.expire_time())) : json(nullptr)},
               {"explicit_max_ttl", secs(e.explicit_max_ttl)},
               {"id", std::string(token)},
               {"issue_time", sdk::rfc3339(e.creation_time)},
               {"meta", meta},
               {"num_uses", std::max<std::int64_t>(e.num_uses, 0)},
               {"orphan", e.orphan()},
               {"path", e.path},
               {"policies", e.policies},
               {"renewable", e.renewable},
               {"ttl", ttl_left},
               {"type", "service"}};
  if (e.period.count() > 0) data["period"] = secs(e.period);
  if (!e.bound_cidrs.empty()) data["bound_cidrs"] = e.bound_cidrs;
  if (e.issue_time != e.creation_time) {
    data["last_renewal_time"] = sdk::unix_seconds(e.issue_time);
    data["last_renewal"] = sdk::rfc3339(e.issue_time);
  }
  return data;
}

json TokenStore::auth_block(const IssuedToken& issued, const sdk::Clock&) {
  const TokenEntry& e = issued.entry;
  return {{"client_token", issued.token},
          {"accessor", e.accessor},
          {"policies", e.policies},
          {"token_policies", e.policies},
          {"identity_policies", nullptr},
          {"metadata", e.meta.empty() ? json(nullptr) : json(e.meta)},
          {"lease_duration", secs(e.ttl)},
          {"renewable", e.renewable},
          {"entity_id", e.entity_id},
          {"token_type", "service"},
          {"orphan", e.orphan()},
          {"mfa_requirement", nullptr},
          {"num_uses", e.num_uses}};
}

}  // namespace leasefs::backend::auth
