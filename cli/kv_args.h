// The key=value arguments of `write`, `kv put`, `login` and friends, read the way Vault's
// CLI reads them (its kv-builder): "k=v" sets a string; "k=@file" takes the file's
// bytes; "k=-" takes all of standard input; "k=\@x" is the literal "@x"; a key given
// twice becomes a list; a lone "-" merges a JSON object read from standard input and a
// lone "@file" merges a JSON object from the file. Standard input is read at most once.
#pragma once

#include <istream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/sdk/status.h"

namespace leasefs::cli {

// Builds the request object from `args`, reading `in` for "-" forms. Errors
// (invalid_argument) name the argument's key or file, never its value: a missing "=",
// an unreadable file, stdin read twice, JSON that is not an object.
backend::sdk::Result<nlohmann::json> parse_kv_args(const std::vector<std::string>& args,
                                                   std::istream& in);

// "k=v" flags such as -metadata and -options: every entry must have a key and "=";
// the last one of a key wins. Errors name the flag.
backend::sdk::Result<std::map<std::string, std::string>> parse_kv_flags(
    const std::vector<std::string>& entries, const std::string& flag);

}  // namespace leasefs::cli
