// Building audit entries: Vault's request/response shapes, leasefs's access entries,
// and the HMAC rules of each field (see entry.h).
#include "backend/audit/entry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

#include "backend/audit/json_text.h"

namespace leasefs::backend::audit {
namespace {

using nlohmann::json;

// Members of objects are written in sorted order after "time" and "type", so entries
// read the same way whichever code path wrote them.

void write_auth(JsonText& w, const AuditAuth& auth, Hasher::Session* session, bool hmac_accessor) {
  w.begin_object();
  w.opt_secret("accessor", auth.accessor, hmac_accessor ? session : nullptr);
  w.opt_secret("client_token", auth.client_token, session);
  w.opt_string("display_name", auth.display_name);
  w.opt_string("entity_id", auth.entity_id);
  w.opt_list("identity_policies", auth.identity_policies);
  if (!auth.metadata.empty()) {
    w.key("metadata");
    w.begin_object();
    for (const auto& [k, v] : auth.metadata) {
      w.key(k);
      w.string(v);
    }
    w.end_object();
  }
  w.opt_integer("num_uses", auth.num_uses);
  w.opt_list("policies", auth.policies);
  if (auth.policy_results) {
    w.key("policy_results");
    w.begin_object();
    w.key("allowed");
    w.boolean(auth.policy_results->allowed);
    if (!auth.policy_results->granting_policies.empty()) {
      w.key("granting_policies");
      w.begin_array();
      for (const auto& name : auth.policy_results->granting_policies) {
        w.begin_object();
        w.key("name");
        w.string(name);
        w.key("namespace_id");
        w.string("root");
        w.key("type");
        w.string("acl");
        w.end_object();
      }
      w.end_array();
    }
    w.end_object();
  }
  w.opt_integer("remaining_uses", auth.remaining_uses);
  w.opt_string("token_issue_time", auth.token_issue_time);
  w.opt_list("token_policies", auth.token_policies);
  w.opt_integer("token_ttl", auth.token_ttl);
  w.opt_string("token_type", auth.token_type);
  w.end_object();
}

void write_optional_auth(JsonText& w, const std::optional<AuditAuth>& auth,
                         Hasher::Session* session, bool hmac_accessor) {
  w.key("auth");
  if (auth) {
    write_auth(w, *auth, session, hmac_accessor);
  } else {
    w.begin_object();
    w.end_object();
  }
}

bool has_data(const json& data) {
  if (data.is_null()) return false;
  if (data.is_object() || data.is_array()) return !data.empty();
  return true;
}

void write_request(JsonText& w, const AuditRequest& req, Hasher::Session* session,
                   bool hmac_accessor) {
  w.key("request");
  w.begin_object();
  w.opt_secret("client_token", req.client_token, session);
  w.opt_secret("client_token_accessor", req.client_token_accessor,
               hmac_accessor ? session : nullptr);
  if (has_data(req.data)) {
    w.key("data");
    w.value(req.data, session, req.non_hmac_request_keys);
  }
  if (!req.headers.empty()) {
    w.key("headers");
    w.begin_object();
    for (const auto& [name, values] : req.headers) {
      const bool hashed = std::find(req.hmac_headers.begin(), req.hmac_headers.end(), name) !=
                          req.hmac_headers.end();
      w.key(name);
      w.begin_array();
      for (const auto& v : values) w.secret(hashed ? session : nullptr, v);
      w.end_array();
    }
    w.end_object();
  }
  w.opt_string("id", req.id);
  w.opt_string("mount_accessor", req.mount_accessor);
  w.opt_string("mount_point", req.mount_point);
  w.opt_string("mount_type", req.mount_type);
  w.key("namespace");
  w.begin_object();
  w.key("id");
  w.string("root");
  w.end_object();
  w.opt_string("operation", req.operation);
  w.opt_string("path", req.path);
  w.opt_string("remote_address", req.remote_address);
  w.opt_integer("remote_port", req.remote_port);
  w.opt_integer("wrap_ttl", req.wrap_ttl);
  w.end_object();
}

// Vault's elide_list_responses: a list response's "keys" and "key_info" become counts.
json elided(const json& data) {
  json out = data;
  for (const char* key : {"keys", "key_info"}) {
    auto it = out.find(key);
    if (it != out.end() && (it->is_array() || it->is_object())) *it = it->size();
  }
  return out;
}

struct EntryWriter {
  EntryWriter(std::string_view prefix, std::string_view time, std::string_view type,
              std::size_t size_hint, Hasher* hasher)
      : w(out) {
    out.reserve(size_hint);
    out.append(prefix);
    w.begin_object();
    w.key("time");
    w.string(time);
    w.key("type");
    w.string(type);
    if (hasher != nullptr) session.emplace(*hasher);
  }
  std::string finish() {
    w.end_object();
    return std::move(out);
  }
  Hasher::Session* hashing() { return session ? &*session : nullptr; }

  std::string out;
  JsonText w;
  std::optional<Hasher::Session> session;
};

std::size_t data_hint(const json& data) {
  // A rough size: HMACs are 78 bytes per string.
  return data.is_object() || data.is_array() ? 96 * data.size() + 256 : 64;
}

bool digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return false;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

int number(std::string_view s, std::size_t at, std::size_t n) {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

sdk::Result<std::string> event_string(const json& event, const char* key, std::size_t index) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return sdk::invalid_argument("events[" + std::to_string(index) + "]." + key +
                                 ": expected a string");
  }
  return it->get<std::string>();
}

sdk::Result<std::int64_t> event_integer(const json& event, const char* key, std::size_t index) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return -1;
  if (it->is_number_unsigned()) {
    auto v = it->get<std::uint64_t>();
    if (v <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v);
  } else if (it->is_number_integer()) {
    auto v = it->get<std::int64_t>();
    if (v >= 0) return v;
  }
  return sdk::invalid_argument("events[" + std::to_string(index) + "]." + key +
                               ": expected a non-negative integer");
}

}  // namespace

std::string_view access_result_name(AccessResult result) {
  switch (result) {
    case AccessResult::kAllowed:
      return "allowed";
    case AccessResult::kDenied:
      return "denied";
    case AccessResult::kError:
      return "error";
  }
  return "error";
}

std::string format_request_entry(const AuditRequest& request, std::string_view error,
                                 std::string_view time, const FormatOptions& options,
                                 RequestMembers* keep) {
  EntryWriter e(options.prefix, time, "request", 1024 + data_hint(request.data), options.hasher);
  std::size_t start = e.out.size();
  write_optional_auth(e.w, request.auth, e.hashing(), options.hmac_accessor);
  if (keep != nullptr) keep->auth.assign(e.out, start);
  e.w.opt_string("error", error);
  start = e.out.size();
  write_request(e.w, request, e.hashing(), options.hmac_accessor);
  if (keep != nullptr) keep->request.assign(e.out, start);
  return e.finish();
}

std::string format_response_entry(const AuditRequest& request, const AuditResponse& response,
                                  std::string_view time, const FormatOptions& options,
                                  const RequestMembers* reuse) {
  EntryWriter e(options.prefix, time, "response",
                1536 + data_hint(request.data) + data_hint(response.logged_data()), options.hasher);
  Hasher::Session* session = e.hashing();
  if (reuse != nullptr) {
    e.w.members(reuse->auth);
  } else {
    write_optional_auth(e.w, request.auth, session, options.hmac_accessor);
  }
  e.w.opt_string("error", response.error);
  if (reuse != nullptr) {
    e.w.members(reuse->request);
  } else {
    write_request(e.w, request, session, options.hmac_accessor);
  }
  e.w.key("response");
  e.w.begin_object();
  if (response.auth) {
    e.w.key("auth");
    write_auth(e.w, *response.auth, session, options.hmac_accessor);
  }
  if (const json& data = response.logged_data(); has_data(data)) {
    e.w.key("data");
    if (options.elide_list_responses && request.operation == "list" && data.is_object()) {
      e.w.value(elided(data), session, request.non_hmac_response_keys);
    } else {
      e.w.value(data, session, request.non_hmac_response_keys);
    }
  }
  e.w.opt_string("mount_accessor", response.mount_accessor);
  e.w.opt_string("mount_point", response.mount_point);
  e.w.opt_string("mount_type", response.mount_type);
  if (!response.lease_id.empty()) {
    e.w.key("secret");
    e.w.begin_object();
    e.w.key("lease_id");
    e.w.string(response.lease_id);
    e.w.end_object();
  }
  e.w.opt_list("warnings", response.warnings);
  e.w.end_object();
  return e.finish();
}

std::string access_entry_members(const AccessReporter& reporter, const FormatOptions& options) {
  std::optional<Hasher::Session> session;
  if (options.hasher != nullptr) session.emplace(*options.hasher);
  Hasher::Session* hashing = session ? &*session : nullptr;
  // Written as members of an object that already holds some ("time", "type", "access"),
  // so they start with a comma; the object's '{' is not kept.
  std::string out;
  JsonText w(out);
  w.begin_object();
  w.members("");
  out.clear();
  w.key("auth");
  w.begin_object();
  w.opt_secret("accessor", reporter.accessor, options.hmac_accessor ? hashing : nullptr);
  w.opt_secret("client_token", reporter.client_token, hashing);
  w.opt_string("display_name", reporter.display_name);
  w.end_object();
  w.key("request");
  w.begin_object();
  w.opt_string("id", reporter.request_id);
  w.key("namespace");
  w.begin_object();
  w.key("id");
  w.string("root");
  w.end_object();
  w.key("operation");
  w.string("update");
  w.key("path");
  w.string("sys/access-events");
  w.opt_string("remote_address", reporter.remote_address);
  w.end_object();
  return out;
}

std::string format_access_entry(const AccessEvent& event, std::string_view time,
                                const FormatOptions& options, std::string_view reporter_members) {
  EntryWriter e(options.prefix, time, "access", 512 + reporter_members.size(), nullptr);
  JsonText& w = e.w;
  w.key("access");
  w.begin_object();
  w.opt_string("cgroup", event.cgroup);
  w.opt_string("error", event.error);
  w.opt_string("exe", event.exe);
  w.opt_string("file", event.file);
  if (event.gid >= 0) {
    w.key("gid");
    w.integer(event.gid);
  }
  w.opt_string("host", event.host);
  w.opt_string("lease_id", event.lease_id);
  w.opt_string("mount", event.mount);
  w.opt_string("path", event.path);
  if (event.pid >= 0) {
    w.key("pid");
    w.integer(event.pid);
  }
  w.key("result");
  w.string(access_result_name(event.result));
  w.key("time");
  w.string(sdk::rfc3339(event.time));
  if (event.uid >= 0) {
    w.key("uid");
    w.integer(event.uid);
  }
  w.end_object();
  w.members(reporter_members);
  return e.finish();
}

std::string format_access_entry(const AccessEvent& event, const AccessReporter& reporter,
                                std::string_view time, const FormatOptions& options) {
  return format_access_entry(event, time, options, access_entry_members(reporter, options));
}

std::optional<sdk::WallTime> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if (!digits(s, 0, 4) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' ||
      !digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2) || s[13] != ':' ||
      !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2)) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = number(s, 0, 4) - 1900;
  tm.tm_mon = number(s, 5, 2) - 1;
  tm.tm_mday = number(s, 8, 2);
  tm.tm_hour = number(s, 11, 2);
  tm.tm_min = number(s, 14, 2);
  tm.tm_sec = number(s, 17, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t nanos = 0;
  if (at < s.size() && s[at] == '.') {
    ++at;
    std::size_t n = 0;
    while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) {
      if (n < 9) nanos = nanos * 10 + (s[at] - '0');
      ++n;
      ++at;
    }
    if (n == 0) return std::nullopt;
    for (std::size_t i = n; i < 9; ++i) nanos *= 10;
  }
  std::int64_t offset = 0;
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-') && digits(s, at + 1, 2) &&
             at + 3 < s.size() && s[at + 3] == ':' && digits(s, at + 4, 2)) {
    offset = (number(s, at + 1, 2) * 3600 + number(s, at + 4, 2) * 60) * (s[at] == '-' ? -1 : 1);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  std::time_t secs = ::timegm(&tm);
  return sdk::WallTime(std::chrono::duration_cast<sdk::WallTime::duration>(
      std::chrono::seconds(static_cast<std::int64_t>(secs) - offset) +
      std::chrono::nanoseconds(nanos)));
}

sdk::Result<void> validate_access_event(const AccessEvent& e) {
  for (const std::string* field :
       {&e.host, &e.mount, &e.file, &e.path, &e.lease_id, &e.exe, &e.cgroup, &e.error}) {
    if (field->size() > kMaxAccessFieldSize) {
      return sdk::invalid_argument("access event field longer than " +
                                   std::to_string(kMaxAccessFieldSize) + " bytes");
    }
  }
  return {};
}

sdk::Result<std::vector<AccessEvent>> parse_access_events(const nlohmann::json& body,
                                                          sdk::WallTime now) {
  if (!body.is_object()) return sdk::invalid_argument("expected a JSON object with \"events\"");
  auto events = body.find("events");
  if (events == body.end()) {
    return sdk::invalid_argument("\"events\" must be a list of access events");
  }
  return parse_access_event_list(*events, now);
}

sdk::Result<std::vector<AccessEvent>> parse_access_event_list(const nlohmann::json& list,
                                                              sdk::WallTime now) {
  if (!list.is_array()) {
    return sdk::invalid_argument("\"events\" must be a list of access events");
  }
  if (list.size() > kMaxAccessEventsPerBatch) {
    return sdk::invalid_argument("at most " + std::to_string(kMaxAccessEventsPerBatch) +
                                 " access events per request");
  }
  std::vector<AccessEvent> out;
  out.reserve(list.size());
  std::size_t index = 0;
  for (const auto& item : list) {
    // Named only in errors: building it for every event cost an allocation each.
    auto where = [index] { return "events[" + std::to_string(index) + "]"; };
    if (!item.is_object()) return sdk::invalid_argument(where() + ": expected an object");
    AccessEvent e;
    e.time = now;
    if (auto t = item.find("time"); t != item.end() && !t->is_null()) {
      if (t->is_string()) {
        auto parsed = parse_rfc3339(t->get_ref<const std::string&>());
        if (!parsed) return sdk::invalid_argument(where() + ".time: expected RFC 3339");
        e.time = *parsed;
      } else if (t->is_number() && t->get<double>() >= 0 && t->get<double>() < 1e11) {
        // Whole seconds and the fraction apart, so the nanoseconds keep their precision.
        const double value = t->get<double>();
        const double whole = std::floor(value);
        e.time = sdk::WallTime(std::chrono::duration_cast<sdk::WallTime::duration>(
            std::chrono::seconds(static_cast<std::int64_t>(whole)) +
            std::chrono::nanoseconds(std::llround((value - whole) * 1e9))));
      } else {
        return sdk::invalid_argument(where() + ".time: expected RFC 3339 or unix seconds");
      }
    }
    struct Field {
      const char* key;
      std::string* out;
    };
    for (Field f : {Field{"host", &e.host}, Field{"mount", &e.mount}, Field{"file", &e.file},
                    Field{"path", &e.path}, Field{"lease_id", &e.lease_id}, Field{"exe", &e.exe},
                    Field{"cgroup", &e.cgroup}, Field{"error", &e.error}}) {
      auto v = event_string(item, f.key, index);
      if (!v) return sdk::error(v.error());
      *f.out = std::move(*v);
    }
    auto pid = event_integer(item, "pid", index);
    if (!pid) return sdk::error(pid.error());
    auto uid = event_integer(item, "uid", index);
    if (!uid) return sdk::error(uid.error());
    auto gid = event_integer(item, "gid", index);
    if (!gid) return sdk::error(gid.error());
    e.pid = *pid;
    e.uid = *uid;
    e.gid = *gid;
    auto result = event_string(item, "result", index);
    if (!result) return sdk::error(result.error());
    if (*result == "allowed") {
      e.result = AccessResult::kAllowed;
    } else if (*result == "denied") {
      e.result = AccessResult::kDenied;
    } else if (*result == "error") {
      e.result = AccessResult::kError;
    } else {
      return sdk::invalid_argument(where() +
                                   ".result: expected \"allowed\", \"denied\" or \"error\"");
    }
    if (auto valid = validate_access_event(e); !valid) {
      return sdk::error(valid.error().with_context(where()));
    }
    out.push_back(std::move(e));
    ++index;
  }
  return out;
}

}  // namespace leasefs::backend::audit
