// Test helper: every key and value of a Storage, by walking its one-level listing.
#pragma once

#include <map>
#include <string>

#include "backend/sdk/storage.h"

namespace leasefs::testing {

inline void dump_into(backend::sdk::Storage& storage, const std::string& prefix,
                      std::map<std::string, std::string>& out) {
  auto names = storage.list(prefix);
  if (!names) return;
  for (const auto& name : *names) {
    std::string key = prefix + name;
    if (!name.empty() && name.back() == '/') {
      dump_into(storage, key, out);
    } else if (auto value = storage.get(key); value && value->has_value()) {
      out[key] = **value;
    }
  }
}

inline std::map<std::string, std::string> dump(backend::sdk::Storage& storage) {
  std::map<std::string, std::string> out;
  dump_into(storage, "", out);
  return out;
}

}  // namespace leasefs::testing
