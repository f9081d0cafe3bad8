// `leasefs operator ...`: init, unseal, seal, key-status, rotate. Without -storage they
// talk to a running server (sys/init, sys/unseal, sys/seal, sys/key-status, sys/rotate)
// as Vault's `vault operator` does; with -storage FILE, init, unseal, key-status and
// rotate act on a storage file directly, with no server (before the first start, or to
// check a set of key shares).
#include <cstdio>
#include <functional>
#include <iostream>

#include <unistd.h>

#include "backend/core/core.h"
#include "backend/sdk/clock.h"
#include "backend/sdk/encoding.h"
#include "backend/sdk/random.h"
#include "backend/sdk/secure_buffer.h"
#include "cli/cli.h"
#include "cli/local_store.h"
#include "cli/output.h"
#include "leasefs_version.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;

namespace {

struct OperatorFlags {
  CommonFlags common{};
  std::string storage{};
  int shares = 5;
  int threshold = 3;
  std::vector<std::string> keys{};
  bool reset = false;
  bool status_only = false;
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
    rows.emplace_back("Unseal Progress",
                      std::to_string(s.progress) + "/" + std::to_string(s.threshold));
    rows.emplace_back("Unseal Nonce", s.nonce.empty() ? "n/a" : s.nonce);
  }
  rows.emplace_back("Version", LEASEFS_VERSION);
  rows.emplace_back("Storage Type", "sqlite");
  return rows;
}

nlohmann::json seal_json(const backend::barrier::SealStatus& s) {
  return {{"type", "shamir"},        {"initialized", s.initialized},
          {"sealed", s.sealed},      {"t", s.threshold},
          {"n", s.shares},           {"progress", s.progress},
          {"nonce", s.nonce},        {"version", LEASEFS_VERSION},
          {"storage_type", "sqlite"}};
}

nlohmann::json key_json(const backend::barrier::KeyStatus& k) {
  return {{"term", k.term},
          {"install_time", sdk::rfc3339(k.install_time)},
          {"encryptions", k.encryptions}};
}

// The key status table, from the JSON form (the server's, or key_json()).
Rows key_rows(const nlohmann::json& k) {
  return {{"Key Term", std::to_string(json_int(k, "term"))},
          {"Install Time", json_string(k, "install_time")},
          {"Encryption Count", std::to_string(json_int(k, "encryptions"))}};
}

int run_local_init(const OperatorFlags& f) {
  if (f.status_only) return usage_error("-status asks a server; it does not go with -storage");
  auto store = LocalStore::open(f.storage, /*create=*/true);
  if (!store) return fail(store.error());
  // The same initialization as sys/init on a server: keys, the built-in mounts, the
  // default policy and a root token, so the store a server later opens can be used.
  backend::core::CoreOptions options;
  options.physical = &(*store)->physical();
  options.clock = &sdk::SystemClock::instance();
  options.random = &sdk::SystemRandom::instance();
  options.storage_type = "sqlite";
  backend::core::Core core(options);
  auto init = core.initialize(f.shares, f.threshold);
  if (!init) return fail(init.error());
  if (f.common.format == Format::kJson) {
    nlohmann::json b64 = nlohmann::json::array(), hex = nlohmann::json::array();
    for (const auto& k : init->keys) {
      b64.push_back(sdk::base64_encode(k.span()));
      hex.push_back(sdk::hex_encode(k.span()));
    }
    print_json({{"unseal_keys_b64", b64},
                {"unseal_keys_hex", hex},
                {"unseal_shares", f.shares},
                {"unseal_threshold", f.threshold},
                {"root_token", init->root_token}});
    return kExitOk;
  }
  for (std::size_t i = 0; i < init->keys.size(); ++i) {
    std::printf("Unseal Key %zu: %s\n", i + 1, sdk::base64_encode(init->keys[i].span()).c_str());
  }
  std::printf("\nInitial Root Token: %s\n", init->root_token.c_str());
  std::printf(
      "\nStore initialized with %d key shares and a key threshold of %d. Please securely\n"
      "distribute the key shares printed above. When the server is started, it must be\n"
      "unsealed with %d of these keys to work. They are shown only this once: if the\n"
      "store is sealed and too few of them remain, its data cannot be recovered.\n",
      f.shares, f.threshold, f.threshold);
  return kExitOk;
}

int run_local_unseal(const OperatorFlags& f) {
  if (f.reset) return usage_error("-reset acts on a server; it does not go with -storage");
  auto store = LocalStore::open(f.storage, /*create=*/false);
  if (!store) return fail(store.error());
  auto status = (*store)->unseal(f.keys);
  if (!status) return fail(status.error());
  if (f.common.format == Format::kJson) {
    print_json(seal_json(*status));
  } else {
    print_table(seal_rows(*status));
  }
  return kExitOk;
}

int run_local_key_status(const OperatorFlags& f, bool rotate) {
  auto store = LocalStore::open(f.storage, /*create=*/false);
  if (!store) return fail(store.error());
  auto status = (*store)->unseal(f.keys);
  if (!status) return fail(status.error());
  auto keys = rotate ? (*store)->barrier().rotate() : (*store)->barrier().key_status();
  if (!keys) return fail(keys.error());
  if (f.common.format == Format::kJson) {
    print_json(key_json(*keys));
  } else if (rotate) {
    std::printf("Success! Rotated key\n\n");
    print_table(key_rows(key_json(*keys)));
  } else {
    print_table(key_rows(key_json(*keys)));
  }
  return kExitOk;
}

// sys/key-status answers an envelope whose data holds the fields (Vault also copies them
// to the top level); this reads either form.
nlohmann::json key_status_fields(const nlohmann::json& body) {
  nlohmann::json data = json_member(body, "data");
  return data.is_object() ? data : body;
}

int run_server_init(const OperatorFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  if (f.status_only) {
    auto reply = (*session)->send("GET", "sys/init", nullptr, {}, /*with_token=*/false);
    if (!reply) return fail("Error checking init status", reply.error());
    if (reply->status != 200) return fail("Error checking init status", response_error(*reply));
    if (json_bool(reply->body, "initialized")) {
      std::printf("Vault is initialized\n");
      return kExitOk;
    }
    std::printf("Vault is not initialized\n");
    return kExitNoValue;
  }
  nlohmann::json body = {{"secret_shares", f.shares}, {"secret_threshold", f.threshold}};
  auto reply = (*session)->send("PUT", "sys/init", body, {}, /*with_token=*/false);
  if (!reply) return fail("Error initializing", reply.error());
  if (reply->status != 200) return fail("Error initializing", response_error(*reply));
  nlohmann::json hex = json_member(reply->body, "keys");
  nlohmann::json b64 = json_member(reply->body, "keys_base64");
  std::string root_token = json_string(reply->body, "root_token");
  if (!hex.is_array() || !b64.is_array() || root_token.empty()) {
    return fail("Error initializing: the server's answer has no keys or root token");
  }
  if (f.common.format == Format::kJson) {
    print_json({{"unseal_keys_b64", b64},
                {"unseal_keys_hex", hex},
                {"unseal_shares", f.shares},
                {"unseal_threshold", f.threshold},
                {"recovery_keys_b64", nlohmann::json::array()},
                {"recovery_keys_hex", nlohmann::json::array()},
                {"recovery_keys_shares", 0},
                {"recovery_keys_threshold", 0},
                {"root_token", root_token}});
    return kExitOk;
  }
  std::size_t i = 0;
  for (const auto& key : b64) {
    std::printf("Unseal Key %zu: %s\n", ++i, key.is_string() ? key.get<std::string>().c_str() : "");
  }
  std::printf("\nInitial Root Token: %s\n\n", root_token.c_str());
  sdk::wipe(root_token.data(), root_token.size());
  std::printf(
      "Server initialized with %d key shares and a key threshold of %d. Please securely\n"
      "distribute the key shares printed above. When the server is sealed, restarted or\n"
      "stopped, at least %d of these keys must be given to unseal it before it serves\n"
      "requests. The server does not store them: without %d of them its data cannot be\n"
      "recovered.\n",
      f.shares, f.threshold, f.threshold, f.threshold);
  return kExitOk;
}

int run_server_unseal(const OperatorFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  nlohmann::json status;
  auto submit = [&](const nlohmann::json& body) -> bool {
    auto reply = (*session)->send("PUT", "sys/unseal", body, {}, /*with_token=*/false);
    if (!reply) {
      fail("Error unsealing", reply.error());
      return false;
    }
    if (reply->status != 200) {
      fail("Error unsealing", response_error(*reply));
      return false;
    }
    status = std::move(reply->body);
    return true;
  };
  if (f.reset) {
    if (!f.keys.empty()) return usage_error("-reset takes no unseal keys");
    if (!submit({{"reset", true}})) return kExitError;
  } else if (!f.keys.empty()) {
    for (const auto& key : f.keys) {
      if (!submit({{"key", key}})) return kExitError;
      if (!json_bool(status, "sealed")) break;
    }
  } else {
    // One key from a terminal (prompted, not echoed), as Vault; from a pipe, one per
    // line until the server unseals or the input ends.
    const bool tty = isatty(STDIN_FILENO) == 1;
    bool any = false;
    while (true) {
      auto line = read_secret_line("Unseal Key (will be hidden): ");
      if (!line) break;
      if (line->find_first_not_of(" \t\r") == std::string::npos) continue;
      any = true;
      bool ok = submit({{"key", *line}});
      sdk::wipe(line->data(), line->size());
      if (!ok) return kExitError;
      if (tty || !json_bool(status, "sealed")) break;
    }
    if (!any) return fail("no unseal key given (as an argument or on standard input)");
  }
  add_ha_status(**session, status);
  print_seal_status(status, f.common.format);
  return kExitOk;
}

int run_server_seal(const OperatorFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->write("sys/seal", nlohmann::json::object());
  if (!done) return fail("Error sealing", done.error());
  if (f.common.format == Format::kTable) std::printf("Success! Vault is sealed.\n");
  return kExitOk;
}

int run_server_key_status(const OperatorFlags& f, bool rotate) {
  if (!f.keys.empty()) return usage_error("unseal key shares are taken only with -storage FILE");
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  if (rotate) {
    auto done = (*session)->write("sys/rotate", nlohmann::json::object());
    if (!done) return fail("Error rotating key", done.error());
  }
  auto status = (*session)->read("sys/key-status");
  if (!status) return fail("Error reading key status", status.error());
  nlohmann::json fields = key_status_fields(*status);
  if (f.common.format == Format::kJson) {
    print_json({{"term", json_member(fields, "term")},
                {"install_time", json_member(fields, "install_time")},
                {"encryptions", json_member(fields, "encryptions")}});
    return kExitOk;
  }
  if (rotate) std::printf("Success! Rotated key\n\n");
  print_table(key_rows(fields));
  return kExitOk;
}

// Acts on the storage file when -storage was given, else on the server.
template <class Local, class Server>
std::function<void()> either(std::shared_ptr<OperatorFlags> f, int& exit_code, Local local,
                             Server server) {
  return
      [f, &exit_code, local, server] { exit_code = f->storage.empty() ? server(*f) : local(*f); };
}

}  // namespace

void register_operator_commands(CLI::App& app, int& exit_code) {
  auto* op =
      app.add_subcommand("operator", "Initialize, unseal, seal and rotate the server or a store");
  op->require_subcommand(1);

  auto fi = std::make_shared<OperatorFlags>();
  auto* init = op->add_subcommand(
      "init",
      "Initialize a new server (or, with -storage, a store): create its keys and print "
      "the unseal key shares and the initial root token");
  add_common_flags(*init, fi->common);
  add_storage_flag(*init, *fi);
  init->add_option("-n,--key-shares", fi->shares, "Number of unseal key shares (1-255)")
      ->default_val(5);
  init->add_option("-t,--key-threshold", fi->threshold,
                   "Shares needed to unseal (2-255, or 1 with one share)")
      ->default_val(3);
  init->add_flag("--status", fi->status_only,
                 "Only say whether the server is initialized (exit 0 yes, 2 no)");
  init->callback(either(fi, exit_code, run_local_init, run_server_init));

  auto fu = std::make_shared<OperatorFlags>();
  auto* unseal = op->add_subcommand(
      "unseal",
      "Give unseal key shares: as arguments, or on standard input one per line (prompted "
      "for without echo on a terminal); prints the seal status");
  add_common_flags(*unseal, fu->common);
  add_storage_flag(*unseal, *fu);
  unseal->add_option("keys", fu->keys, "Unseal key shares (hex or base64)");
  unseal->add_flag("--reset", fu->reset, "Forget the key shares given so far (server only)");
  unseal->callback(either(fu, exit_code, run_local_unseal, run_server_unseal));

  auto fk = std::make_shared<OperatorFlags>();
  auto* key_status = op->add_subcommand(
      "key-status", "Show the active encryption key term, install time and use count");
  add_common_flags(*key_status, fk->common);
  add_storage_flag(*key_status, *fk);
  key_status->add_option("keys", fk->keys, "Unseal key shares, with -storage only");
  key_status->callback(either(
      fk, exit_code, [](const OperatorFlags& f) { return run_local_key_status(f, false); },
      [](const OperatorFlags& f) { return run_server_key_status(f, false); }));

  auto fr = std::make_shared<OperatorFlags>();
  auto* rotate = op->add_subcommand(
      "rotate", "Install a new encryption key term; data under old terms stays readable");
  add_common_flags(*rotate, fr->common);
  add_storage_flag(*rotate, *fr);
  rotate->add_option("keys", fr->keys, "Unseal key shares, with -storage only");
  rotate->callback(either(
      fr, exit_code, [](const OperatorFlags& f) { return run_local_key_status(f, true); },
      [](const OperatorFlags& f) { return run_server_key_status(f, true); }));

  auto fs = std::make_shared<OperatorFlags>();
  auto* seal = op->add_subcommand("seal", "Seal a running server: it forgets every key");
  add_common_flags(*seal, fs->common);
  seal->callback([fs, &exit_code] { exit_code = run_server_seal(*fs); });
}

}  // namespace leasefs::cli
