// Table and JSON output.
#include "cli/output.h"

#include <algorithm>
#include <cstdio>

namespace leasefs::cli {

void print_table(const Rows& rows) {
  std::size_t width = 3;
  for (const auto& [k, v] : rows) width = std::max(width, k.size());
  auto line = [&](const std::string& k, const std::string& v) {
    std::printf("%-*s    %s\n", static_cast<int>(width), k.c_str(), v.c_str());
  };
  line("Key", "Value");
  line("---", "-----");
  for (const auto& [k, v] : rows) line(k, v);
}

void print_json(const nlohmann::json& value) {
  std::printf("%s\n", value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

}  // namespace leasefs::cli
