// Readers of engines' stored JSON (see stored_json.h).
#include "backend/sdk/stored_json.h"

namespace leasefs::backend::sdk {

using nlohmann::json;

Result<json> parse_stored_object(std::string_view engine, std::string_view key,
                                 std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return error(Code::kDataLoss, std::string(engine) + ": stored value at \"" + std::string(key) +
                                      "\" is not valid");
  }
  return j;
}

std::string get_string(const json& j, const char* key, std::string fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::vector<std::string> get_strings(const json& j, const char* key,
                                     std::vector<std::string> fallback) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return fallback;
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::int64_t get_int(const json& j, const char* key, std::int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number_unsigned()) return static_cast<std::int64_t>(it->get<std::uint64_t>());
  if (it->is_number_integer()) return it->get<std::int64_t>();
  return fallback;
}

bool get_bool(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::map<std::string, std::string> get_string_map(const json& j, const char* key) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return out;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace leasefs::backend::sdk
