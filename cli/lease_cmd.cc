// `leasefs lease ...`: look up, renew, revoke and list leases through sys/leases/, as
// Vault's `vault lease` does. Lease IDs are handles, not credentials (revoking one needs
// a token), so messages may name them, as Vault's do.
#include "backend/sdk/duration.h"
#include "cli/cli.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

struct LeaseFlags {
  CommonFlags common{};
  std::vector<std::string> args{};
  // renew
  std::string increment{};
  // revoke
  bool prefix = false;
  bool force = false;
  bool sync = false;
};

// Vault's arity messages; "" when `args` holds exactly one argument.
std::string one_argument_error(const std::vector<std::string>& args) {
  if (args.empty()) return "Not enough arguments (expected 1, got 0)";
  if (args.size() > 1)
    return "Too many arguments (expected 1, got " + std::to_string(args.size()) + ")";
  return {};
}

std::string trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// A lease ID or prefix as it goes into a request: surrounding spaces removed, and for
// use in a URL path, leading slashes too.
std::string lease_argument(std::string_view arg, bool in_path) {
  std::string id = trim(arg);
  if (in_path) id.erase(0, id.find_first_not_of('/'));
  return id;
}

int run_lookup(const LeaseFlags& f) {
  if (auto why = one_argument_error(f.args); !why.empty()) return usage_error(why);
  const std::string id = lease_argument(f.args[0], false);
  if (id.empty()) return usage_error("The lease ID is empty");
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->write("sys/leases/lookup", {{"lease_id", id}});
  if (!secret) return fail("error looking up lease id " + id, secret.error());
  if (secret->is_null())
    return fail("error looking up lease id " + id + ": the server sent nothing");
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_renew(const LeaseFlags& f) {
  // A second argument is the increment, as in Vault before 0.9 (still accepted there).
  if (f.args.empty()) return usage_error("Missing ID!");
  if (f.args.size() > 2) {
    return usage_error("Too many arguments (expected 1 or 2, got " + std::to_string(f.args.size()) +
                       ")");
  }
  const std::string id = lease_argument(f.args[0], false);
  if (id.empty()) return usage_error("The lease ID is empty");
  std::string increment_text = f.args.size() == 2 ? f.args[1] : f.increment;
  std::int64_t increment = 0;  // Vault's default: the lease's own TTL
  if (!increment_text.empty()) {
    auto parsed = sdk::parse_duration(increment_text);
    if (!parsed) return usage_error("-increment: " + parsed.error().message());
    increment = sdk::whole_seconds(*parsed);
  }
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->write("sys/leases/renew", {{"lease_id", id}, {"increment", increment}});
  if (!secret) return fail("Error renewing " + id, secret.error());
  if (secret->is_null()) return fail("Error renewing " + id + ": the server sent nothing");
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_revoke(const LeaseFlags& f) {
  if (auto why = one_argument_error(f.args); !why.empty()) return usage_error(why);
  if (f.force && !f.prefix)
    return usage_error("Specifying -force requires also specifying -prefix");
  const std::string id = lease_argument(f.args[0], f.prefix);
  if (id.empty()) return usage_error(f.prefix ? "The prefix is empty" : "The lease ID is empty");
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  // The requests of Vault's api.Sys().RevokeWithOptions.
  sdk::Result<json> done;
  std::string what;
  if (f.force) {
    std::fprintf(stderr,
                 "leasefs: Warning! Force-removing leases can cause leasefs to become out of "
                 "sync with secrets engines!\n");
    what = "Error force revoking leases with prefix " + id;
    done = (*session)->write("sys/leases/revoke-force/" + id, json::object());
  } else if (f.prefix) {
    what = "Error revoking leases with prefix " + id;
    done = (*session)->write("sys/leases/revoke-prefix/" + id, {{"sync", f.sync}});
  } else {
    what = "Error revoking lease " + id;
    done = (*session)->write("sys/leases/revoke", {{"lease_id", id}, {"sync", f.sync}});
  }
  if (!done) return fail(what, done.error());
  if (f.common.format == Format::kJson) return kExitOk;
  if (f.force) {
    std::printf("Success! Force revoked any leases with prefix: %s\n", id.c_str());
  } else if (!f.sync) {
    std::printf("All revocation operations queued successfully!\n");
  } else if (f.prefix) {
    std::printf("Success! Revoked any leases with prefix: %s\n", id.c_str());
  } else {
    std::printf("Success! Revoked lease: %s\n", id.c_str());
  }
  return kExitOk;
}

int run_list(const LeaseFlags& f) {
  if (auto why = one_argument_error(f.args); !why.empty()) return usage_error(why);
  const std::string prefix = join_path({"sys/leases/lookup", f.args[0]});
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->list(prefix);
  if (!secret) return fail("Error listing leases", secret.error());
  const json keys = json_member(json_member(*secret, "data"), "keys");
  if (!keys.is_array() || keys.empty()) {
    if (f.common.format == Format::kJson) {
      print_json(json::object());
      return kExitNoValue;
    }
    return no_value("No leases found");
  }
  if (f.common.format == Format::kJson) {
    print_json(keys);
    return kExitOk;
  }
  print_warnings(*secret);
  print_keys(keys);
  return kExitOk;
}

}  // namespace

void register_lease_commands(CLI::App& app, int& exit_code) {
  auto* lease = app.add_subcommand("lease", "Look up, renew, revoke and list leases");
  lease->require_subcommand(1);

  auto lf = std::make_shared<LeaseFlags>();
  auto* lookup = lease->add_subcommand("lookup", "Show a lease: its TTL, issue and expiry times");
  add_common_flags(*lookup, lf->common, true);
  lookup->add_option("lease_id", lf->args, "The lease ID");
  lookup->callback([lf, &exit_code] { exit_code = run_lookup(*lf); });

  auto rf = std::make_shared<LeaseFlags>();
  auto* renew = lease->add_subcommand(
      "renew", "Renew a lease, asking for -increment more time (the server may give less)");
  add_common_flags(*renew, rf->common, true);
  renew->add_option("lease_id", rf->args, "The lease ID");
  renew->add_option("--increment", rf->increment,
                    "Requested time from now, e.g. 1h or 3600 (default: the lease's TTL)");
  renew->callback([rf, &exit_code] { exit_code = run_renew(*rf); });

  auto vf = std::make_shared<LeaseFlags>();
  auto* revoke = lease->add_subcommand(
      "revoke", "Revoke a lease now, or with -prefix every lease under a path prefix");
  add_common_flags(*revoke, vf->common);
  revoke->add_option("id", vf->args, "The lease ID, or with -prefix the path prefix");
  revoke->add_flag("--prefix", vf->prefix, "Revoke every lease whose ID starts with ID");
  revoke->add_flag("-f,--force", vf->force,
                   "With -prefix: forget the leases even when the engine fails to revoke "
                   "them (the secrets may outlive their leases)");
  revoke->add_flag("--sync", vf->sync, "Wait until the revocation is done instead of queueing it");
  revoke->callback([vf, &exit_code] { exit_code = run_revoke(*vf); });

  auto sf = std::make_shared<LeaseFlags>();
  auto* list = lease->add_subcommand("list", "List the lease IDs under a path prefix");
  add_common_flags(*list, sf->common);
  list->add_option("prefix", sf->args, "Path prefix, e.g. pki/issue/web");
  list->callback([sf, &exit_code] { exit_code = run_list(*sf); });
}

}  // namespace leasefs::cli
