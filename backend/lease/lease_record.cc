// Lease records: keys, escaping and the JSON form.
#include "backend/lease/lease_record.h"

#include <charconv>
#include <chrono>

#include "backend/sdk/storage.h"

namespace leasefs::backend::lease {

using nlohmann::json;

namespace {

std::int64_t to_ns(sdk::WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

sdk::WallTime from_ns(std::int64_t ns) {
  return sdk::WallTime(
      std::chrono::duration_cast<sdk::WallTime::duration>(std::chrono::nanoseconds(ns)));
}

std::unexpected<sdk::Status> malformed(std::string_view what) {
  return sdk::error(sdk::Code::kDataLoss, "stored lease record is malformed: " + std::string(what));
}

// Typed field readers: false when the field is missing or of another type.
bool read_string(const json& j, const char* name, std::string& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return false;
  out = it->get_ref<const std::string&>();
  return true;
}

bool read_int(const json& j, const char* name, std::int64_t& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return false;
  out = it->get<std::int64_t>();
  return true;
}

bool read_bool(const json& j, const char* name, bool& out) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_boolean()) return false;
  out = it->get<bool>();
  return true;
}

}  // namespace

sdk::LeaseInfo LeaseRecord::lease_info(sdk::Duration increment) const {
  sdk::LeaseInfo info;
  info.lease_id = lease_id;
  info.secret_type = secret_type;
  info.internal = internal;
  info.issue_time = issue_time;
  info.expire_time = expire_time;
  info.increment = increment;
  return info;
}

std::string record_key(std::string_view lease_id) {
  std::string key(kRecordFolder);
  key += lease_id;
  return key;
}

std::string token_index_key(std::string_view token_hash, std::string_view lease_id) {
  std::string key(kTokenIndexFolder);
  key += token_hash;
  key += '/';
  key += escape_segment(lease_id);
  return key;
}

std::string escape_segment(std::string_view id) {
  std::string out;
  out.reserve(id.size() + 8);
  for (char c : id) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    std::string_view code = segment.substr(i + 1, 2);
    if (code == "25") {
      out += '%';
    } else if (code == "2F") {
      out += '/';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

sdk::Result<void> validate_lease_id(std::string_view id) {
  if (id.empty()) return sdk::invalid_argument("a lease ID is required");
  if (id.back() == '/') return sdk::invalid_argument("invalid lease ID");
  if (!sdk::validate_key(record_key(id))) return sdk::invalid_argument("invalid lease ID");
  return {};
}

sdk::Result<void> validate_token_hash(std::string_view token_hash) {
  if (token_hash.empty()) return sdk::invalid_argument("a token hash is required");
  for (char c : token_hash) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '/') return sdk::invalid_argument("invalid token hash");
  }
  if (token_hash == "." || token_hash == "..") return sdk::invalid_argument("invalid token hash");
  return {};
}

std::string encode_record(const LeaseRecord& r) {
  json j = json::object();
  j["v"] = 1;
  j["lease_id"] = r.lease_id;
  j["kind"] = r.kind == LeaseKind::kToken ? "token" : "secret";
  j["path"] = r.path;
  j["mount"] = r.mount;
  j["secret_type"] = r.secret_type;
  j["internal"] = r.internal.is_null() ? json::object() : r.internal;
  j["token_hash"] = r.token_hash;
  j["issue_time"] = to_ns(r.issue_time);
  j["expire_time"] = to_ns(r.expire_time);
  j["last_renewal_time"] = to_ns(r.last_renewal_time);
  j["renewable"] = r.renewable;
  j["ttl"] = r.ttl.count();
  j["role_max_ttl"] = r.role_max_ttl.count();
  j["revoke_attempts"] = r.revoke_attempts;
  j["revoke_error"] = r.revoke_error;
  j["irrevocable"] = r.irrevocable;
  std::string out = "L1 ";
  out += r.kind == LeaseKind::kToken ? 't' : 's';
  out += r.irrevocable ? " 1 " : " 0 ";
  out += std::to_string(r.revoke_attempts);
  out += ' ';
  out += std::to_string(to_ns(r.expire_time));
  out += '\n';
  out += j.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

sdk::Result<LeaseRecord> decode_record(std::string_view bytes) {
  auto newline = bytes.find('\n');
  if (newline == std::string_view::npos || !decode_schedule(bytes)) return malformed("header");
  bytes.remove_prefix(newline + 1);
  json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
  LeaseRecord r;
  std::string kind;
  std::int64_t version = 0, issue = 0, expire = 0, renewal = 0, ttl = 0, max_ttl = 0, attempts = 0;
  if (!read_int(j, "v", version) || version != 1) return malformed("unknown version");
  if (!read_string(j, "lease_id", r.lease_id) || r.lease_id.empty()) return malformed("lease_id");
  if (!read_string(j, "kind", kind) || (kind != "secret" && kind != "token")) {
    return malformed("kind");
  }
  r.kind = kind == "token" ? LeaseKind::kToken : LeaseKind::kSecret;
  if (!read_string(j, "path", r.path)) return malformed("path");
  if (!read_string(j, "mount", r.mount)) return malformed("mount");
  if (!read_string(j, "secret_type", r.secret_type)) return malformed("secret_type");
  auto internal = j.find("internal");
  if (internal == j.end() || !internal->is_object()) return malformed("internal");
  r.internal = std::move(*internal);
  if (!read_string(j, "token_hash", r.token_hash)) return malformed("token_hash");
  if (!read_int(j, "issue_time", issue) || !read_int(j, "expire_time", expire) ||
      !read_int(j, "last_renewal_time", renewal)) {
    return malformed("times");
  }
  r.issue_time = from_ns(issue);
  r.expire_time = from_ns(expire);
  r.last_renewal_time = from_ns(renewal);
  if (!read_bool(j, "renewable", r.renewable)) return malformed("renewable");
  if (!read_int(j, "ttl", ttl) || !read_int(j, "role_max_ttl", max_ttl)) return malformed("ttl");
  r.ttl = sdk::Duration(ttl);
  r.role_max_ttl = sdk::Duration(max_ttl);
  if (!read_int(j, "revoke_attempts", attempts) || attempts < 0 || attempts > 1'000'000) {
    return malformed("revoke_attempts");
  }
  r.revoke_attempts = static_cast<int>(attempts);
  if (!read_string(j, "revoke_error", r.revoke_error)) return malformed("revoke_error");
  if (!read_bool(j, "irrevocable", r.irrevocable)) return malformed("irrevocable");
  return r;
}

sdk::Result<LeaseSchedule> decode_schedule(std::string_view bytes) {
  // "L1 <s|t> <0|1> <attempts> <expire ns>\n"
  auto newline = bytes.find('\n');
  if (newline == std::string_view::npos) return malformed("header");
  std::string_view header = bytes.substr(0, newline);
  if (header.size() < 10 || !header.starts_with("L1 ") || header[4] != ' ' || header[6] != ' ') {
    return malformed("header");
  }
  LeaseSchedule out;
  if (header[3] == 't') {
    out.kind = LeaseKind::kToken;
  } else if (header[3] != 's') {
    return malformed("header kind");
  }
  if (header[5] != '0' && header[5] != '1') return malformed("header irrevocable");
  out.irrevocable = header[5] == '1';
  std::string_view rest = header.substr(7);
  auto space = rest.find(' ');
  if (space == std::string_view::npos) return malformed("header");
  int attempts = 0;
  std::int64_t expire = 0;
  auto a = std::from_chars(rest.data(), rest.data() + space, attempts);
  if (a.ec != std::errc() || a.ptr != rest.data() + space || attempts < 0 || attempts > 1'000'000) {
    return malformed("header attempts");
  }
  auto e = std::from_chars(rest.data() + space + 1, rest.data() + rest.size(), expire);
  if (e.ec != std::errc() || e.ptr != rest.data() + rest.size() || space + 1 == rest.size()) {
    return malformed("header expiry");
  }
  out.revoke_attempts = attempts;
  out.expire_time = from_ns(expire);
  return out;
}

std::string truncate_error(std::string_view message) {
  if (message.size() <= kMaxRevokeErrorBytes) return std::string(message);
  std::size_t end = kMaxRevokeErrorBytes;
  // Step back over UTF-8 continuation bytes so no character is cut in half.
  while (end > 0 && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80) --end;
  return std::string(message.substr(0, end));
}

}  // namespace leasefs::backend::lease
