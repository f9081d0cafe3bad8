// Conversion and checking of request fields against a path's schema.
#include "backend/sdk/fields.h"

#include <charconv>

#include "backend/sdk/duration.h"

namespace leasefs::backend::sdk {
namespace {

std::unexpected<Status> field_error(const std::string& name, std::string_view want) {
  return invalid_argument("field \"" + name + "\": " + std::string(want));
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

const nlohmann::json& null_json() {
  static const nlohmann::json kNull;
  return kNull;
}

}  // namespace

Result<nlohmann::json> convert_field(const std::string& name, FieldType type,
                                     const nlohmann::json& v) {
  using nlohmann::json;
  switch (type) {
    case FieldType::kAny:
      return v;
    case FieldType::kString:
      if (v.is_string()) return v;
      if (v.is_number() || v.is_boolean()) return json(v.dump());
      return field_error(name, "want a string");
    case FieldType::kInt: {
      if (v.is_number_integer() || v.is_number_unsigned()) {
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX) {
          return field_error(name, "integer out of range");
        }
        return json(v.get<std::int64_t>());
      }
      if (v.is_number_float()) {
        double d = v.get<double>();
        // Range first: converting a double outside int64 (1e300) is undefined.
        if (!(d >= -0x1p63 && d < 0x1p63) ||
            d != static_cast<double>(static_cast<std::int64_t>(d))) {
          return field_error(name, "want an integer");
        }
        return json(static_cast<std::int64_t>(d));
      }
      if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        std::int64_t n = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return json(n);
      }
      return field_error(name, "want an integer");
    }
    case FieldType::kBool:
      if (v.is_boolean()) return v;
      if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (s == "true" || s == "1" || s == "True" || s == "TRUE") return json(true);
        if (s == "false" || s == "0" || s == "False" || s == "FALSE" || s.empty()) {
          return json(false);
        }
      }
      if (v.is_number_integer()) return json(v.get<std::int64_t>() != 0);
      return field_error(name, "want true or false");
    case FieldType::kDuration: {
      auto d = duration_from_json(v);
      if (!d) return error(d.error().with_context("field \"" + name + "\""));
      return json(whole_seconds(*d));
    }
    case FieldType::kStringList:
    case FieldType::kCommaStringList: {
      json out = json::array();
      if (v.is_array()) {
        for (const auto& item : v) {
          if (item.is_string()) {
            out.push_back(item);
          } else if (item.is_number() || item.is_boolean()) {
            out.push_back(item.dump());
          } else {
            return field_error(name, "want a list of strings");
          }
        }
        return out;
      }
      if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        if (type == FieldType::kStringList) {
          out.push_back(s);
          return out;
        }
        std::string_view rest = s;
        while (!rest.empty()) {
          auto comma = rest.find(',');
          auto item = trim(rest.substr(0, comma));
          if (!item.empty()) out.push_back(item);
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        return out;
      }
      if (v.is_null()) return out;
      return field_error(name, "want a list of strings");
    }
    case FieldType::kMap:
      if (v.is_object()) return v;
      if (v.is_string()) {
        // Clients (and the CLI's key=value form) sometimes send an object as JSON text.
        auto parsed = json::parse(v.get_ref<const std::string&>(), nullptr, false);
        if (!parsed.is_discarded() && parsed.is_object()) return parsed;
      }
      return field_error(name, "want a JSON object");
    case FieldType::kStringMap: {
      json out = json::object();
      if (v.is_object()) {
        for (const auto& [k, item] : v.items()) {
          if (!item.is_string()) return field_error(name, "want an object of strings");
          out[k] = item;
        }
        return out;
      }
      if (v.is_array()) {
        for (const auto& item : v) {
          if (!item.is_string()) return field_error(name, "want [\"key=value\", ...]");
          const auto& s = item.get_ref<const std::string&>();
          auto eq = s.find('=');
          if (eq == std::string::npos || eq == 0) {
            return field_error(name, "want [\"key=value\", ...]");
          }
          out[s.substr(0, eq)] = s.substr(eq + 1);
        }
        return out;
      }
      if (v.is_string()) {
        auto parsed = json::parse(v.get_ref<const std::string&>(), nullptr, false);
        if (!parsed.is_discarded() && parsed.is_object()) {
          return convert_field(name, type, parsed);
        }
      }
      return field_error(name, "want an object of strings");
    }
  }
  return field_error(name, "unknown field type");
}

Result<FieldData> FieldData::parse(const std::vector<FieldSpec>& schema,
                                   const nlohmann::json& body,
                                   const std::map<std::string, std::string>& captures) {
  if (!body.is_null() && !body.is_object()) {
    return invalid_argument("request body must be a JSON object");
  }
  FieldData fd;
  std::map<std::string, const FieldSpec*> by_name;
  for (const auto& spec : schema) {
    by_name[spec.name] = &spec;
    if (!spec.default_value.is_null()) {
      auto def = convert_field(spec.name, spec.type, spec.default_value);
      if (!def) return internal_error("bad default for " + spec.name);
      fd.defaults_[spec.name] = std::move(*def);
    }
  }
  if (body.is_object()) {
    for (const auto& [key, value] : body.items()) {
      if (captures.contains(key)) continue;
      auto it = by_name.find(key);
      if (it == by_name.end()) {
        fd.unknown_.push_back(key);
        continue;
      }
      if (value.is_null()) continue;  // null means "not given", as in Vault
      auto converted = convert_field(key, it->second->type, value);
      if (!converted) return error(converted.error());
      fd.values_[key] = std::move(*converted);
    }
  }
  for (const auto& [key, value] : captures) {
    auto it = by_name.find(key);
    FieldType type = it == by_name.end() ? FieldType::kString : it->second->type;
    auto converted = convert_field(key, type, nlohmann::json(value));
    if (!converted) return error(converted.error());
    fd.values_[key] = std::move(*converted);
  }
  for (const auto& spec : schema) {
    if (spec.required && !fd.values_.contains(spec.name)) {
      return invalid_argument("missing required field \"" + spec.name + "\"");
    }
  }
  return fd;
}

const nlohmann::json& FieldData::raw(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  if (auto it = defaults_.find(name); it != defaults_.end()) return it->second;
  return null_json();
}

std::string FieldData::string(const std::string& name) const {
  const auto& v = raw(name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::int64_t FieldData::integer(const std::string& name) const {
  const auto& v = raw(name);
  return v.is_number() ? v.get<std::int64_t>() : 0;
}

bool FieldData::boolean(const std::string& name) const {
  const auto& v = raw(name);
  return v.is_boolean() && v.get<bool>();
}

Duration FieldData::duration(const std::string& name) const {
  return std::chrono::seconds(integer(name));
}

std::vector<std::string> FieldData::strings(const std::string& name) const {
  const auto& v = raw(name);
  return v.is_array() ? v.get<std::vector<std::string>>() : std::vector<std::string>{};
}

nlohmann::json FieldData::map(const std::string& name) const {
  const auto& v = raw(name);
  return v.is_object() ? v : nlohmann::json::object();
}

std::map<std::string, std::string> FieldData::string_map(const std::string& name) const {
  const auto& v = raw(name);
  return v.is_object() ? v.get<std::map<std::string, std::string>>()
                       : std::map<std::string, std::string>{};
}

}  // namespace leasefs::backend::sdk
