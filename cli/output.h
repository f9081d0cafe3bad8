// Printing results the way Vault's CLI does: a two-column Key/Value table, or JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace leasefs::cli {

using Rows = std::vector<std::pair<std::string, std::string>>;

// "Key  Value" header, dashes, then one aligned row per pair, on stdout.
void print_table(const Rows& rows);
// Pretty-printed JSON on stdout (invalid UTF-8 replaced, never an exception).
void print_json(const nlohmann::json& value);

}  // namespace leasefs::cli
