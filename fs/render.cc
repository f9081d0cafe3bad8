// File rendering; see render.h.
#include "fs/render.h"

namespace leasefs::fs {

using nlohmann::json;

namespace {

// Strings as they are, anything else as compact JSON.
std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool env_key_ok(const std::string& key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0])) != 0) return false;
  for (unsigned char c : key) {
    if (std::isalnum(c) == 0 && c != '_') return false;
  }
  return true;
}

// A value as a POSIX-shell and dotenv compatible word: bare when it is plain, else in
// double quotes with ", \, $, ` and newlines escaped.
std::string env_value(const std::string& v) {
  bool plain = !v.empty();
  for (unsigned char c : v) {
    if (std::isalnum(c) == 0 &&
        std::string_view("_-./:@+,=%").find(static_cast<char>(c)) == std::string_view::npos) {
      plain = false;
      break;
    }
  }
  if (plain) return v;
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '$':
        out += "\\$";
        break;
      case '`':
        out += "\\`";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

sdk::Result<json> secret_payload(const json& envelope) {
  if (!envelope.is_object()) return sdk::invalid_argument("the response is not a JSON object");
  if (auto auth = envelope.find("auth"); auth != envelope.end() && auth->is_object()) {
    return *auth;
  }
  auto data = envelope.find("data");
  if (data == envelope.end() || !data->is_object()) {
    return sdk::invalid_argument("the response has no data");
  }
  // KV v2: {"data": {"data": {...}, "metadata": {...}}}
  if (auto inner = data->find("data"); inner != data->end() && inner->is_object() &&
                                       data->contains("metadata") && data->size() == 2) {
    return *inner;
  }
  return *data;
}

sdk::Result<sdk::SecureBuffer> render_file(const FileSpec& spec, const json& payload) {
  std::string out;
  switch (spec.format) {
    case Format::kField: {
      auto it = payload.find(spec.field);
      if (it == payload.end()) {
        return sdk::not_found("the secret has no field \"" + spec.field + "\"");
      }
      out = value_text(*it);
      break;
    }
    case Format::kJson:
      out = payload.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
      break;
    case Format::kEnv:
      for (const auto& [key, value] : payload.items()) {
        if (!env_key_ok(key)) {
          sdk::wipe(out.data(), out.size());
          return sdk::invalid_argument("field \"" + key + "\" is not a valid environment name");
        }
        std::string line = key + "=" + env_value(value_text(value)) + "\n";
        out += line;
        sdk::wipe(line.data(), line.size());
      }
      break;
    case Format::kTemplate: {
      const std::string& t = spec.tmpl;
      std::size_t pos = 0;
      while (pos < t.size()) {
        std::size_t open = t.find("{{", pos);
        if (open == std::string::npos) {
          out.append(t, pos);
          break;
        }
        out.append(t, pos, open - pos);
        std::size_t close = t.find("}}", open + 2);
        if (close == std::string::npos) {
          sdk::wipe(out.data(), out.size());
          return sdk::invalid_argument("the template has \"{{\" without \"}}\"");
        }
        std::string name = t.substr(open + 2, close - open - 2);
        auto first = name.find_first_not_of(' ');
        auto last = name.find_last_not_of(' ');
        name = first == std::string::npos ? "" : name.substr(first, last - first + 1);
        auto it = payload.find(name);
        if (it == payload.end()) {
          sdk::wipe(out.data(), out.size());
          return sdk::not_found("the secret has no field \"" + name + "\" (used by the template)");
        }
        std::string v = value_text(*it);
        out += v;
        sdk::wipe(v.data(), v.size());
        pos = close + 2;
      }
      break;
    }
  }
  auto buffer = sdk::SecureBuffer::copy_of(std::string_view(out));
  sdk::wipe(out.data(), out.size());
  return buffer;
}

}  // namespace leasefs::fs
