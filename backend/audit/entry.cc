// Building audit entries: Vault's request/response shapes, leasefs's access entries,
// and the HMAC rules of each field (see entry.h).
#include "backend/audit/entry.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>

// RapidJSON's SSE2 paths (whitespace, and strings without escapes, 16 bytes at a time)
// are baseline x86-64. They load whole aligned 16-byte blocks, which never cross a page
// but may reach past the end of the text's allocation, so AddressSanitizer builds use
// the byte-by-byte paths (same results).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEASEFS_ASAN 1
#endif
#endif
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(LEASEFS_ASAN) && \
    !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/reader.h>

#include "backend/audit/json_text.h"

namespace leasefs::backend::audit {
namespace {

using nlohmann::json;

// The whole seconds from 1970 that sdk::WallTime (64-bit nanoseconds) can hold, plus a
// fraction, either way: times at or past it would overflow the conversion.
constexpr std::int64_t kLastUnixSecond =
    std::chrono::duration_cast<std::chrono::seconds>(sdk::WallTime::duration::max()).count();

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
  const int year = number(s, 0, 4);
  const int month = number(s, 5, 2);
  const int day = number(s, 8, 2);
  const int hour = number(s, 11, 2);
  const int minute = number(s, 14, 2);
  const int second = number(s, 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
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
  // A day past the month's end counts on into the next month, and second 60 into the
  // next minute, as timegm would have it (the calendar arithmetic without the time
  // zone machinery timegm goes through).
  using namespace std::chrono;
  const sys_days date = sys_days(year_month_day(std::chrono::year(year),
                                                std::chrono::month(static_cast<unsigned>(month)),
                                                std::chrono::day(1))) +
                        days(day - 1);
  const std::int64_t secs =
      date.time_since_epoch().count() * 86400 + hour * 3600 + minute * 60 + second - offset;
  // The clock counts nanoseconds in 64 bits: years 1678 to 2262.
  if (secs <= -kLastUnixSecond || secs >= kLastUnixSecond) return std::nullopt;
  return sdk::WallTime(std::chrono::duration_cast<sdk::WallTime::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
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

// --- access events: one conversion, two parsers ----------------------------------------
//
// parse_access_event_list reads events out of a JSON tree, try_parse_access_events
// straight out of the body's text. Both collect an event's members in EventMembers and
// turn them into an AccessEvent with event_from, so the rules cannot drift apart.

namespace {

// The members of an access event that mean something; other keys are ignored.
enum class EventKey : std::uint8_t {
  kTime,
  kHost,
  kMount,
  kFile,
  kPath,
  kLeaseId,
  kPid,
  kExe,
  kUid,
  kGid,
  kCgroup,
  kResult,
  kError,
};
constexpr std::array<std::string_view, 13> kEventKeys = {
    "time", "host", "mount", "file",   "path",   "lease_id", "pid",
    "exe",  "uid",  "gid",   "cgroup", "result", "error"};

static_assert(static_cast<std::size_t>(EventKey::kError) + 1 == kEventKeys.size());

std::string_view key_name(EventKey key) {
  return kEventKeys[static_cast<std::size_t>(key)];
}

std::optional<EventKey> event_key(std::string_view key) {
  // By length, then one comparison: a key is looked up for every member of every event.
  auto is = [key](EventKey k) -> std::optional<EventKey> {
    if (key == key_name(k)) return k;
    return std::nullopt;
  };
  switch (key.size()) {
    case 3:
      switch (key[0]) {
        case 'p':
          return is(EventKey::kPid);
        case 'e':
          return is(EventKey::kExe);
        case 'u':
          return is(EventKey::kUid);
        case 'g':
          return is(EventKey::kGid);
        default:
          return std::nullopt;
      }
    case 4:
      switch (key[0]) {
        case 't':
          return is(EventKey::kTime);
        case 'h':
          return is(EventKey::kHost);
        case 'f':
          return is(EventKey::kFile);
        case 'p':
          return is(EventKey::kPath);
        default:
          return std::nullopt;
      }
    case 5:
      return key[0] == 'm' ? is(EventKey::kMount) : is(EventKey::kError);
    case 6:
      return key[0] == 'c' ? is(EventKey::kCgroup) : is(EventKey::kResult);
    case 8:
      return is(EventKey::kLeaseId);
    default:
      return std::nullopt;
  }
}

// One member's value, as either parser found it. JSON numbers keep nlohmann's three
// kinds (it reads a non-negative integer as unsigned, a negative one as signed).
struct EventValue {
  enum class Type : std::uint8_t { kAbsent, kNull, kString, kSigned, kUnsigned, kFloat, kOther };
  Type type = Type::kAbsent;
  std::int64_t signed_number = 0;
  std::uint64_t unsigned_number = 0;
  double float_number = 0;
  std::string text{};  // kString
};

struct EventMembers {
  std::array<EventValue, kEventKeys.size()> values{};
  EventValue& operator[](EventKey key) { return values[static_cast<std::size_t>(key)]; }
  const EventValue& operator[](EventKey key) const { return values[static_cast<std::size_t>(key)]; }
  void clear() {
    for (EventValue& v : values) v.type = EventValue::Type::kAbsent;
  }
};

std::string event_where(std::size_t index) {
  return "events[" + std::to_string(index) + "]";
}

sdk::Result<std::string> event_string(EventMembers& event, EventKey key, std::size_t index) {
  EventValue& v = event[key];
  if (v.type == EventValue::Type::kAbsent || v.type == EventValue::Type::kNull) {
    return std::string();
  }
  if (v.type != EventValue::Type::kString) {
    return sdk::invalid_argument(event_where(index) + "." + std::string(key_name(key)) +
                                 ": expected a string");
  }
  return std::move(v.text);
}

sdk::Result<std::int64_t> event_integer(const EventMembers& event, EventKey key,
                                        std::size_t index) {
  const EventValue& v = event[key];
  switch (v.type) {
    case EventValue::Type::kAbsent:
    case EventValue::Type::kNull:
      return -1;
    case EventValue::Type::kUnsigned:
      if (v.unsigned_number <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v.unsigned_number);
      }
      break;
    case EventValue::Type::kSigned:
      if (v.signed_number >= 0) return v.signed_number;
      break;
    default:
      break;
  }
  return sdk::invalid_argument(event_where(index) + "." + std::string(key_name(key)) +
                               ": expected a non-negative integer");
}

// "time": RFC 3339 text or unix seconds; absent or null is `now`.
sdk::Result<sdk::WallTime> event_time(const EventMembers& event, std::size_t index,
                                      sdk::WallTime now) {
  const EventValue& t = event[EventKey::kTime];
  double value = 0;
  switch (t.type) {
    case EventValue::Type::kAbsent:
    case EventValue::Type::kNull:
      return now;
    case EventValue::Type::kString: {
      auto parsed = parse_rfc3339(t.text);
      if (!parsed) return sdk::invalid_argument(event_where(index) + ".time: expected RFC 3339");
      return *parsed;
    }
    case EventValue::Type::kSigned:
      value = static_cast<double>(t.signed_number);
      break;
    case EventValue::Type::kUnsigned:
      value = static_cast<double>(t.unsigned_number);
      break;
    case EventValue::Type::kFloat:
      value = t.float_number;
      break;
    case EventValue::Type::kOther:
      return sdk::invalid_argument(event_where(index) + ".time: expected RFC 3339 or unix seconds");
  }
  // Up to the last second the clock's nanoseconds can hold (2262-04-11).
  if (!(value >= 0 && value < static_cast<double>(kLastUnixSecond))) {
    return sdk::invalid_argument(event_where(index) + ".time: expected RFC 3339 or unix seconds");
  }
  // Whole seconds and the fraction apart, so the nanoseconds keep their precision.
  const double whole = std::floor(value);
  return sdk::WallTime(std::chrono::duration_cast<sdk::WallTime::duration>(
      std::chrono::seconds(static_cast<std::int64_t>(whole)) +
      std::chrono::nanoseconds(std::llround((value - whole) * 1e9))));
}

// The one conversion of an event's members (strings are moved out of `event`). Errors
// name the event's index and the field, in the order the fields are checked here.
sdk::Result<AccessEvent> event_from(EventMembers& event, std::size_t index, sdk::WallTime now) {
  AccessEvent e;
  auto time = event_time(event, index, now);
  if (!time) return sdk::error(time.error());
  e.time = *time;
  struct Field {
    EventKey key;
    std::string* out;
  };
  for (Field f : {Field{EventKey::kHost, &e.host}, Field{EventKey::kMount, &e.mount},
                  Field{EventKey::kFile, &e.file}, Field{EventKey::kPath, &e.path},
                  Field{EventKey::kLeaseId, &e.lease_id}, Field{EventKey::kExe, &e.exe},
                  Field{EventKey::kCgroup, &e.cgroup}, Field{EventKey::kError, &e.error}}) {
    auto v = event_string(event, f.key, index);
    if (!v) return sdk::error(v.error());
    *f.out = std::move(*v);
  }
  for (auto [key, out] : {std::pair{EventKey::kPid, &e.pid}, std::pair{EventKey::kUid, &e.uid},
                          std::pair{EventKey::kGid, &e.gid}}) {
    auto v = event_integer(event, key, index);
    if (!v) return sdk::error(v.error());
    *out = *v;
  }
  auto result = event_string(event, EventKey::kResult, index);
  if (!result) return sdk::error(result.error());
  if (*result == "allowed") {
    e.result = AccessResult::kAllowed;
  } else if (*result == "denied") {
    e.result = AccessResult::kDenied;
  } else if (*result == "error") {
    e.result = AccessResult::kError;
  } else {
    return sdk::invalid_argument(event_where(index) +
                                 ".result: expected \"allowed\", \"denied\" or \"error\"");
  }
  if (auto valid = validate_access_event(e); !valid) {
    return sdk::error(valid.error().with_context(event_where(index)));
  }
  return e;
}

// An event object of a JSON tree, member by member.
EventMembers members_of(const json& item) {
  EventMembers event;
  for (const auto& [name, value] : item.items()) {
    auto key = event_key(name);
    if (!key) continue;
    EventValue& v = event[*key];
    switch (value.type()) {
      case json::value_t::null:
        v.type = EventValue::Type::kNull;
        break;
      case json::value_t::string:
        v.type = EventValue::Type::kString;
        v.text = value.get_ref<const std::string&>();
        break;
      case json::value_t::number_integer:
        v.type = EventValue::Type::kSigned;
        v.signed_number = value.get<std::int64_t>();
        break;
      case json::value_t::number_unsigned:
        v.type = EventValue::Type::kUnsigned;
        v.unsigned_number = value.get<std::uint64_t>();
        break;
      case json::value_t::number_float:
        v.type = EventValue::Type::kFloat;
        v.float_number = value.get<double>();
        break;
      default:
        v.type = EventValue::Type::kOther;
        break;
    }
  }
  return event;
}

}  // namespace

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
  for (const auto& item : list) {
    if (!item.is_object()) {
      return sdk::invalid_argument(event_where(out.size()) + ": expected an object");
    }
    EventMembers members = members_of(item);
    auto event = event_from(members, out.size(), now);
    if (!event) return sdk::error(event.error());
    out.push_back(std::move(*event));
  }
  return out;
}

namespace {

// Whether `text` holds a byte below 0x20 other than tab, newline and carriage return.
// Eight bytes at a time: the text is a whole batch of events.
bool has_control_bytes(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  auto control = [](unsigned char c) { return c < 0x20 && c != '\t' && c != '\n' && c != '\r'; };
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, text.data() + i, sizeof w);
    // Some byte of w is below 0x20 (exact for thresholds up to 0x80): look closer.
    if (((w - kOnes * 0x20) & ~w & kHighs) != 0) {
      for (std::size_t k = i; k < i + 8; ++k) {
        if (control(static_cast<unsigned char>(text[k]))) return true;
      }
    }
  }
  for (; i < text.size(); ++i) {
    if (control(static_cast<unsigned char>(text[i]))) return true;
  }
  return false;
}

// RapidJSON's SAX handler for try_parse_access_events: follows the one shape it takes
// ({"events":[{...},...]}) and answers false (parsing stops) at anything else. RapidJSON
// reads the text several times faster than nlohmann's lexer, which was the largest
// cost of an access event on the server. Where the two could read a body differently
// this handler declines it, so the tree parser (nlohmann) decides:
//   - numbers: both call a non-negative integer unsigned, a negative one signed, and
//     anything with a fraction, an exponent or beyond 64 bits a double (RawNumber
//     converts them, rounding exactly like strtod);
//   - strings and keys must be valid UTF-8 after unescaping: nlohmann refuses invalid
//     bytes and unpaired surrogates (\udc00), RapidJSON 1.1 lets the latter through.
class AccessEventsReader {
 public:
  // `expected`: about how many events the text holds (room is made for them at once).
  AccessEventsReader(sdk::WallTime now, std::size_t expected) : now_(now) {
    events_.reserve(std::min(expected, kMaxAccessEventsPerBatch));
  }

  // The events, once the parse succeeded.
  std::optional<std::vector<AccessEvent>> take() {
    if (!done_) return std::nullopt;
    return std::move(events_);
  }

  bool Null() { return value(EventValue::Type::kNull); }
  bool Bool(bool) { return value(EventValue::Type::kOther); }
  bool Int(int n) { return signed_number(n); }
  bool Int64(std::int64_t n) { return signed_number(n); }
  bool Uint(unsigned n) { return unsigned_number(n); }
  bool Uint64(std::uint64_t n) { return unsigned_number(n); }
  bool Double(double n) {
    if (!value(EventValue::Type::kFloat)) return false;
    if (current_ != nullptr) current_->float_number = n;
    return true;
  }
  // Numbers come as text (kParseNumbersAsStringsFlag) and are converted here, sorted as
  // RapidJSON and the tree parser sort them: an integer that fits 64 bits is signed when
  // negative, else unsigned; anything else is a double, rounded exactly (from_chars) as
  // the tree parser's strtod does. RapidJSON 1.1's own exact conversion passes 0 to
  // __builtin_clz for numbers such as 0e111 (undefined behaviour, found by
  // access_events_fuzz under UBSan). A double out of range declines the body.
  bool RawNumber(const char* text, rapidjson::SizeType size, bool) {
    const char* const end = text + size;
    if (std::string_view(text, size).find_first_of(".eE") == std::string_view::npos) {
      if (size > 0 && text[0] == '-') {
        std::int64_t n = 0;
        auto [at, ec] = std::from_chars(text, end, n);
        if (ec == std::errc() && at == end) return signed_number(n);
      } else {
        std::uint64_t n = 0;
        auto [at, ec] = std::from_chars(text, end, n);
        if (ec == std::errc() && at == end) return unsigned_number(n);
      }
    }
    double d = 0;
    auto [at, ec] = std::from_chars(text, end, d);
    return ec == std::errc() && at == end && Double(d);
  }
  bool String(const char* text, rapidjson::SizeType size, bool) {
    const std::string_view s(text, size);
    if (!is_valid_utf8(s) || !value(EventValue::Type::kString)) return false;
    if (current_ != nullptr) current_->text.assign(s);
    return true;
  }

  bool StartObject() {
    if (level_ == Level::kTop) {
      level_ = Level::kBody;
      return true;
    }
    // An event: only as an item of "events", and no more than a batch may carry.
    if (level_ != Level::kEvents || events_.size() == kMaxAccessEventsPerBatch) return false;
    members_.clear();
    current_ = nullptr;
    level_ = Level::kEvent;
    return true;
  }
  bool Key(const char* text, rapidjson::SizeType size, bool) {
    const std::string_view name(text, size);
    if (!is_valid_utf8(name)) return false;
    if (level_ == Level::kBody) {
      // "events", once; a body with other keys keeps them in the audit entries, so the
      // tree is built for it.
      if (name != "events" || seen_events_) return false;
      seen_events_ = true;
      return true;
    }
    auto key = event_key(name);
    current_ = key ? &members_[*key] : nullptr;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    if (level_ == Level::kBody) {
      level_ = Level::kTop;
      done_ = seen_events_;
      return true;
    }
    auto event = event_from(members_, events_.size(), now_);
    if (!event) return false;  // the tree's parse words the error
    events_.push_back(std::move(*event));
    level_ = Level::kEvents;
    return true;
  }
  bool StartArray() {
    if (level_ != Level::kBody) return false;
    level_ = Level::kEvents;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    level_ = Level::kBody;
    return true;
  }

 private:
  // Where the parser is: before the body, in the body's object, in "events", in an event.
  enum class Level : std::uint8_t { kTop, kBody, kEvents, kEvent };

  // A scalar value: only an event's member (ignored unless it is a known key).
  bool value(EventValue::Type type) {
    if (level_ != Level::kEvent) return false;
    if (current_ != nullptr) current_->type = type;
    return true;
  }
  bool signed_number(std::int64_t n) {
    if (!value(EventValue::Type::kSigned)) return false;
    if (current_ != nullptr) current_->signed_number = n;
    return true;
  }
  bool unsigned_number(std::uint64_t n) {
    if (!value(EventValue::Type::kUnsigned)) return false;
    if (current_ != nullptr) current_->unsigned_number = n;
    return true;
  }

  sdk::WallTime now_;
  Level level_ = Level::kTop;
  bool seen_events_ = false;
  bool done_ = false;
  std::vector<AccessEvent> events_{};
  EventMembers members_{};
  EventValue* current_ = nullptr;  // the member the next value is for; null: ignored
};

}  // namespace

std::optional<std::vector<AccessEvent>> try_parse_access_events(std::string_view body,
                                                                sdk::WallTime now) {
  // The text is parsed in place, in a copy that ends with a NUL as RapidJSON's in-situ
  // stream needs; a UTF-8 byte order mark is skipped, as the tree parser skips it.
  // Control bytes other than JSON's whitespace are declined up front: valid JSON has
  // none outside escapes, a NUL would end the copy early, and RapidJSON 1.1's SSE2 scan
  // of a string lets 0x1a-0x1f through.
  if (has_control_bytes(body)) return std::nullopt;
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);
  std::string text(body);
  // An event as a mount sends it is 200-300 bytes of text.
  AccessEventsReader handler(now, body.size() / 160);
  rapidjson::InsituStringStream stream(text.data());
  rapidjson::Reader reader;
  // No kParseValidateEncodingFlag: every string and key is checked after unescaping
  // (is_valid_utf8 in the handler), and a byte >= 0x80 outside a string is a syntax
  // error anyway; checking the raw text as well was 8% of the server's time per event.
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseIterativeFlag;
  if (reader.Parse<kFlags>(stream, handler).IsError()) return std::nullopt;
  return handler.take();
}

}  // namespace leasefs::backend::audit
