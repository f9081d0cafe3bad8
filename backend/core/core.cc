// Seal lifecycle, mounts and the request pipeline.
#include "backend/core/core.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "backend/core/internal_backends.h"
#include "backend/sdk/cidr.h"
#include "backend/sdk/encoding.h"
#include "backend/sdk/duration.h"
#include "backend/sdk/log.h"

namespace leasefs::backend::core {

using nlohmann::json;

namespace {

constexpr std::string_view kMountsPath = "core/mounts";
constexpr std::string_view kAuthPath = "core/auth";

std::string_view table_key(MountTable table) {
  return table == MountTable::kAuth ? kAuthPath : kMountsPath;
}

// Vault's special-path globs: exact, or a prefix when ending in '*'.
bool glob_match(const std::vector<std::string>& globs, std::string_view path) {
  for (const auto& g : globs) {
    if (!g.empty() && g.back() == '*') {
      if (path.starts_with(std::string_view(g).substr(0, g.size() - 1))) return true;
    } else if (path == g || (path.size() == g.size() + 1 && path.back() == '/' &&
                             path.starts_with(g))) {
      return true;
    }
  }
  return false;
}

bool valid_request_path(std::string_view path) {
  if (path.empty()) return true;
  if (path.size() > 4096 || !sdk::valid_utf8(path)) return false;
  std::string_view rest = path;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto seg = rest.substr(0, slash);
    if (seg == "." || seg == "..") return false;
    if (seg.empty() && slash != std::string_view::npos) return false;  // "a//b" or "/a"
    for (char c : seg) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return true;
}

std::unexpected<sdk::Status> permission_denied() {
  return sdk::error(sdk::Code::kPermissionDenied, "permission denied");
}

// A batch posted to sys/access-events (see audit_data_of): its events in `data`, or
// parsed by the HTTP layer without a tree (AccessEventBatch).
bool is_access_event_batch(const MountState& mount, const sdk::Request& sreq) {
  if (mount.entry.type != "system" || sreq.path != "access-events") return false;
  if (access_event_batch_of(sreq) != nullptr) return true;
  auto events = sreq.data.find("events");
  return events != sreq.data.end() && events->is_array();
}

// The body as sent, as a tree: `data`, or the text of a batch the HTTP layer parsed
// without one, parsed now. Only the rare readers of a batch's body need it: the audit
// entry of a refused or rejected batch, and a policy with parameter rules.
json body_as_sent(const sdk::Request& sreq) {
  const AccessEventBatch* batch = access_event_batch_of(sreq);
  if (batch == nullptr) return sreq.data;
  // try_parse_access_events read all of the text, so it parses.
  json tree = json::parse(batch->body, nullptr, /*allow_exceptions=*/false);
  return tree.is_discarded() ? sreq.data : tree;
}

// Puts a batch parsed without a tree back into `data`, as any other body.
void restore_body_tree(sdk::Request& sreq) {
  if (access_event_batch_of(sreq) == nullptr) return;
  sreq.data = body_as_sent(sreq);
  sreq.decoded_body.reset();
}

}  // namespace

Core::Core(CoreOptions options)
    : options_(std::move(options)),
      barrier_(*options_.physical, *options_.clock, *options_.random,
               barrier::SealManager::barrier_options()),
      seal_(barrier_, *options_.physical, *options_.clock, *options_.random),
      audit_(audit::BrokerOptions{.clock = options_.clock, .random = options_.random,
                                  .stdout_fd = STDOUT_FILENO}) {}

Core::~Core() { seal(); }

sdk::MountLimits Core::limits_for(const MountConfig& config) const {
  sdk::MountLimits limits = options_.system_limits;
  if (config.max_lease_ttl.count() > 0) limits.max_lease_ttl = config.max_lease_ttl;
  if (config.default_lease_ttl.count() > 0) limits.default_lease_ttl = config.default_lease_ttl;
  if (limits.default_lease_ttl > limits.max_lease_ttl) limits.default_lease_ttl = limits.max_lease_ttl;
  return limits;
}

bool Core::initialized() {
  auto s = seal_.status();
  return s && s->initialized;
}

// --- seal lifecycle -------------------------------------------------------------------

sdk::Result<MountEntry> Core::new_entry(MountTable table, std::string path, std::string type) {
  MountEntry e;
  e.table = table;
  e.path = std::move(path);
  e.type = std::move(type);
  auto uuid = sdk::random_uuid(*options_.random);
  if (!uuid) return sdk::error(uuid.error());
  e.uuid = *uuid;
  auto acc = sdk::random_uuid(*options_.random);
  if (!acc) return sdk::error(acc.error());
  e.accessor = (e.type == "system" ? std::string("system") : e.type) + "_" + acc->substr(0, 8);
  return e;
}

sdk::Result<InitResult> Core::initialize(int shares, int threshold, std::string root_token_id) {
  std::unique_lock lock(state_mu_);
  InitResult out;
  out.shares = shares;
  out.threshold = threshold;
  auto init = seal_.initialize(shares, threshold, [&]() -> sdk::Result<void> {
    auto sys = new_entry(MountTable::kSecrets, "sys/", "system");
    if (!sys) return sdk::error(sys.error());
    sys->description = "system endpoints used for control, policy and debugging";
    sys->builtin = true;
    auto token = new_entry(MountTable::kAuth, "token/", "token");
    if (!token) return sdk::error(token.error());
    token->description = "token based credentials";
    token->builtin = true;
    LEASEFS_TRY(barrier_.put(kMountsPath, serialize_table({*sys})));
    LEASEFS_TRY(barrier_.put(kAuthPath, serialize_table({*token})));
    sdk::StorageView policy_view(barrier_, "sys/policy/");
    PolicyStore policies(policy_view);
    LEASEFS_TRY(policies.setup());
    sdk::StorageView token_view(barrier_, "sys/token/");
    auth::TokenStore tokens(token_view, *options_.clock, *options_.random);
    LEASEFS_TRY(tokens.setup());
    auto root = tokens.create_root(root_token_id);
    if (!root) return sdk::error(root.error());
    out.root_token = std::move(root->token);
    tokens.clear();
    return {};
  });
  if (!init) return sdk::error(init.error());
  out.keys = std::move(init->keys);
  sdk::log_info("core", "store initialized with " + std::to_string(shares) + " key shares and a key threshold of " + std::to_string(threshold));
  return out;
}

sdk::Result<barrier::SealStatus> Core::submit_unseal_key(std::string_view key) {
  std::unique_lock lock(state_mu_);
  auto status = seal_.submit_key(key);
  if (!status) return status;
  if (!status->sealed && sealed_.load()) {
    if (auto ready = post_unseal(); !ready) {
      pre_seal();
      seal_.seal();
      sdk::log_error("core", "unseal failed while loading the store: " + ready.error().message());
      return sdk::error(ready.error().with_context("unseal failed"));
    }
    sdk::log_info("core", "vault is unsealed");
  }
  return status;
}

sdk::Result<barrier::SealStatus> Core::reset_unseal() { return seal_.reset_progress(); }

sdk::Result<barrier::SealStatus> Core::seal_status() { return seal_.status(); }

void Core::seal() {
  std::unique_lock lock(state_mu_);
  if (sealed_.load() && barrier_.sealed()) return;
  pre_seal();
  seal_.seal();
  sdk::log_info("core", "vault is sealed");
}

sdk::Result<void> Core::post_unseal() {
  token_view_ = std::make_unique<sdk::StorageView>(barrier_, "sys/token/");
  policy_view_ = std::make_unique<sdk::StorageView>(barrier_, "sys/policy/");
  tokens_ = std::make_unique<auth::TokenStore>(*token_view_, *options_.clock, *options_.random);
  LEASEFS_TRY(tokens_->setup());
  policies_ = std::make_unique<PolicyStore>(*policy_view_);
  LEASEFS_TRY(policies_->setup());
  password_view_ = std::make_unique<sdk::StorageView>(barrier_, "sys/password_policy/");
  passwords_ = std::make_unique<PasswordPolicyStore>(*password_view_);

  std::map<std::string, std::shared_ptr<MountState>> mounts;
  for (MountTable table : {MountTable::kSecrets, MountTable::kAuth}) {
    auto stored = barrier_.get(table_key(table));
    if (!stored) return sdk::error(stored.error());
    if (!stored->has_value()) {
      return sdk::error(sdk::Code::kDataLoss, "mount table " + std::string(table_key(table)) + " is missing");
    }
    auto entries = parse_table(table, **stored);
    if (!entries) return sdk::error(entries.error());
    for (const auto& entry : *entries) {
      auto state = build_mount(entry);
      if (!state) {
        return sdk::error(state.error().with_context("mounting " + entry.api_path()));
      }
      mounts[entry.api_path()] = std::move(*state);
    }
  }
  {
    std::unique_lock lock(mounts_mu_);
    mounts_ = std::move(mounts);
  }
  LEASEFS_TRY(start_expiration());
  audit_view_ = std::make_unique<sdk::StorageView>(barrier_, "core/audit/");
  LEASEFS_TRY(audit_.load(*audit_view_));
  sealed_.store(false);
  metrics_.set_sealed(false);
  return {};
}

lease::ExpirationCallbacks Core::expiration_callbacks() {
  // An engine call for a lease, with the context the router would give it.
  auto engine_request = [this](const MountState& mount, const lease::LeaseRecord& record) {
    sdk::Request req;
    auto id = sdk::random_uuid(*options_.random);
    if (id) req.id = *id;
    req.operation = sdk::Operation::kUpdate;
    const std::string api = mount.entry.api_path();
    req.path = record.path.starts_with(api) ? record.path.substr(api.size()) : record.path;
    req.mount_point = api;
    req.limits = mount.limits;
    req.storage = mount.view.get();
    req.clock = options_.clock;
    req.random = options_.random;
    return req;
  };
  lease::ExpirationCallbacks callbacks;
  callbacks.revoke_secret = [this, engine_request](const lease::LeaseRecord& record) -> sdk::Result<void> {
    auto mount = mount_at(record.mount);
    if (!mount) {
      // The engine is gone (disabling a mount revokes its leases first), so is the secret.
      sdk::log_warn("core", "lease " + record.lease_id + " outlived its mount " + record.mount);
      return {};
    }
    sdk::Request req = engine_request(*mount, record);
    return mount->backend->revoke_secret(req, record.lease_info());
  };
  callbacks.renew_secret = [this, engine_request](const lease::LeaseRecord& record,
                                                  sdk::Duration increment) -> sdk::Result<sdk::Response> {
    auto mount = mount_at(record.mount);
    if (!mount) return sdk::invalid_argument("the mount that issued this lease is gone");
    sdk::Request req = engine_request(*mount, record);
    return mount->backend->renew_secret(req, record.lease_info(increment));
  };
  callbacks.revoke_token = [this](const lease::LeaseRecord& record) -> sdk::Result<void> {
    return tokens_->revoke_tree(record.token_hash);
  };
  callbacks.revoke_tokens = [this](std::span<const lease::LeaseRecord* const> records) {
    std::vector<std::string> hashes;
    hashes.reserve(records.size());
    for (const auto* record : records) hashes.push_back(record->token_hash);
    return tokens_->revoke_trees(hashes);
  };
  return callbacks;
}

sdk::Result<void> Core::start_expiration() {
  lease::ExpirationOptions options = options_.expiration;
  options.system_max_ttl = options_.system_limits.max_lease_ttl;
  lease_view_ = std::make_unique<sdk::StorageView>(barrier_, "sys/expire/");
  expiration_ = std::make_unique<lease::ExpirationManager>(
      *lease_view_, *options_.clock, *options_.random, expiration_callbacks(), options);
  // Revoking a token revokes what it owns (asynchronously, as Vault does).
  tokens_->set_revoke_hook([this](const auth::TokenEntry& token) -> sdk::Result<void> {
    auto handled = expiration_->revoke_by_token(token.id_hash, lease::RevokeMode::kAsync);
    if (!handled) return sdk::error(handled.error());
    return {};
  });
  return expiration_->start();
}

sdk::Result<void> Core::track_token(const auth::TokenEntry& token) {
  if (!token.expires()) return {};
  lease::RegisterToken reg;
  reg.token_hash = token.id_hash;
  reg.path = token.path.empty() ? "auth/token/create" : token.path;
  auto mount = route(reg.path);
  reg.mount = mount ? mount->entry.api_path() : "auth/token/";
  reg.issue_time = token.creation_time;
  reg.expire_time = token.expire_time();
  reg.renewable = token.renewable;
  auto registered = expiration_->register_token(reg);
  if (!registered) return sdk::error(registered.error());
  return {};
}

std::shared_ptr<MountState> Core::mount_at(std::string_view api_path) const {
  std::shared_lock lock(mounts_mu_);
  auto it = mounts_.find(std::string(api_path));
  return it == mounts_.end() ? nullptr : it->second;
}

void Core::pre_seal() {
  sealed_.store(true);
  metrics_.set_sealed(true);
  // First: its workers call into engines and the token store, which go next.
  if (expiration_) expiration_->stop();
  if (tokens_) tokens_->set_revoke_hook({});
  expiration_.reset();
  lease_view_.reset();
  audit_.close_all();
  audit_view_.reset();
  std::map<std::string, std::shared_ptr<MountState>> mounts;
  {
    std::unique_lock lock(mounts_mu_);
    mounts.swap(mounts_);
  }
  for (auto& [path, state] : mounts) state->backend->cleanup();
  mounts.clear();
  if (tokens_) tokens_->clear();
  if (policies_) policies_->clear();
  tokens_.reset();
  policies_.reset();
  passwords_.reset();
  token_view_.reset();
  policy_view_.reset();
  password_view_.reset();
}

// --- mounts ---------------------------------------------------------------------------

sdk::Result<std::shared_ptr<MountState>> Core::build_mount(const MountEntry& entry) {
  auto state = std::make_shared<MountState>();
  state->entry = entry;
  state->limits = limits_for(entry.config);
  state->view = std::make_unique<sdk::StorageView>(barrier_, entry.storage_prefix());
  if (entry.type == "system") {
    state->backend = make_system_backend(*this);
    state->internal = true;
    return state;
  }
  if (entry.type == "token") {
    state->backend = make_token_backend(*this);
    state->internal = true;
    return state;
  }
  const auto* registry = entry.table == MountTable::kAuth ? options_.auth_methods
                                                          : options_.secrets_engines;
  if (registry == nullptr || !registry->contains(entry.type)) {
    return sdk::invalid_argument(
        std::string(entry.table == MountTable::kAuth ? "unknown auth method type: "
                                                     : "unknown secrets engine type: ") +
        entry.type);
  }
  sdk::BackendConfig config;
  config.mount_path = entry.api_path();
  config.type = entry.type;
  config.options = entry.options;
  config.storage = state->view.get();
  config.clock = options_.clock;
  config.random = options_.random;
  auto backend = registry->at(entry.type)(config);
  if (!backend) return sdk::error(backend.error());
  state->backend = std::move(*backend);
  LEASEFS_TRY(state->backend->initialize());
  return state;
}

std::shared_ptr<MountState> Core::route(std::string_view path) const {
  std::shared_lock lock(mounts_mu_);
  std::shared_ptr<MountState> best;
  std::string candidate;
  // Every prefix that ends at a '/' (and the whole path plus '/'), longest wins.
  for (std::size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      candidate.assign(path.substr(0, i));
      candidate.push_back('/');
      if (auto it = mounts_.find(candidate); it != mounts_.end()) best = it->second;
    }
  }
  return best;
}

std::vector<MountEntry> Core::mounts(MountTable table) const {
  std::shared_lock lock(mounts_mu_);
  std::vector<MountEntry> out;
  for (const auto& [path, state] : mounts_) {
    if (state->entry.table == table) out.push_back(state->entry);
  }
  return out;
}

sdk::Result<void> Core::persist_table(MountTable table) {
  std::vector<MountEntry> entries;
  for (const auto& [path, state] : mounts_) {
    if (state->entry.table == table) entries.push_back(state->entry);
  }
  return barrier_.put(table_key(table), serialize_table(entries));
}

sdk::Result<void> Core::enable_mount(MountEntry entry) {
  if (sealed()) return sdk::error(sdk::Code::kSealed, "Vault is sealed");
  auto path = normalize_mount_path(entry.path);
  if (!path) return sdk::error(path.error());
  if (entry.table == MountTable::kSecrets) {
    for (std::string_view reserved : {"sys/", "auth/", "cubbyhole/", "identity/"}) {
      if (path->starts_with(reserved)) {
        return sdk::invalid_argument("cannot mount under reserved path \"" + std::string(reserved) + "\"");
      }
    }
  }
  if (entry.type.empty()) return sdk::invalid_argument("missing type");
  if (entry.type == "system" || entry.type == "token") {
    return sdk::invalid_argument("cannot mount another engine of type \"" + entry.type + "\"");
  }
  auto fresh = new_entry(entry.table, *path, entry.type);
  if (!fresh) return sdk::error(fresh.error());
  fresh->description = entry.description;
  fresh->config = entry.config;
  fresh->options = entry.options;
  fresh->local = entry.local;
  fresh->seal_wrap = entry.seal_wrap;
  if (fresh->type == "kv" && !fresh->options.contains("version")) fresh->options["version"] = "1";

  std::unique_lock lock(mounts_mu_);
  const std::string api = fresh->api_path();
  for (const auto& [existing, state] : mounts_) {
    if (api.starts_with(existing) || existing.starts_with(api)) {
      return sdk::invalid_argument("path is already in use at " + existing);
    }
  }
  auto state = build_mount(*fresh);
  if (!state) return sdk::error(state.error());
  mounts_[api] = *state;
  if (auto saved = persist_table(fresh->table); !saved) {
    mounts_.erase(api);
    (*state)->backend->cleanup();
    return saved;
  }
  sdk::log_info("core", "enabled " + fresh->type + " at " + api);
  return {};
}

sdk::Result<void> Core::disable_mount(MountTable table, std::string_view path) {
  auto norm = normalize_mount_path(path);
  if (!norm) return sdk::error(norm.error());
  std::string api = table == MountTable::kAuth ? "auth/" + *norm : *norm;
  std::shared_ptr<MountState> state;
  {
    std::unique_lock lock(mounts_mu_);
    auto it = mounts_.find(api);
    if (it == mounts_.end()) return {};  // Vault: disabling what is not there succeeds
    if (it->second->entry.builtin) {
      return sdk::invalid_argument("cannot unmount \"" + api + "\"");
    }
    state = it->second;
  }
  // As Vault: the mount's leases are revoked before it goes; a failure keeps it.
  if (expiration_) {
    auto revoked = expiration_->revoke_prefix(api, lease::RevokeMode::kSync);
    if (!revoked) {
      return sdk::error(revoked.error().with_context("revoking the leases of " + api));
    }
  }
  {
    std::unique_lock lock(mounts_mu_);
    auto it = mounts_.find(api);
    if (it == mounts_.end() || it->second != state) return {};
    mounts_.erase(it);
    if (auto saved = persist_table(table); !saved) {
      mounts_[api] = state;
      return saved;
    }
  }
  state->backend->cleanup();
  // Drop everything the engine stored: a re-enabled mount gets a new UUID and starts
  // empty, and nothing readable is left behind.
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    std::string prefix = pending.back();
    pending.pop_back();
    auto names = state->view->list(prefix);
    if (!names) break;
    std::vector<sdk::StorageOp> ops;
    for (const auto& n : *names) {
      if (!n.empty() && n.back() == '/') {
        pending.push_back(prefix + n);
      } else {
        ops.push_back(sdk::StorageOp::remove(prefix + n));
      }
      if (ops.size() >= 500) {
        (void)state->view->apply(ops);
        ops.clear();
      }
    }
    if (!ops.empty()) (void)state->view->apply(ops);
  }
  sdk::log_info("core", "disabled " + state->entry.type + " at " + api);
  return {};
}

sdk::Result<void> Core::tune_mount(std::string_view api_path, const json& config) {
  std::string api(api_path);
  if (api.empty() || api.back() != '/') api.push_back('/');
  std::unique_lock lock(mounts_mu_);
  auto it = mounts_.find(api);
  if (it == mounts_.end()) return sdk::invalid_argument("no mount at \"" + api + "\"");
  auto tuned = parse_mount_config(config, it->second->entry.config);
  if (!tuned) return sdk::error(tuned.error());
  auto next = std::make_shared<MountState>();
  // Engines keep their backend object; only the entry and limits change.
  MountState& cur = *it->second;
  MountEntry entry = cur.entry;
  entry.config = *tuned;
  if (config.contains("description") && config["description"].is_string()) {
    entry.description = config["description"].get<std::string>();
  }
  if (config.contains("options") && config["options"].is_object()) {
    for (const auto& [k, v] : config["options"].items()) {
      if (v.is_string()) entry.options[k] = v.get<std::string>();
    }
  }
  next->entry = entry;
  next->view = std::move(cur.view);
  next->backend = std::move(cur.backend);
  next->limits = limits_for(entry.config);
  next->internal = cur.internal;
  auto previous = it->second;
  it->second = next;
  if (auto saved = persist_table(entry.table); !saved) {
    previous->view = std::move(next->view);
    previous->backend = std::move(next->backend);
    it->second = previous;
    return saved;
  }
  return {};
}

sdk::Result<barrier::KeyStatus> Core::key_status() { return barrier_.key_status(); }

sdk::Result<barrier::KeyStatus> Core::rotate_key() {
  auto status = barrier_.rotate();
  if (status) sdk::log_info("core", "installed encryption key term " + std::to_string(status->term));
  return status;
}

sdk::Result<std::vector<std::string>> Core::capabilities(const auth::TokenEntry& token,
                                                          std::string_view path) {
  auto acl = policies_->acl_for(token.policies);
  if (!acl) return sdk::error(acl.error());
  return (*acl)->capabilities(path).names;
}

// --- the pipeline ---------------------------------------------------------------------

sdk::Result<CoreResponse> Core::handle(CoreRequest& request) {
  sdk::Result<CoreResponse> result = sdk::error(sdk::Code::kSealed, "Vault is sealed");
  {
    std::shared_lock lock(state_mu_);
    if (!sealed_.load()) result = handle_locked(request);
  }
  if (seal_requested_.exchange(false)) seal();
  return result;
}

sdk::Result<CoreResponse> Core::handle_locked(CoreRequest& req) {
  AuditTrail trail;
  auto result = run_pipeline(req, trail);
  if (trail.request) {
    // The response entry is written after the fact; if no device takes it the client
    // gets a 500 (as Vault), though the request has had its effect.
    if (auto logged = audit_response(trail, result); !logged) return sdk::error(logged.error());
  }
  return result;
}

sdk::Result<CoreResponse> Core::run_pipeline(CoreRequest& req, AuditTrail& trail) {
  while (!req.path.empty() && req.path.front() == '/') req.path.erase(0, 1);
  if (!valid_request_path(req.path)) return sdk::invalid_argument("invalid request path");
  auto mount = route(req.path);
  if (!mount) {
    return sdk::not_found("no handler for route \"" + req.path + "\". route entry not found.");
  }
  const std::string api = mount->entry.api_path();
  std::string relative = req.path.size() >= api.size() ? req.path.substr(api.size()) : "";
  const sdk::SpecialPaths& special = mount->backend->special_paths();
  const bool unauthenticated = glob_match(special.unauthenticated, relative);
  const bool needs_sudo = glob_match(special.root, relative);

  sdk::Request sreq;
  sreq.id = req.id;
  sreq.operation = req.operation;
  sreq.path = relative;
  sreq.mount_point = api;
  sreq.data = req.data.is_null() ? json::object() : std::move(req.data);
  if (req.access_events) {
    sreq.decoded_body = req.access_events;
    // The HTTP layer chose by the path; anywhere but sys/access-events it is just a body.
    if (!is_access_event_batch(*mount, sreq)) restore_body_tree(sreq);
  }
  sreq.limits = mount->limits;
  sreq.storage = mount->view.get();
  sreq.clock = options_.clock;
  sreq.random = options_.random;
  sreq.passwords = passwords_.get();
  sreq.caller.remote_address = req.remote_address;

  // A refusal is audited like any request (Vault records denied requests too).
  auto deny = [&](const auth::TokenEntry* who) -> sdk::Result<CoreResponse> {
    LEASEFS_TRY(audit_request(trail, req, sreq, *mount, who, false, "permission denied"));
    return permission_denied();
  };

  std::optional<auth::TokenEntry> token;
  if (!unauthenticated || !req.client_token.empty()) {
    if (req.client_token.empty()) {
      if (!unauthenticated) return deny(nullptr);
    } else {
      auto found = tokens_->lookup(req.client_token);
      if (!found) return sdk::error(found.error());
      if (!found->has_value()) {
        if (!unauthenticated) return deny(nullptr);
      } else {
        token = std::move(**found);
      }
    }
  }
  if (token && !token->bound_cidrs.empty()) {
    auto address = sdk::parse_remote_address(req.remote_address);
    if (!address || !sdk::address_in_blocks(*address, token->bound_cidrs)) return deny(&*token);
  }

  if (token) {
    sreq.caller.display_name = token->display_name;
    sreq.caller.entity_id = token->entity_id;
    sreq.caller.accessor = token->accessor;
    sreq.caller.policies = token->policies;
    sreq.caller.metadata = token->meta;
  }
  if (mount->internal) sreq.client_token = req.client_token;

  if (req.create_or_update) {
    auto exists = mount->backend->exists(sreq);
    if (!exists) return sdk::error(exists.error());
    sreq.operation = (exists->has_value() && !**exists) ? sdk::Operation::kCreate
                                                        : sdk::Operation::kUpdate;
  }

  if (token && !unauthenticated) {
    auto acl = policies_->acl_for(token->policies);
    if (!acl) return sdk::error(acl.error());
    // Vault checks a list against the folder: "kv/app" lists as "kv/app/".
    std::string acl_path = req.path;
    if (sreq.operation == sdk::Operation::kList && !acl_path.empty() && acl_path.back() != '/') {
      acl_path.push_back('/');
    }
    if (sreq.decoded_body && (*acl)->reads_parameters(sreq.operation, acl_path)) {
      restore_body_tree(sreq);
    }
    auto decision = (*acl)->allowed(sreq.operation, acl_path, sreq.data, needs_sudo);
    trail.granting = std::move(decision.granting_policies);
    if (!decision.allowed) return deny(&*token);
  }
  // Written before anything runs: a request no device recorded does not happen.
  LEASEFS_TRY(audit_request(trail, req, sreq, *mount, token ? &*token : nullptr, true, {}));

  bool last_use = false;
  if (token && token->num_uses > 0) {
    auto used = tokens_->use(*token);
    if (!used) return sdk::error(used.error());
    last_use = *used;
  }

  // A token on its last use is revoked once the request is done — after any lease the
  // request created is registered under it, so (as in Vault) that lease goes with it.
  struct RevokeWhenDone {
    auth::TokenStore* tokens = nullptr;
    std::string id_hash{};
    ~RevokeWhenDone() {
      if (tokens == nullptr) return;
      if (auto revoked = tokens->revoke_tree(id_hash); !revoked) {
        sdk::log_error("core", "revoking a used-up token failed: " + revoked.error().message());
      }
    }
  } revoke_when_done{.tokens = last_use ? tokens_.get() : nullptr,
                     .id_hash = last_use ? token->id_hash : std::string()};

  auto response = mount->backend->handle(sreq);
  if (!response) {
    // A batch of access events the handler rejected (a bad field, too many) became no
    // access entries: its response entry carries the events as sent.
    if (trail.request && is_access_event_batch(*mount, sreq)) {
      trail.request->data = body_as_sent(sreq);
      trail.request->written.clear();  // the response entry must not repeat the summary
    }
    return sdk::error(response.error());
  }

  CoreResponse out;
  out.mount_type = mount->entry.type;
  out.status = response->status;
  out.data = std::move(response->data);
  out.warnings = std::move(response->warnings);
  out.raw = std::move(response->raw);
  if (response->advisory_ttl) out.lease_duration = sdk::whole_seconds(*response->advisory_ttl);
  if (response->secret) {
    if (!token) return sdk::error(sdk::Code::kInternal, "a secret with a lease needs a calling token");
    lease::RegisterSecret reg;
    reg.path = req.path;
    reg.mount = api;
    reg.token_hash = token->id_hash;
    reg.secret = std::move(*response->secret);
    reg.limits = mount->limits;
    // Persisted before the secret leaves; on failure the manager has revoked it.
    auto lease = expiration_->register_secret(reg);
    if (!lease) return sdk::error(lease.error());
    out.lease_id = std::move(lease->lease_id);
    out.renewable = lease->renewable;
    out.lease_duration = sdk::whole_seconds(lease->ttl);
    out.warnings.insert(out.warnings.end(), lease->warnings.begin(), lease->warnings.end());
  }
  if (mount->internal && !response->auth_block.is_null()) out.auth = std::move(response->auth_block);
  if (mount->internal && response->lease_block.is_object()) {
    const json& lease = response->lease_block;
    out.lease_id = lease.value("lease_id", std::string());
    out.renewable = lease.value("renewable", false);
    out.lease_duration = lease.value("lease_duration", std::int64_t{0});
  }
  if (response->auth) {
    auto auth = issue_login_token(req, *mount, *response->auth, out.warnings);
    if (!auth) return sdk::error(auth.error());
    out.auth = std::move(*auth);
  }
  return out;
}

// --- audit ---------------------------------------------------------------------------

namespace {

audit::AuditAuth audit_auth_of(const auth::TokenEntry& token, const std::string& client_token,
                               const sdk::Clock& clock) {
  audit::AuditAuth a;
  a.client_token = client_token;
  a.accessor = token.accessor;
  a.display_name = token.display_name;
  a.policies = token.policies;
  a.token_policies = token.policies;
  a.metadata = token.meta;
  a.entity_id = token.entity_id;
  a.token_type = "service";
  if (token.expires()) {
    auto left = std::chrono::duration_cast<sdk::Duration>(token.expire_time() - clock.now());
    a.token_ttl = std::max<std::int64_t>(0, sdk::whole_seconds(left));
  }
  a.token_issue_time = sdk::rfc3339(token.creation_time);
  a.remaining_uses = token.num_uses;
  return a;
}

// A login's new token, from the envelope's auth block.
audit::AuditAuth audit_auth_of(const json& block) {
  audit::AuditAuth a;
  auto str = [&block](const char* key) {
    auto it = block.find(key);
    return it != block.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto strings = [&block](const char* key) {
    std::vector<std::string> out;
    auto it = block.find(key);
    if (it != block.end() && it->is_array()) {
      for (const auto& v : *it) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
    }
    return out;
  };
  a.client_token = str("client_token");
  a.accessor = str("accessor");
  a.policies = strings("policies");
  a.token_policies = strings("token_policies");
  a.entity_id = str("entity_id");
  a.token_type = str("token_type");
  if (auto it = block.find("metadata"); it != block.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_string()) a.metadata[k] = v.get<std::string>();
    }
  }
  if (auto it = block.find("lease_duration"); it != block.end() && it->is_number_integer()) {
    a.token_ttl = it->get<std::int64_t>();
  }
  if (auto it = block.find("num_uses"); it != block.end() && it->is_number_integer()) {
    a.num_uses = it->get<std::int64_t>();
  }
  return a;
}

// What the request entry records as the request's data. A batch posted to
// sys/access-events is the one exception to "as sent": each of its events becomes an
// "access" entry of its own, so the request entry (and the response entry, which repeats
// it) names how many there were instead of carrying up to 1000 events twice more. That
// tripled the audit work for a mount's reads. A refused batch never becomes access
// entries, so its entry keeps the events (as run_pipeline does for a rejected one).
json audit_data_of(const MountState& mount, const sdk::Request& sreq, bool allowed) {
  if (!is_access_event_batch(mount, sreq)) return sreq.data;
  if (!allowed) return body_as_sent(sreq);
  json summary = json::object();
  if (const AccessEventBatch* batch = access_event_batch_of(sreq)) {
    // Parsed without a tree: "events" was the body's only key.
    summary["event_count"] = batch->events.size();
    return summary;
  }
  for (const auto& [key, value] : sreq.data.items()) {
    if (key == "events") {
      summary["event_count"] = value.size();
    } else {
      summary[key] = value;
    }
  }
  return summary;
}

}  // namespace

sdk::Result<void> Core::audit_request(AuditTrail& trail, const CoreRequest& req,
                                      const sdk::Request& sreq, const MountState& mount,
                                      const auth::TokenEntry* token, bool allowed,
                                      std::string_view error) {
  if (!audit_.has_devices()) return {};
  audit::AuditRequest a;
  a.id = req.id;
  a.operation = std::string(sdk::operation_name(sreq.operation));
  a.path = req.path;
  a.mount_point = mount.entry.api_path();
  a.mount_type = mount.entry.type;
  a.mount_accessor = mount.entry.accessor;
  a.client_token = req.client_token;
  a.data = audit_data_of(mount, sreq, allowed);
  a.headers = req.audit_headers;
  a.remote_address = req.remote_address;
  if (auto colon = a.remote_address.rfind(':');
      colon != std::string::npos && a.remote_address.find(']') == std::string::npos &&
      a.remote_address.find(':') == colon) {
    // "10.0.0.1:5000": Vault logs the address and the port apart.
    a.remote_port = std::atoi(a.remote_address.c_str() + colon + 1);
    a.remote_address.resize(colon);
  }
  if (token) {
    a.client_token_accessor = token->accessor;
    a.auth = audit_auth_of(*token, req.client_token, *options_.clock);
    a.auth->policy_results = audit::PolicyResults{.allowed = allowed, .granting_policies = trail.granting};
  }
  if (!allowed) {
    // Nothing is handled after a refusal, so its request entry waits for the response
    // entry and both are written together (one write instead of two).
    trail.deferred = audit_.defer_request(error);
    trail.request = std::move(a);
    return {};
  }
  if (auto logged = audit_.log_request(a, error); !logged) {
    sdk::log_error("audit", "no audit device recorded request " + req.id + ": " + logged.error().message());
    return sdk::error(sdk::Code::kInternal, "internal error");
  }
  trail.request = std::move(a);
  return {};
}

sdk::Result<void> Core::audit_response(const AuditTrail& trail,
                                       const sdk::Result<CoreResponse>& result) {
  const audit::AuditRequest& a = *trail.request;
  audit::AuditResponse r;
  r.mount_point = a.mount_point;
  r.mount_type = a.mount_type;
  r.mount_accessor = a.mount_accessor;
  if (!result) {
    r.error = result.error().message();
  } else {
    if (result->raw) {
      r.data = json::object();  // a raw body (a CRL, a public key) is not logged
    } else {
      r.data_view = &result->data;
    }
    r.lease_id = result->lease_id;
    r.warnings = result->warnings;
    if (result->auth.is_object()) r.auth = audit_auth_of(result->auth);
  }
  auto logged =
      trail.deferred ? audit_.log_exchange(a, *trail.deferred, r) : audit_.log_response(a, r);
  if (!logged) {
    const std::string what = trail.deferred ? "request " + a.id + " and its response"
                                            : "the response to request " + a.id;
    sdk::log_error("audit", "no audit device recorded " + what + ": " + logged.error().message());
    return sdk::error(sdk::Code::kInternal, "internal error");
  }
  return {};
}

sdk::Result<json> Core::issue_login_token(const CoreRequest& req, const MountState& mount,
                                          const sdk::AuthInfo& info,
                                          std::vector<std::string>& warnings) {
  auth::TokenCreate create;
  create.policies = info.policies;
  create.no_default_policy = info.no_default_policy;
  create.meta = info.metadata;
  std::string name = mount.entry.path;
  while (!name.empty() && name.back() == '/') name.pop_back();
  std::replace(name.begin(), name.end(), '/', '-');
  if (!info.display_name.empty()) name += "-" + info.display_name;
  create.display_name = name;
  create.display_name_verbatim = true;
  create.path = req.path;
  create.ttl = info.ttl;
  create.explicit_max_ttl = info.explicit_max_ttl;
  if (info.max_ttl.count() > 0 &&
      (create.explicit_max_ttl.count() == 0 || info.max_ttl < create.explicit_max_ttl)) {
    // A role's max TTL bounds the token's whole life, like an explicit max.
    create.explicit_max_ttl = info.max_ttl;
  }
  create.period = info.period;
  create.num_uses = info.num_uses;
  create.renewable = info.renewable;
  create.orphan = true;
  create.bound_cidrs = info.bound_cidrs;
  create.limits = mount.limits;
  auto issued = tokens_->create(nullptr, /*sudo=*/true, std::move(create));
  if (!issued) return sdk::error(issued.error());
  if (auto tracked = track_token(issued->entry); !tracked) {
    (void)tokens_->revoke_tree(issued->entry.id_hash);
    return sdk::error(tracked.error());
  }
  warnings.insert(warnings.end(), issued->warnings.begin(), issued->warnings.end());
  return auth::TokenStore::auth_block(*issued, *options_.clock);
}

}  // namespace leasefs::backend::core
