// Table, field and JSON output in the shapes of Vault's CLI.
#include "cli/output.h"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

#include "backend/sdk/duration.h"

namespace leasefs::cli {

using nlohmann::json;

namespace {

constexpr std::string_view kGlue = "    ";

std::string dump(const json& value, int indent = -1) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

// Go's %q of one string: quoted, with quotes and backslashes escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Go's %q of a list of strings: ["a" "b"].
std::string quoted_list(const json& list) {
  std::string out = "[";
  if (list.is_array()) {
    bool first = true;
    for (const auto& item : list) {
      if (!first) out += " ";
      first = false;
      out += quoted(item.is_string() ? item.get<std::string>() : dump(item));
    }
  }
  return out + "]";
}

void print_raw(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  // Vault adds a newline only for a terminal, so `$(leasefs read -field=x ...)` and
  // pipes get the bare value.
  if (isatty(STDOUT_FILENO) == 1) std::fputc('\n', stdout);
}

}  // namespace

json json_member(const json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? json() : *it;
}

std::string json_string(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t json_int(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

bool json_bool(const json& object, const char* key) {
  if (!object.is_object()) return false;
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

void print_columns(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<std::vector<std::string>> table;
  table.reserve(rows.size() + 1);
  table.push_back(rows[0]);
  std::vector<std::string> underline;
  for (const auto& header : rows[0]) underline.emplace_back(header.size(), '-');
  table.push_back(underline);
  for (std::size_t i = 1; i < rows.size(); ++i) table.push_back(rows[i]);

  std::vector<std::size_t> widths;
  for (auto& row : table) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (row[c].empty()) row[c] = "n/a";
      if (widths.size() <= c) widths.push_back(0);
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  for (const auto& row : table) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) {
        line.append(widths[c] - row[c].size(), ' ');
        line += kGlue;
      }
    }
    out += line + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void print_table(const Rows& rows) {
  std::vector<std::vector<std::string>> table = {{"Key", "Value"}};
  for (const auto& [k, v] : rows) table.push_back({k, v});
  print_columns(table);
}

void print_json(const json& value) {
  std::printf("%s\n", dump(value, 2).c_str());
}

std::string format_value(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "<nil>";
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& item : value) {
        if (!first) out += " ";
        first = false;
        out += format_value(item);
      }
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, v] : value.items()) {
        if (!first) out += " ";
        first = false;
        out += k + ":" + format_value(v);
      }
      return out + "]";
    }
    default:
      return dump(value);
  }
}

std::string human_duration(std::int64_t seconds) {
  if (seconds == 0) return "0s";
  std::string s = backend::sdk::format_duration(std::chrono::seconds(seconds));
  // Go prints 1h0m0s; Vault's CLI trims it to 1h, and 1h0m30s to 1h30s.
  if (s.ends_with("m0s")) s.resize(s.size() - 2);
  if (auto at = s.find("h0m"); at != std::string::npos) s.erase(at + 1, 2);
  return s;
}

bool looks_like_duration(std::string_view k) {
  return k == "period" || k.ends_with("_period") || k == "ttl" || k.ends_with("_ttl") ||
         k == "duration" || k.ends_with("_duration") || k == "lease_max" || k == "ttl_max";
}

std::string format_field(std::string_view key, const json& value) {
  if (looks_like_duration(key)) {
    if (value.is_number_integer()) return human_duration(value.get<std::int64_t>());
    if (value.is_string()) {
      const auto& s = value.get_ref<const std::string&>();
      if (!s.empty() && s.size() < 18 &&
          std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return human_duration(std::stoll(s));
      }
    }
  }
  return format_value(value);
}

void print_warnings(const json& envelope) {
  if (!envelope.is_object()) return;
  auto it = envelope.find("warnings");
  if (it == envelope.end() || !it->is_array() || it->empty()) return;
  std::string out = "WARNING! The following warnings were returned from the server:\n\n";
  for (const auto& w : *it) out += "  * " + format_value(w) + "\n\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
}

void print_secret_table(const json& envelope) {
  if (!envelope.is_object()) return;
  print_warnings(envelope);
  Rows rows;
  std::int64_t lease_duration = json_int(envelope, "lease_duration");
  if (lease_duration > 0) {
    std::string lease_id = json_string(envelope, "lease_id");
    if (!lease_id.empty()) {
      rows.emplace_back("lease_id", lease_id);
      rows.emplace_back("lease_duration", human_duration(lease_duration));
      rows.emplace_back("lease_renewable", json_bool(envelope, "renewable") ? "true" : "false");
    } else {
      // KV's advisory ttl: no lease, only a hint how often to read again.
      rows.emplace_back("refresh_interval", human_duration(lease_duration));
    }
  }
  auto auth = envelope.find("auth");
  if (auth != envelope.end() && auth->is_object()) {
    const json& a = *auth;
    rows.emplace_back("token", json_string(a, "client_token"));
    rows.emplace_back("token_accessor", json_string(a, "accessor"));
    std::int64_t ttl = json_int(a, "lease_duration");
    rows.emplace_back("token_duration", ttl == 0 ? "\xE2\x88\x9E" : human_duration(ttl));
    rows.emplace_back("token_renewable", json_bool(a, "renewable") ? "true" : "false");
    rows.emplace_back("token_policies", quoted_list(json_member(a, "token_policies")));
    rows.emplace_back("identity_policies", quoted_list(json_member(a, "identity_policies")));
    rows.emplace_back("policies", quoted_list(json_member(a, "policies")));
    auto meta = a.find("metadata");
    if (meta != a.end() && meta->is_object()) {
      for (const auto& [k, v] : meta->items())
        rows.emplace_back("token_meta_" + k, format_value(v));
    }
  }
  auto data = envelope.find("data");
  if (data != envelope.end() && data->is_object()) {
    for (const auto& [k, v] : data->items()) rows.emplace_back(k, format_field(k, v));
  }
  if (!rows.empty()) print_table(rows);
}

void print_map_table(const json& map) {
  if (!map.is_object() || map.empty()) return;
  Rows rows;
  for (const auto& [k, v] : map.items()) rows.emplace_back(k, format_field(k, v));
  print_table(rows);
}

void print_keys(const json& keys) {
  std::vector<std::string> names;
  if (keys.is_array()) {
    for (const auto& k : keys) names.push_back(k.is_string() ? k.get<std::string>() : dump(k));
  }
  std::sort(names.begin(), names.end());
  std::vector<std::vector<std::string>> rows = {{"Keys"}};
  for (auto& n : names) rows.push_back({std::move(n)});
  print_columns(rows);
}

int output_secret(const json& envelope, Format format) {
  if (format == Format::kJson) {
    print_json(envelope);
  } else {
    print_secret_table(envelope);
  }
  return 0;
}

void print_seal_status(const json& status, Format format) {
  if (format == Format::kJson) {
    print_json(status);
    return;
  }
  auto yes_no = [&status](const char* key) { return json_bool(status, key) ? "true" : "false"; };
  const bool sealed = json_bool(status, "sealed");
  const std::int64_t threshold = json_int(status, "t");
  Rows rows = {{"Seal Type", json_string(status, "type")},
               {"Initialized", yes_no("initialized")},
               {"Sealed", yes_no("sealed")},
               {"Total Shares", std::to_string(json_int(status, "n"))},
               {"Threshold", std::to_string(threshold)}};
  if (sealed) {
    rows.emplace_back("Unseal Progress", std::to_string(json_int(status, "progress")) + "/" +
                                             std::to_string(threshold));
    rows.emplace_back("Unseal Nonce", json_string(status, "nonce"));
  }
  rows.emplace_back("Version", json_string(status, "version"));
  rows.emplace_back("Build Date", json_string(status, "build_date"));
  rows.emplace_back("Storage Type", json_string(status, "storage_type"));
  std::string cluster_name = json_string(status, "cluster_name");
  std::string cluster_id = json_string(status, "cluster_id");
  if (!cluster_name.empty() && !cluster_id.empty()) {
    rows.emplace_back("Cluster Name", cluster_name);
    rows.emplace_back("Cluster ID", cluster_id);
  }
  rows.emplace_back("HA Enabled", yes_no("ha_enabled"));
  print_table(rows);
}

std::string section_header(std::string_view title, std::size_t width) {
  std::int64_t signs =
      static_cast<std::int64_t>(width) - static_cast<std::int64_t>(title.size() + 2);
  if (signs <= 0) signs = 4;
  if (signs % 2 != 0) ++signs;
  std::string side(static_cast<std::size_t>(signs / 2), '=');
  return side + " " + std::string(title) + " " + side;
}

std::string section_header_for(std::string_view title, const json& map) {
  std::size_t widest = 0;
  if (map.is_object()) {
    for (const auto& [k, v] : map.items()) widest = std::max(widest, k.size());
  }
  // The key column, four spaces of glue, and "Value".
  return section_header(title, widest + 4 + 5);
}

int print_field(const json& value, std::string_view field, Format format, bool is_envelope) {
  const std::string name(field);
  json found;
  auto from = [&found](const json& object, const std::string& key) {
    if (!object.is_object()) return;
    auto it = object.find(key);
    if (it != object.end()) found = *it;
  };
  if (!is_envelope) {
    from(value, name);
  } else {
    json data = json_member(value, "data");
    json auth = json_member(value, "auth");
    if (auth.is_object()) {
      static const std::vector<std::pair<std::string, std::string>> kAuthFields = {
          {"token", "client_token"},
          {"token_accessor", "accessor"},
          {"token_duration", "lease_duration"},
          {"token_renewable", "renewable"},
          {"token_policies", "token_policies"},
          {"identity_policies", "identity_policies"},
          {"policies", "policies"}};
      bool matched = false;
      for (const auto& [flag_name, key] : kAuthFields) {
        if (name == flag_name) {
          from(auth, key);
          matched = true;
        }
      }
      if (!matched) from(data, name);
    } else if (name == "lease_duration" || name == "refresh_interval") {
      from(value, "lease_duration");
    } else if (name == "lease_id" || name == "request_id" || name == "renewable") {
      from(value, name);
    } else if (name == "data") {
      from(data, "data");
      if (found.is_null()) found = data;
    } else {
      from(data, name);
    }
  }
  if (found.is_null()) {
    std::fprintf(stderr, "leasefs: Field \"%s\" not present in secret\n", name.c_str());
    return 1;
  }
  print_raw(format == Format::kJson ? dump(found, 2) : format_value(found));
  return 0;
}

}  // namespace leasefs::cli
