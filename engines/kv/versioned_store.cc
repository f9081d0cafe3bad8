// KV v2 storage layout, the metadata codec and the version-window arithmetic.
#include "engines/kv/versioned_store.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>

#include "backend/sdk/duration.h"

namespace leasefs::engines::kv {
namespace {

constexpr std::string_view kConfigKey = "config";
constexpr std::string_view kMetaPrefix = "meta/";
constexpr std::string_view kVersionPrefix = "ver/";

constexpr std::size_t kMaxCustomMetadataKeys = 64;
constexpr std::size_t kMaxCustomMetadataKeyBytes = 128;
constexpr std::size_t kMaxCustomMetadataValueBytes = 512;
constexpr std::string_view kCustomMetadataError = "custom_metadata validation failed";

std::int64_t to_ns(sdk::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

sdk::WallTime from_ns(std::int64_t ns) {
  return sdk::WallTime(
      std::chrono::duration_cast<sdk::WallTime::duration>(std::chrono::nanoseconds(ns)));
}

json optional_time(const std::optional<sdk::WallTime>& t) {
  return t ? json(to_ns(*t)) : json(nullptr);
}

// Typed readers of stored JSON; false when the member is missing or of another type.
bool read_u64(const json& obj, const char* name, std::uint64_t& out) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_unsigned()) {
    if (it != obj.end() && it->is_number_integer() && it->get<std::int64_t>() >= 0) {
      out = static_cast<std::uint64_t>(it->get<std::int64_t>());
      return true;
    }
    return false;
  }
  out = it->get<std::uint64_t>();
  return true;
}

bool read_i64(const json& obj, const char* name, std::int64_t& out) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_integer()) return false;
  if (it->is_number_unsigned() &&
      it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return false;
  }
  out = it->get<std::int64_t>();
  return true;
}

bool read_bool(const json& obj, const char* name, bool& out) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_boolean()) return false;
  out = it->get<bool>();
  return true;
}

bool read_time(const json& obj, const char* name, std::optional<sdk::WallTime>& out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    out.reset();
    return true;
  }
  std::int64_t ns = 0;
  if (!read_i64(obj, name, ns)) return false;
  out = from_ns(ns);
  return true;
}

std::unexpected<sdk::Status> corrupt(std::string_view what) {
  return sdk::error(sdk::Code::kDataLoss, "kv: stored " + std::string(what) + " is corrupt");
}

json metadata_to_storage(const KeyMetadata& m) {
  json versions = json::object();
  for (const auto& [n, v] : m.versions) {
    versions[std::to_string(n)] = {{"created_time", to_ns(v.created_time)},
                                   {"deletion_time", optional_time(v.deletion_time)},
                                   {"destroyed", v.destroyed}};
  }
  json custom = json::object();
  for (const auto& [k, v] : m.custom_metadata) custom[k] = v;
  return {{"key", m.key},
          {"current_version", m.current_version},
          {"oldest_version", m.oldest_version},
          {"created_time", optional_time(m.created_time)},
          {"updated_time", optional_time(m.updated_time)},
          {"max_versions", m.max_versions},
          {"cas_required", m.cas_required},
          {"delete_version_after", m.delete_version_after.count()},
          {"custom_metadata", std::move(custom)},
          {"versions", std::move(versions)}};
}

sdk::Result<KeyMetadata> metadata_from_storage(const json& j) {
  KeyMetadata m;
  if (!j.is_object()) return corrupt("metadata");
  auto key = j.find("key");
  if (key == j.end() || !key->is_string()) return corrupt("metadata");
  m.key = key->get<std::string>();
  std::uint64_t max_versions = 0;
  std::int64_t dva = 0;
  if (!read_u64(j, "current_version", m.current_version) ||
      !read_u64(j, "oldest_version", m.oldest_version) ||
      !read_time(j, "created_time", m.created_time) ||
      !read_time(j, "updated_time", m.updated_time) || !read_u64(j, "max_versions", max_versions) ||
      max_versions > std::numeric_limits<std::uint32_t>::max() ||
      !read_bool(j, "cas_required", m.cas_required) || !read_i64(j, "delete_version_after", dva)) {
    return corrupt("metadata");
  }
  m.max_versions = static_cast<std::uint32_t>(max_versions);
  m.delete_version_after = sdk::Duration(dva);
  auto custom = j.find("custom_metadata");
  if (custom == j.end() || !custom->is_object()) return corrupt("metadata");
  for (const auto& [k, v] : custom->items()) {
    if (!v.is_string()) return corrupt("metadata");
    m.custom_metadata[k] = v.get<std::string>();
  }
  auto versions = j.find("versions");
  if (versions == j.end() || !versions->is_object()) return corrupt("metadata");
  for (const auto& [k, v] : versions->items()) {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(k.data(), k.data() + k.size(), n);
    if (ec != std::errc() || p != k.data() + k.size() || !v.is_object()) {
      return corrupt("metadata");
    }
    VersionMetadata vm;
    std::optional<sdk::WallTime> created;
    if (!read_time(v, "created_time", created) || !created ||
        !read_time(v, "deletion_time", vm.deletion_time) ||
        !read_bool(v, "destroyed", vm.destroyed)) {
      return corrupt("metadata");
    }
    vm.created_time = *created;
    m.versions[n] = vm;
  }
  return m;
}

// A key or value as shown in a validation error: JSON-quoted, cut at 128 bytes.
std::string shown_key(std::string_view s) {
  std::string shown(s.substr(0, kMaxCustomMetadataKeyBytes));
  if (s.size() > shown.size()) shown += "...";
  return json(shown).dump(-1, ' ', false, json::error_handler_t::replace);
}

bool printable(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

}  // namespace

bool is_deleted(const VersionMetadata& v, sdk::WallTime now) {
  return v.deletion_time && *v.deletion_time <= now;
}

std::optional<sdk::WallTime> deletion_time_for(sdk::WallTime from, const MountConfig& config,
                                               const KeyMetadata& meta) {
  if (config.delete_version_after == kDeleteVersionAfterDisabled) return std::nullopt;
  sdk::Duration mount = std::max(config.delete_version_after, sdk::Duration(0));
  sdk::Duration key = std::max(meta.delete_version_after, sdk::Duration(0));
  if (mount == sdk::Duration(0) && key == sdk::Duration(0)) return std::nullopt;
  sdk::Duration after = key;
  if (after == sdk::Duration(0) || (mount != sdk::Duration(0) && mount < after)) after = mount;
  return from + std::chrono::duration_cast<sdk::WallTime::duration>(after);
}

std::uint32_t effective_max_versions(const KeyMetadata& meta, const MountConfig& config) {
  std::uint32_t larger = std::max(meta.max_versions, config.max_versions);
  return larger > 0 ? larger : kDefaultMaxVersions;
}

std::vector<std::uint64_t> add_version(KeyMetadata& meta, sdk::WallTime now,
                                       std::optional<sdk::WallTime> deletion_time,
                                       const MountConfig& config) {
  meta.current_version += 1;
  meta.versions[meta.current_version] =
      VersionMetadata{.created_time = now, .deletion_time = deletion_time, .destroyed = false};
  meta.updated_time = now;
  if (!meta.created_time) meta.created_time = now;

  // Vault's window: once current - oldest reaches max, everything up to
  // current - max goes, and oldest moves just past it. A fresh key starts at oldest 0,
  // so oldest_version first becomes 1 when version max is written.
  std::vector<std::uint64_t> dropped;
  std::uint64_t max = effective_max_versions(meta, config);
  if (meta.current_version - meta.oldest_version >= max) {
    std::uint64_t last_dropped = meta.current_version - max;
    for (auto it = meta.versions.begin(); it != meta.versions.end() && it->first <= last_dropped;) {
      dropped.push_back(it->first);
      it = meta.versions.erase(it);
    }
    meta.oldest_version = last_dropped + 1;
  }
  return dropped;
}

std::string time_json(const std::optional<sdk::WallTime>& t) {
  return t ? sdk::rfc3339(*t) : std::string();
}

json custom_metadata_json(const KeyMetadata& meta) {
  if (meta.custom_metadata.empty()) return nullptr;
  json out = json::object();
  for (const auto& [k, v] : meta.custom_metadata) out[k] = v;
  return out;
}

json version_metadata_json(const KeyMetadata& meta, std::uint64_t version) {
  json out = {{"version", version}, {"custom_metadata", custom_metadata_json(meta)}};
  auto it = meta.versions.find(version);
  if (it != meta.versions.end()) {
    out["created_time"] = time_json(it->second.created_time);
    out["deletion_time"] = time_json(it->second.deletion_time);
    out["destroyed"] = it->second.destroyed;
  }
  return out;
}

sdk::Result<std::map<std::string, std::string>> parse_custom_metadata(
    const json& raw, bool drop_nulls, std::vector<std::string>* removed) {
  std::map<std::string, std::string> out;
  if (!raw.is_object()) {
    return sdk::invalid_argument(std::string(kCustomMetadataError) + ": want a JSON object");
  }
  for (const auto& [k, v] : raw.items()) {
    if (v.is_null()) {
      if (drop_nulls) {
        if (removed != nullptr) removed->push_back(k);
        continue;
      }
      out[k] = "";
    } else if (v.is_string()) {
      out[k] = v.get<std::string>();
    } else if (v.is_boolean()) {
      out[k] = v.get<bool>() ? "1" : "0";
    } else if (v.is_number()) {
      out[k] = v.dump();
    } else {
      return sdk::invalid_argument(std::string(kCustomMetadataError) + ": value for key " +
                                   shown_key(k) + " must be a string");
    }
  }
  LEASEFS_TRY(validate_custom_metadata(out));
  return out;
}

sdk::Result<void> validate_custom_metadata(const std::map<std::string, std::string>& m) {
  std::string prefix = std::string(kCustomMetadataError) + ": ";
  if (m.size() > kMaxCustomMetadataKeys) {
    return sdk::invalid_argument(prefix + "payload must contain at most " +
                                 std::to_string(kMaxCustomMetadataKeys) + " keys, provided " +
                                 std::to_string(m.size()));
  }
  std::vector<std::string> problems;
  for (const auto& [k, v] : m) {
    if (k.empty() || k.size() > kMaxCustomMetadataKeyBytes) {
      problems.push_back(
          prefix + "length of key " + shown_key(k) + " is " + std::to_string(k.size()) +
          " but must be 0 < len(key) <= " + std::to_string(kMaxCustomMetadataKeyBytes));
    }
    if (v.empty() || v.size() > kMaxCustomMetadataValueBytes) {
      problems.push_back(
          prefix + "length of value for key " + shown_key(k) + " is " + std::to_string(v.size()) +
          " but must be 0 < len(value) <= " + std::to_string(kMaxCustomMetadataValueBytes));
    }
    if (!printable(k)) {
      problems.push_back(prefix + "key " + shown_key(k) + " contains unprintable characters");
    }
    if (!printable(v)) {
      problems.push_back(prefix + "value for key " + shown_key(k) +
                         " contains unprintable characters");
    }
  }
  if (problems.empty()) return {};
  std::string message = problems.front();
  for (std::size_t i = 1; i < problems.size(); ++i) message += "; " + problems[i];
  return sdk::invalid_argument(std::move(message));
}

std::shared_mutex& VersionedStore::lock_for(std::string_view path) {
  return locks_[std::hash<std::string_view>{}(path) % kStripes];
}

sdk::Result<MountConfig> VersionedStore::config() {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(cache_mu_);
    if (config_cache_) return *config_cache_;
    generation = generation_;
  }
  auto raw = storage_->get(kConfigKey);
  if (!raw) return sdk::error(raw.error());
  MountConfig c;
  auto remember = [&](const MountConfig& value) {
    std::lock_guard lock(cache_mu_);
    if (generation == generation_) config_cache_ = value;
  };
  if (!raw->has_value()) {
    remember(c);
    return c;
  }
  auto j = parse_json(**raw);
  std::uint64_t max_versions = 0;
  std::int64_t dva = 0;
  if (!j || !j->is_object() || !read_u64(*j, "max_versions", max_versions) ||
      max_versions > std::numeric_limits<std::uint32_t>::max() ||
      !read_bool(*j, "cas_required", c.cas_required) ||
      !read_i64(*j, "delete_version_after", dva)) {
    return corrupt("config");
  }
  c.max_versions = static_cast<std::uint32_t>(max_versions);
  c.delete_version_after = sdk::Duration(dva);
  remember(c);
  return c;
}

sdk::StorageOp VersionedStore::put_config(const MountConfig& c) const {
  json j = {{"max_versions", c.max_versions},
            {"cas_required", c.cas_required},
            {"delete_version_after", c.delete_version_after.count()}};
  return sdk::StorageOp::put(std::string(kConfigKey), dump_json(j));
}

sdk::Result<std::optional<KeyMetadata>> VersionedStore::metadata(std::string_view path) {
  if (!validate_secret_path(path)) return std::optional<KeyMetadata>();
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = meta_cache_.find(std::string(path)); it != meta_cache_.end()) {
      return std::optional<KeyMetadata>(*it->second);
    }
    generation = generation_;
  }
  auto raw = storage_->get(meta_key(path));
  if (!raw) return sdk::error(raw.error());
  if (!raw->has_value()) return std::optional<KeyMetadata>();
  auto j = parse_json(**raw);
  if (!j) return corrupt("metadata");
  auto meta = metadata_from_storage(*j);
  if (!meta) return sdk::error(meta.error());
  {
    std::lock_guard lock(cache_mu_);
    if (generation == generation_) {
      if (meta_cache_.size() >= kMaxCached) meta_cache_.clear();
      meta_cache_[std::string(path)] = std::make_shared<const KeyMetadata>(*meta);
    }
  }
  return std::optional<KeyMetadata>(std::move(*meta));
}

sdk::StorageOp VersionedStore::put_metadata(const KeyMetadata& meta) const {
  return sdk::StorageOp::put(meta_key(meta.key), dump_json(metadata_to_storage(meta)));
}

sdk::Result<json> VersionedStore::version_data(std::string_view path, std::uint64_t version) {
  auto raw = storage_->get(version_key(path, version));
  if (!raw) return sdk::error(raw.error());
  if (!raw->has_value()) return sdk::internal_error("kv: could not find version data");
  auto j = parse_json(**raw);
  if (!j || !j->is_object()) return corrupt("version");
  auto data = j->find("data");
  if (data == j->end() || !data->is_object()) return corrupt("version");
  return *data;
}

sdk::StorageOp VersionedStore::put_version(std::string_view path, std::uint64_t version,
                                           const std::string& encoded_data) const {
  // The data is already encoded (and size-checked); wrap it without re-encoding.
  return sdk::StorageOp::put(version_key(path, version), "{\"data\":" + encoded_data + "}");
}

void VersionedStore::invalidate(const std::vector<sdk::StorageOp>& ops) {
  std::lock_guard lock(cache_mu_);
  ++generation_;
  for (const auto& op : ops) {
    if (op.key == kConfigKey) {
      config_cache_.reset();
    } else if (op.key.starts_with(kMetaPrefix)) {
      meta_cache_.erase(op.key.substr(kMetaPrefix.size()));
    }
  }
}

sdk::Result<void> VersionedStore::apply(const std::vector<sdk::StorageOp>& ops) {
  invalidate(ops);
  auto result = storage_->apply(std::span<const sdk::StorageOp>(ops));
  invalidate(ops);
  return result;
}

std::string VersionedStore::meta_key(std::string_view path) {
  std::string key(kMetaPrefix);
  key += path;
  return key;
}

std::string VersionedStore::version_key(std::string_view path, std::uint64_t version) {
  std::string key(kVersionPrefix);
  key += path;
  key += '/';
  key += std::to_string(version);
  return key;
}

sdk::Result<void> validate_secret_path(std::string_view path) {
  if (path.empty()) return sdk::invalid_argument("missing path");
  if (path.size() > kMaxPathBytes) {
    return sdk::invalid_argument("path is longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  if (path.back() == '/') return sdk::invalid_argument("path must not end in '/'");
  auto valid = sdk::validate_key(path);
  if (!valid) {
    // validate_key speaks of storage keys; say "path" to the client.
    std::string message = valid.error().message();
    if (message.starts_with("storage key")) message.replace(0, 11, "path");
    return sdk::invalid_argument(std::move(message));
  }
  return {};
}

sdk::Result<std::string> encode_secret(const json& data) {
  std::vector<std::pair<const json*, std::size_t>> pending{{&data, 1}};
  while (!pending.empty()) {
    auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) continue;
    if (depth > kMaxNestingDepth) {
      return sdk::invalid_argument("secret data is nested deeper than " +
                                   std::to_string(kMaxNestingDepth) + " levels");
    }
    for (const auto& child : *node) pending.emplace_back(&child, depth + 1);
  }
  std::string encoded = dump_json(data);
  if (encoded.size() > kMaxSecretBytes) {
    return sdk::error(sdk::Code::kTooLarge, "secret data is " + std::to_string(encoded.size()) +
                                                " bytes encoded, more than the limit of " +
                                                std::to_string(kMaxSecretBytes));
  }
  return encoded;
}

std::string dump_json(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<json> parse_json(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

sdk::Result<sdk::Response> read_version(VersionedStore& store, const std::string& path,
                                        std::int64_t requested, const char* data_key,
                                        const std::function<void(json&)>& shape) {
  std::shared_lock lock(store.lock_for(path));
  auto meta = store.metadata(path);
  if (!meta) return sdk::error(meta.error());
  if (!meta->has_value()) return plain_not_found();
  const KeyMetadata& m = **meta;
  const std::uint64_t version =
      requested > 0 ? static_cast<std::uint64_t>(requested) : m.current_version;
  auto it = m.versions.find(version);
  if (it == m.versions.end()) return plain_not_found();

  json body = {{data_key, nullptr}, {"metadata", version_metadata_json(m, version)}};
  if (is_deleted(it->second, store.now()) || it->second.destroyed) {
    return response_with_status(std::move(body), 404);
  }
  auto data = store.version_data(path, version);
  if (!data) return sdk::error(data.error());
  if (shape) shape(*data);
  body[data_key] = std::move(*data);
  return sdk::Response::with_data(std::move(body));
}

sdk::Response response_with_status(json data, int status) {
  sdk::Response r = sdk::Response::with_data(std::move(data));
  r.status = status;
  return r;
}

sdk::Result<std::vector<std::int64_t>> parse_int_list(const std::string& field, const json& raw) {
  auto bad = [&] {
    return sdk::invalid_argument("field \"" + field + "\": want a list of integers");
  };
  auto one = [&](const json& v, std::vector<std::int64_t>& out) -> bool {
    if (v.is_number_unsigned()) {
      if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) return false;
      out.push_back(v.get<std::int64_t>());
      return true;
    }
    if (v.is_number_integer()) {
      out.push_back(v.get<std::int64_t>());
      return true;
    }
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (!(d >= -9.2e18 && d <= 9.2e18) ||
          d != static_cast<double>(static_cast<std::int64_t>(d))) {
        return false;
      }
      out.push_back(static_cast<std::int64_t>(d));
      return true;
    }
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      std::string_view rest = s;
      bool any = false;
      while (true) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) {
          std::int64_t n = 0;
          auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
          if (ec != std::errc() || p != item.data() + item.size()) return false;
          out.push_back(n);
          any = true;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      return any || s.empty();
    }
    return false;
  };
  std::vector<std::int64_t> out;
  if (raw.is_null()) return out;
  if (raw.is_array()) {
    for (const auto& v : raw) {
      if (!one(v, out)) return bad();
    }
    return out;
  }
  if (!one(raw, out)) return bad();
  return out;
}

}  // namespace leasefs::engines::kv
