// `leasefs operator ...`: init, unseal, seal, key-status, rotate. With -storage FILE
// they act on a storage file directly (no server needed); talking to a running server
// arrives with the HTTP API (issue 3) and until then answers with a clear error.
#include <cstdio>

#include "backend/sdk/encoding.h"
#include "cli/cli.h"
#include "cli/local_store.h"
#include "cli/output.h"
#include "leasefs_version.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;

namespace {

constexpr const char* kNeedStorage =
    "no storage file given: pass -storage FILE (commands against a running server arrive "
    "with the HTTP API)";

struct OperatorFlags {
  std::string storage;
  Format format = Format::kTable;
  int shares = 5;
  int threshold = 3;
  std::vector<std::string> keys;
};

void add_storage_flag(CLI::App& cmd, OperatorFlags& f) {
  cmd.add_option("--storage", f.storage, "Act on this SQLite storage file directly");
}

Rows seal_rows(const backend::barrier::SealStatus& s) {
  Rows rows = {{"Seal Type", "shamir"},
               {"Initialized", s.initialized ? "true" : "false"},
               {"Sealed", s.sealed ? "true" : "false"},
               {"Total Shares", std::to_string(s.shares)},
               {"Threshold", std::to_string(s.threshold)}};
  if (s.sealed) {
    rows.emplace_back("Unseal Progress", std::to_string(s.progress) + "/" +
                                             std::to_string(s.threshold));
    rows.emplace_back("Unseal Nonce", s.nonce.empty() ? "n/a" : s.nonce);
  }
  rows.emplace_back("Version", LEASEFS_VERSION);
  rows.emplace_back("Storage Type", "sqlite");
  return rows;
}

nlohmann::json seal_json(const backend::barrier::SealStatus& s) {
  return {{"type", "shamir"},     {"initialized", s.initialized}, {"sealed", s.sealed},
          {"t", s.threshold},     {"n", s.shares},                {"progress", s.progress},
          {"nonce", s.nonce},     {"version", LEASEFS_VERSION},   {"storage_type", "sqlite"}};
}

Rows key_rows(const backend::barrier::KeyStatus& k) {
  return {{"Key Term", std::to_string(k.term)},
          {"Install Time", sdk::rfc3339(k.install_time)},
          {"Encryption Count", std::to_string(k.encryptions)}};
}

nlohmann::json key_json(const backend::barrier::KeyStatus& k) {
  return {{"term", k.term},
          {"install_time", sdk::rfc3339(k.install_time)},
          {"encryptions", k.encryptions}};
}

int run_init(const OperatorFlags& f) {
  if (f.storage.empty()) return fail(kNeedStorage);
  auto store = LocalStore::open(f.storage, /*create=*/true);
  if (!store) return fail(store.error());
  auto init = (*store)->seal().initialize(f.shares, f.threshold);
  if (!init) return fail(init.error());
  if (f.format == Format::kJson) {
    nlohmann::json b64 = nlohmann::json::array(), hex = nlohmann::json::array();
    for (const auto& k : init->keys) {
      b64.push_back(sdk::base64_encode(k.span()));
      hex.push_back(sdk::hex_encode(k.span()));
    }
    print_json({{"unseal_keys_b64", b64},
                {"unseal_keys_hex", hex},
                {"unseal_shares", f.shares},
                {"unseal_threshold", f.threshold}});
    return kExitOk;
  }
  for (std::size_t i = 0; i < init->keys.size(); ++i) {
    std::printf("Unseal Key %zu: %s\n", i + 1, sdk::base64_encode(init->keys[i].span()).c_str());
  }
  std::printf(
      "\nStore initialized with %d key shares and a key threshold of %d. Please securely\n"
      "distribute the key shares printed above. When the server is started, it must be\n"
      "unsealed with %d of these keys to work. They are shown only this once: if the\n"
      "store is sealed and too few of them remain, its data cannot be recovered.\n",
      f.shares, f.threshold, f.threshold);
  return kExitOk;
}

int run_unseal(const OperatorFlags& f) {
  if (f.storage.empty()) return fail(kNeedStorage);
  auto store = LocalStore::open(f.storage, /*create=*/false);
  if (!store) return fail(store.error());
  auto status = (*store)->unseal(f.keys);
  if (!status) return fail(status.error());
  if (f.format == Format::kJson) {
    print_json(seal_json(*status));
  } else {
    print_table(seal_rows(*status));
  }
  return kExitOk;
}

int run_key_status(const OperatorFlags& f, bool rotate) {
  if (f.storage.empty()) return fail(kNeedStorage);
  auto store = LocalStore::open(f.storage, /*create=*/false);
  if (!store) return fail(store.error());
  auto status = (*store)->unseal(f.keys);
  if (!status) return fail(status.error());
  auto keys = rotate ? (*store)->barrier().rotate() : (*store)->barrier().key_status();
  if (!keys) return fail(keys.error());
  if (f.format == Format::kJson) {
    print_json(key_json(*keys));
  } else if (rotate) {
    std::printf("Success! Rotated key\n\n");
    print_table(key_rows(*keys));
  } else {
    print_table(key_rows(*keys));
  }
  return kExitOk;
}

}  // namespace

void register_operator_commands(CLI::App& app, int& exit_code) {
  auto* op = app.add_subcommand("operator", "Initialize, unseal, seal and rotate the store");
  op->require_subcommand(1);
  auto flags = std::make_shared<OperatorFlags>();

  auto* init = op->add_subcommand(
      "init", "Initialize a new store: create its keys and print the unseal key shares");
  add_storage_flag(*init, *flags);
  add_format_flag(*init, flags->format);
  init->add_option("--key-shares", flags->shares, "Number of unseal key shares (1-255)")
      ->default_val(5);
  init->add_option("--key-threshold", flags->threshold,
                   "Shares needed to unseal (2-255, or 1 with one share)")
      ->default_val(3);
  init->callback([flags, &exit_code] { exit_code = run_init(*flags); });

  auto* unseal = op->add_subcommand(
      "unseal",
      "Give unseal key shares (as arguments, or on standard input one per line; prompted "
      "for without echo on a terminal)");
  add_storage_flag(*unseal, *flags);
  add_format_flag(*unseal, flags->format);
  unseal->add_option("keys", flags->keys, "Unseal key shares (hex or base64)");
  unseal->callback([flags, &exit_code] { exit_code = run_unseal(*flags); });

  auto* key_status = op->add_subcommand(
      "key-status", "Show the active encryption key term, install time and use count");
  add_storage_flag(*key_status, *flags);
  add_format_flag(*key_status, flags->format);
  key_status->add_option("keys", flags->keys, "Unseal key shares, when acting on a file");
  key_status->callback([flags, &exit_code] { exit_code = run_key_status(*flags, false); });

  auto* rotate = op->add_subcommand(
      "rotate", "Install a new encryption key term; data under old terms stays readable");
  add_storage_flag(*rotate, *flags);
  add_format_flag(*rotate, flags->format);
  rotate->add_option("keys", flags->keys, "Unseal key shares, when acting on a file");
  rotate->callback([flags, &exit_code] { exit_code = run_key_status(*flags, true); });

  auto* seal = op->add_subcommand("seal", "Seal a running server: it forgets every key");
  seal->callback([&exit_code] {
    exit_code = fail(
        "operator seal acts on a running server, which arrives with the HTTP API; a "
        "storage file is always sealed at rest");
  });
}

}  // namespace leasefs::cli
