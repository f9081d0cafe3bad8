// key=value argument parsing (Vault's kv-builder rules).
#include "cli/kv_args.h"

#include <fstream>
#include <iterator>
#include <sstream>

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxInput = 32u << 20;  // the server's body limit

sdk::Result<std::string> slurp_stream(std::istream& in, const std::string& what) {
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxInput) return sdk::invalid_argument(what + " is larger than 32 MiB");
  }
  return text;
}

sdk::Result<std::string> slurp_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return sdk::invalid_argument("cannot read file " + path);
  return slurp_stream(in, "file " + path);
}

// Merges a JSON object (from stdin or a file) into `out`.
sdk::Result<void> merge_json(const std::string& text, const std::string& what, json& out) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return sdk::invalid_argument(what + " is not valid JSON");
  if (!doc.is_object()) return sdk::invalid_argument(what + " must hold a JSON object");
  for (auto& [k, v] : doc.items()) out[k] = std::move(v);
  return {};
}

}  // namespace

sdk::Result<json> parse_kv_args(const std::vector<std::string>& args, std::istream& in) {
  json out = json::object();
  bool stdin_used = false;
  auto take_stdin = [&]() -> sdk::Result<std::string> {
    if (stdin_used) return sdk::invalid_argument("standard input can be read only once");
    stdin_used = true;
    return slurp_stream(in, "standard input");
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.empty()) continue;
    auto eq = arg.find('=');
    if (eq == std::string::npos) {
      if (arg == "-") {
        auto text = take_stdin();
        if (!text) return sdk::error(text.error());
        LEASEFS_TRY(merge_json(*text, "standard input", out));
        continue;
      }
      if (arg[0] == '@') {
        auto text = slurp_file(arg.substr(1));
        if (!text) return sdk::error(text.error());
        LEASEFS_TRY(merge_json(*text, "file " + arg.substr(1), out));
        continue;
      }
      // Only the key part is shown: the argument may be a secret typed without "=".
      return sdk::invalid_argument("argument " + std::to_string(i + 1) +
                                   ": format must be key=value");
    }
    std::string key = arg.substr(0, eq);
    std::string value = arg.substr(eq + 1);
    if (key.empty()) return sdk::invalid_argument("an argument has an empty key (=value)");
    if (!value.empty() && value[0] == '@') {
      auto text = slurp_file(value.substr(1));
      if (!text) return sdk::error(text.error().with_context(key));
      value = std::move(*text);
    } else if (value.size() >= 2 && value[0] == '\\' && value[1] == '@') {
      value.erase(0, 1);
    } else if (value == "-") {
      auto text = take_stdin();
      if (!text) return sdk::error(text.error().with_context(key));
      value = std::move(*text);
    }
    auto existing = out.find(key);
    if (existing == out.end()) {
      out[key] = std::move(value);
    } else if (existing->is_array()) {
      existing->push_back(std::move(value));
    } else {
      json list = json::array({*existing});
      list.push_back(std::move(value));
      *existing = std::move(list);
    }
  }
  return out;
}

sdk::Result<std::map<std::string, std::string>> parse_kv_flags(
    const std::vector<std::string>& entries, const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const auto& entry : entries) {
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return sdk::invalid_argument("-" + flag + ": want key=value");
    }
    out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

}  // namespace leasefs::cli
