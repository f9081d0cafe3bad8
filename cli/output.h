// Printing results the way Vault's CLI does: two-column Key/Value tables, column tables,
// lists, the "== Title ==" section headers of `kv get`, single raw fields, or JSON.
// Values are shown as Go's %v would show them (lists as [a b], maps as map[k:v], null
// as <nil>), empty cells as n/a, and fields that look like TTLs as durations ("1h").
#pragma once

#include <utility>

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace leasefs::cli {

enum class Format { kTable, kJson };

using Rows = std::vector<std::pair<std::string, std::string>>;

// "Key  Value" header, dashes, then one aligned row per pair, on stdout. Empty values
// are shown as n/a.
void print_table(const Rows& rows);
// A table with a header row: columns aligned and joined by four spaces, a row of
// dashes under each header, empty cells shown as n/a.
void print_columns(const std::vector<std::vector<std::string>>& rows);
// Pretty-printed JSON on stdout (invalid UTF-8 replaced, never an exception).
void print_json(const nlohmann::json& value);

// Typed members of a JSON object, with a fallback when the object, the key or the type
// is missing: never an exception.
nlohmann::json json_member(const nlohmann::json& object, const std::string& key);
std::string json_string(const nlohmann::json& object, const char* key);
std::int64_t json_int(const nlohmann::json& object, const char* key);
bool json_bool(const nlohmann::json& object, const char* key);

// A JSON value as Go's fmt %v shows the decoded value.
std::string format_value(const nlohmann::json& value);
// Seconds as Vault's CLI shows a TTL: 3600 -> "1h", 90 -> "1m30s", 0 -> "0s".
std::string human_duration(std::int64_t seconds);
// Whether Vault's CLI would show the field named `key` as a duration (ttl, *_ttl,
// period, *_period, duration, *_duration, lease_max, ttl_max).
bool looks_like_duration(std::string_view key);
// format_value(), except that a whole number of seconds under a TTL-like key becomes a
// duration.
std::string format_field(std::string_view key, const nlohmann::json& value);

// The response envelope as Vault's table formatter shows a secret: warnings on stderr,
// then lease rows, token rows (for an auth block) and the sorted data fields. Prints
// nothing when there is nothing to show.
void print_secret_table(const nlohmann::json& envelope);
// A JSON object as a sorted Key/Value table (nothing for an empty or non-object value).
void print_map_table(const nlohmann::json& map);
// A LIST response's keys, sorted, under a "Keys" header.
void print_keys(const nlohmann::json& keys);
// "WARNING! ..." and the envelope's warnings, on stderr, when there are any.
void print_warnings(const nlohmann::json& envelope);
// The envelope as a table or as JSON; returns the exit code (always 0).
int output_secret(const nlohmann::json& envelope, Format format);

// A server's seal status (the sys/seal-status body, plus "ha_enabled") as Vault's
// `status` shows it: the Seal Type ... HA Enabled table, or the JSON as given.
void print_seal_status(const nlohmann::json& status, Format format);

// Vault's padEqualSigns: "== Secret Path ==" padded to about `width` characters.
std::string section_header(std::string_view title, std::size_t width);
// Vault's getHeaderForMap: a section header as wide as the table of `map` below it.
std::string section_header_for(std::string_view title, const nlohmann::json& map);

// Prints one field of a response envelope (`is_envelope`) or of a plain object, as
// Vault's -field does: token_* names pick from the auth block, lease_* from the
// envelope, anything else from data. Table format prints the raw value, JSON format
// its JSON; a newline follows only when stdout is a terminal. Returns 0, or 1 with
// "Field "x" not present in secret" on stderr.
int print_field(const nlohmann::json& value, std::string_view field, Format format,
                bool is_envelope = true);

}  // namespace leasefs::cli
