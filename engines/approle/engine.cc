// The AppRole engine's state: salt and keyed hashes, locks, and the storage codecs.
#include "engines/approle/engine.h"

#include <algorithm>
#include <functional>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "backend/sdk/encoding.h"
#include "backend/sdk/random.h"
#include "backend/sdk/stored_json.h"

namespace leasefs::engines::approle {
namespace {

using nlohmann::json;
using sdk::get_bool;
using sdk::get_int;
using sdk::get_string;
using sdk::get_string_map;
using sdk::get_strings;

constexpr std::string_view kSaltKey = "salt";
constexpr std::size_t kSaltBytes = 32;

std::int64_t to_nanos(sdk::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

sdk::WallTime from_nanos(std::int64_t ns) {
  return sdk::WallTime(
      std::chrono::duration_cast<sdk::WallTime::duration>(std::chrono::nanoseconds(ns)));
}

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string role_key(std::string_view role_name) {
  return "role/" + std::string(role_name);
}

std::string role_id_key(std::string_view role_id_hmac) {
  return "role_id/" + std::string(role_id_hmac);
}

std::string secret_id_prefix(std::string_view role_name) {
  return "secret_id/" + std::string(role_name) + "/";
}

std::string secret_id_key(std::string_view role_name, std::string_view secret_id_hmac) {
  return secret_id_prefix(role_name) + std::string(secret_id_hmac);
}

std::string accessor_key(std::string_view accessor_hmac) {
  return "accessor/" + std::string(accessor_hmac);
}

std::string encode_role(const Role& role) {
  json j = {
      {"role_id", role.role_id},
      {"bind_secret_id", role.bind_secret_id},
      {"secret_id_bound_cidrs", role.secret_id_bound_cidrs},
      {"secret_id_num_uses", role.secret_id_num_uses},
      {"secret_id_ttl", sdk::whole_seconds(role.secret_id_ttl)},
      {"local_secret_ids", role.local_secret_ids},
      {"token_policies", role.token_policies},
      {"policies", role.policies},
      {"token_bound_cidrs", role.token_bound_cidrs},
      {"token_ttl", sdk::whole_seconds(role.token_ttl)},
      {"token_max_ttl", sdk::whole_seconds(role.token_max_ttl)},
      {"token_explicit_max_ttl", sdk::whole_seconds(role.token_explicit_max_ttl)},
      {"token_period", sdk::whole_seconds(role.token_period)},
      {"period", sdk::whole_seconds(role.period)},
      {"token_no_default_policy", role.token_no_default_policy},
      {"token_num_uses", role.token_num_uses},
      {"token_type", role.token_type},
  };
  return dump_json(j);
}

sdk::Result<Role> decode_role(std::string_view name, std::string_view value) {
  auto j = sdk::parse_stored_object("approle", role_key(name), value);
  if (!j) return sdk::error(j.error());
  Role r;
  r.name = std::string(name);
  r.role_id = get_string(*j, "role_id");
  r.bind_secret_id = get_bool(*j, "bind_secret_id", true);
  r.secret_id_bound_cidrs = get_strings(*j, "secret_id_bound_cidrs");
  r.secret_id_num_uses = get_int(*j, "secret_id_num_uses");
  r.secret_id_ttl = std::chrono::seconds(get_int(*j, "secret_id_ttl"));
  r.local_secret_ids = get_bool(*j, "local_secret_ids", false);
  r.token_policies = get_strings(*j, "token_policies");
  r.policies = get_strings(*j, "policies");
  r.token_bound_cidrs = get_strings(*j, "token_bound_cidrs");
  r.token_ttl = std::chrono::seconds(get_int(*j, "token_ttl"));
  r.token_max_ttl = std::chrono::seconds(get_int(*j, "token_max_ttl"));
  r.token_explicit_max_ttl = std::chrono::seconds(get_int(*j, "token_explicit_max_ttl"));
  r.token_period = std::chrono::seconds(get_int(*j, "token_period"));
  r.period = std::chrono::seconds(get_int(*j, "period"));
  r.token_no_default_policy = get_bool(*j, "token_no_default_policy", false);
  r.token_num_uses = get_int(*j, "token_num_uses");
  r.token_type = get_string(*j, "token_type");
  if (r.token_type.empty()) r.token_type = "default";
  if (r.role_id.empty()) {
    return sdk::error(sdk::Code::kDataLoss,
                      "approle: stored role \"" + std::string(name) + "\" has no role_id");
  }
  return r;
}

std::string encode_secret_id(const SecretIdEntry& e) {
  json j = {
      {"secret_id_hmac", e.secret_id_hmac},
      {"role_name", e.role_name},
      {"secret_id_accessor", e.accessor},
      {"secret_id_num_uses", e.num_uses},
      {"secret_id_ttl", sdk::whole_seconds(e.ttl)},
      {"creation_time", to_nanos(e.creation_time)},
      {"last_updated_time", to_nanos(e.last_updated_time)},
      {"metadata", e.metadata},
      {"cidr_list", e.cidr_list},
      {"token_bound_cidrs", e.token_bound_cidrs},
  };
  j["expiration_time"] = e.expiration_time ? json(to_nanos(*e.expiration_time)) : json();
  return dump_json(j);
}

sdk::Result<SecretIdEntry> decode_secret_id(std::string_view key, std::string_view value) {
  auto j = sdk::parse_stored_object("approle", key, value);
  if (!j) return sdk::error(j.error());
  SecretIdEntry e;
  e.secret_id_hmac = get_string(*j, "secret_id_hmac");
  e.role_name = get_string(*j, "role_name");
  e.accessor = get_string(*j, "secret_id_accessor");
  e.num_uses = get_int(*j, "secret_id_num_uses");
  e.ttl = std::chrono::seconds(get_int(*j, "secret_id_ttl"));
  e.creation_time = from_nanos(get_int(*j, "creation_time"));
  e.last_updated_time = from_nanos(get_int(*j, "last_updated_time"));
  if (auto it = j->find("expiration_time"); it != j->end() && it->is_number()) {
    e.expiration_time = from_nanos(get_int(*j, "expiration_time"));
  }
  e.metadata = get_string_map(*j, "metadata");
  e.cidr_list = get_strings(*j, "cidr_list");
  e.token_bound_cidrs = get_strings(*j, "token_bound_cidrs");
  if (e.secret_id_hmac.empty() || e.accessor.empty() || e.role_name.empty()) {
    return sdk::error(sdk::Code::kDataLoss,
                      "approle: stored secret ID at \"" + std::string(key) + "\" is incomplete");
  }
  return e;
}

json role_read_data(const Role& role) {
  json d = {
      {"bind_secret_id", role.bind_secret_id},
      {"secret_id_bound_cidrs", role.secret_id_bound_cidrs},
      {"secret_id_num_uses", role.secret_id_num_uses},
      {"secret_id_ttl", sdk::whole_seconds(role.secret_id_ttl)},
      {"local_secret_ids", role.local_secret_ids},
      {"token_bound_cidrs", role.token_bound_cidrs},
      {"token_explicit_max_ttl", sdk::whole_seconds(role.token_explicit_max_ttl)},
      {"token_max_ttl", sdk::whole_seconds(role.token_max_ttl)},
      {"token_no_default_policy", role.token_no_default_policy},
      {"token_num_uses", role.token_num_uses},
      {"token_period", sdk::whole_seconds(role.token_period)},
      {"token_policies", role.token_policies},
      {"token_ttl", sdk::whole_seconds(role.token_ttl)},
      {"token_type", role.token_type},
  };
  // Vault shows the legacy names only while they are set.
  if (role.period.count() != 0) d["period"] = sdk::whole_seconds(role.period);
  if (!role.policies.empty()) d["policies"] = role.policies;
  return d;
}

json secret_id_lookup_data(const SecretIdEntry& e) {
  return {
      {"secret_id_accessor", e.accessor},
      {"secret_id_num_uses", e.num_uses},
      {"secret_id_ttl", sdk::whole_seconds(e.ttl)},
      {"creation_time", sdk::rfc3339(e.creation_time)},
      // Go's zero time, which is what Vault shows for a secret id that never expires.
      {"expiration_time",
       e.expiration_time ? sdk::rfc3339(*e.expiration_time) : "0001-01-01T00:00:00Z"},
      {"last_updated_time", sdk::rfc3339(e.last_updated_time)},
      {"metadata", e.metadata},
      {"cidr_list", e.cidr_list},
      {"token_bound_cidrs", e.token_bound_cidrs},
  };
}

std::vector<std::string> parse_policies(const std::vector<std::string>& policies) {
  std::vector<std::string> out;
  for (const auto& p : policies) {
    std::string lower = to_lower(trim_space(p));
    if (lower.empty()) continue;
    if (lower == "root") return {"root"};
    out.push_back(std::move(lower));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool valid_role_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxHmacInput) return false;
  if (!is_word_char(name.front()) || !is_word_char(name.back())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_word_char(c) || c == '-' || c == '.'; });
}

Engine::Engine(const sdk::BackendConfig& config)
    : storage_(config.storage), clock_(config.clock), random_(config.random) {}

sdk::Result<void> Engine::fill_context(sdk::Request& request) const {
  return sdk::fill_request_context(request, storage_, clock_, random_, "approle");
}

sdk::Result<std::string> Engine::hmac(sdk::Request& request, std::string_view value) {
  if (value.size() > kMaxHmacInput) {
    return sdk::invalid_argument("value is longer than maximum of " +
                                 std::to_string(kMaxHmacInput) + " bytes");
  }
  std::lock_guard lock(salt_mu_);
  if (salt_.empty()) {
    auto stored = request.storage->get(kSaltKey);
    if (!stored) return sdk::error(stored.error());
    if (stored->has_value()) {
      auto decoded = sdk::hex_decode(**stored);
      if (!decoded || decoded->size() != kSaltBytes) {
        return sdk::error(sdk::Code::kDataLoss, "approle: stored salt is not valid");
      }
      salt_ = std::move(*decoded);
    } else {
      auto fresh = sdk::random_key(*request.random, kSaltBytes);
      if (!fresh) return sdk::error(fresh.error());
      LEASEFS_TRY(request.storage->put(kSaltKey, sdk::hex_encode(fresh->span())));
      salt_ = std::move(*fresh);
    }
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), salt_.data(), static_cast<int>(salt_.size()),
           reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac,
           &len) == nullptr) {
    return sdk::internal_error("approle: HMAC-SHA256 failed");
  }
  std::string out = sdk::hex_encode(std::span<const std::uint8_t>(mac, len));
  sdk::wipe(mac, sizeof mac);
  return out;
}

void Engine::forget_salt() {
  std::lock_guard lock(salt_mu_);
  salt_.reset();
}

sdk::Result<std::optional<Role>> Engine::read_role(sdk::Request& request, std::string_view name) {
  auto stored = request.storage->get(role_key(name));
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<Role>();
  auto role = decode_role(name, **stored);
  if (!role) return sdk::error(role.error());
  return std::optional<Role>(std::move(*role));
}

sdk::Result<std::optional<Role>> Engine::role_by_role_id(sdk::Request& request,
                                                         std::string_view role_id) {
  auto h = hmac(request, role_id);
  if (!h) return sdk::error(h.error());
  auto stored = request.storage->get(role_id_key(*h));
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<Role>();
  auto index = sdk::parse_stored_object("approle", role_id_key(*h), **stored);
  if (!index) return sdk::error(index.error());
  std::string name = get_string(*index, "name");
  if (name.empty()) return std::optional<Role>();
  auto role = read_role(request, name);
  if (!role) return sdk::error(role.error());
  // The index is keyed by a hash; make sure the role still carries this very role id.
  if (!role->has_value() || !sdk::constant_time_equal((*role)->role_id, role_id)) {
    return std::optional<Role>();
  }
  return role;
}

sdk::Result<void> Engine::store_role(sdk::Request& request, const Role& role,
                                     std::string_view previous_role_id) {
  if (!role.bind_secret_id && role.secret_id_bound_cidrs.empty() &&
      role.token_bound_cidrs.empty()) {
    return sdk::invalid_argument("at least one constraint should be enabled on the role");
  }
  if (role.role_id.empty()) {
    return sdk::invalid_argument("invalid role_id supplied, or failed to generate a role_id");
  }
  auto id_hash = hmac(request, role.role_id);
  if (!id_hash) return sdk::error(id_hash.error());
  auto existing = request.storage->get(role_id_key(*id_hash));
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) {
    auto index = sdk::parse_stored_object("approle", role_id_key(*id_hash), **existing);
    if (!index) return sdk::error(index.error());
    if (get_string(*index, "name") != role.name) {
      return sdk::invalid_argument("role_id already in use");
    }
  }
  std::vector<sdk::StorageOp> ops;
  if (!previous_role_id.empty() && previous_role_id != role.role_id) {
    auto old_hash = hmac(request, previous_role_id);
    if (!old_hash) return sdk::error(old_hash.error());
    ops.push_back(sdk::StorageOp::remove(role_id_key(*old_hash)));
  }
  ops.push_back(sdk::StorageOp::put(role_key(role.name), encode_role(role)));
  ops.push_back(sdk::StorageOp::put(role_id_key(*id_hash), dump_json(json{{"name", role.name}})));
  return request.storage->apply(ops);
}

sdk::Result<std::optional<SecretIdEntry>> Engine::read_secret_id(sdk::Request& request,
                                                                 std::string_view key) {
  auto stored = request.storage->get(key);
  if (!stored) return sdk::error(stored.error());
  if (!stored->has_value()) return std::optional<SecretIdEntry>();
  auto entry = decode_secret_id(key, **stored);
  if (!entry) return sdk::error(entry.error());
  return std::optional<SecretIdEntry>(std::move(*entry));
}

sdk::Result<std::vector<sdk::StorageOp>> Engine::delete_secret_id_ops(sdk::Request& request,
                                                                      const SecretIdEntry& entry) {
  auto acc_hash = hmac(request, entry.accessor);
  if (!acc_hash) return sdk::error(acc_hash.error());
  return std::vector<sdk::StorageOp>{
      sdk::StorageOp::remove(accessor_key(*acc_hash)),
      sdk::StorageOp::remove(secret_id_key(entry.role_name, entry.secret_id_hmac))};
}

std::mutex& Engine::secret_id_stripe(std::string_view secret_id_hmac) {
  return stripes_[std::hash<std::string_view>{}(secret_id_hmac) % stripes_.size()];
}

sdk::Handler bind_handler(
    const std::shared_ptr<Engine>& engine,
    std::function<sdk::Result<sdk::Response>(Engine&, sdk::Request&, const sdk::FieldData&)>
        handler) {
  return [engine, handler = std::move(handler)](
             sdk::Request& request, const sdk::FieldData& fields) -> sdk::Result<sdk::Response> {
    LEASEFS_TRY(engine->fill_context(request));
    return handler(*engine, request, fields);
  };
}

sdk::Result<std::string> role_name_of(const sdk::FieldData& fields) {
  std::string name = fields.string("role_name");
  if (name.empty()) return sdk::invalid_argument("missing role_name");
  if (!valid_role_name(name)) {
    return sdk::invalid_argument(
        "field \"role_name\": must be 1 to 4096 characters of letters, digits, '_', '-' "
        "and '.', beginning and ending with a letter, digit or '_'");
  }
  return to_lower(name);
}

std::string trim_space(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string go_quote(std::string_view text) {
  return dump_json(json(std::string(text)));
}

std::unexpected<sdk::Status> role_not_found(std::string_view name) {
  return sdk::not_found("role " + go_quote(name) + " does not exist");
}

}  // namespace leasefs::engines::approle
