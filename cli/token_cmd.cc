// `leasefs token ...`: create, look up, renew and revoke tokens and ask what a token
// may do, through auth/token/ and sys/capabilities* as Vault's `vault token` does.
// Tokens given as arguments are sent in request bodies, never in URLs or messages.
#include <algorithm>

#include "cli/cli.h"
#include "cli/kv_args.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

struct TokenFlags {
  CommonFlags common{};
  std::vector<std::string> args{};
  bool accessor = false;
  // create
  std::vector<std::string> policies{};
  std::string ttl{};
  std::string explicit_max_ttl{};
  std::string period{};
  bool renewable = true;
  bool orphan = false;
  int use_limit = 0;
  std::string display_name{};
  std::vector<std::string> metadata{};
  bool no_default_policy = false;
  std::string id{};
  std::string type{};
  std::string role{};
  // renew
  std::string increment{};
  // revoke
  bool self = false;
  std::string mode{};
};

int run_create(const TokenFlags& f) {
  // Counted, not echoed: a stray argument here is often a token.
  if (!f.args.empty()) {
    return usage_error("Too many arguments (expected 0, got " + std::to_string(f.args.size()) +
                       ")");
  }
  auto meta = parse_kv_flags(f.metadata, "metadata");
  if (!meta) return usage_error(meta.error().message());
  json body = {{"renewable", f.renewable}};
  if (!f.policies.empty()) body["policies"] = f.policies;
  if (!meta->empty()) body["meta"] = *meta;
  if (!f.ttl.empty()) body["ttl"] = f.ttl;
  if (!f.explicit_max_ttl.empty()) body["explicit_max_ttl"] = f.explicit_max_ttl;
  if (!f.period.empty()) body["period"] = f.period;
  if (f.use_limit > 0) body["num_uses"] = f.use_limit;
  if (!f.display_name.empty()) body["display_name"] = f.display_name;
  if (f.orphan) body["no_parent"] = true;
  if (f.no_default_policy) body["no_default_policy"] = true;
  if (!f.id.empty()) body["id"] = f.id;
  if (!f.type.empty()) body["type"] = f.type;
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  std::string path = f.role.empty() ? "auth/token/create" : "auth/token/create/" + f.role;
  auto secret = (*session)->write(path, body, "POST");
  if (!secret) return fail("Error creating token", secret.error());
  if (secret->is_null()) return fail("Error creating token: the server sent no token");
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_lookup(const TokenFlags& f) {
  if (f.args.size() > 1) return usage_error("Too many arguments (expected 0-1)");
  if (f.accessor && f.args.empty())
    return usage_error("Not enough arguments (expected 1 with -accessor)");
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  sdk::Result<json> secret;
  if (f.args.empty()) {
    secret = (*session)->read("auth/token/lookup-self");
  } else if (f.accessor) {
    secret = (*session)->write("auth/token/lookup-accessor", {{"accessor", f.args[0]}}, "POST");
  } else {
    secret = (*session)->write("auth/token/lookup", {{"token", f.args[0]}}, "POST");
  }
  if (!secret) return fail("Error looking up token", secret.error());
  if (secret->is_null()) return no_value("No token information returned");
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_renew(const TokenFlags& f) {
  if (f.args.size() > 1) return usage_error("Too many arguments (expected 0-1)");
  if (f.accessor && f.args.empty())
    return usage_error("Not enough arguments (expected 1 with -accessor)");
  json body = json::object();
  if (!f.increment.empty()) body["increment"] = f.increment;
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  std::string path = "auth/token/renew-self";
  if (!f.args.empty()) {
    path = f.accessor ? "auth/token/renew-accessor" : "auth/token/renew";
    body[f.accessor ? "accessor" : "token"] = f.args[0];
  }
  auto secret = (*session)->write(path, body, "POST");
  if (!secret) return fail("Error renewing token", secret.error());
  if (secret->is_null()) return fail("Error renewing token: the server sent no token information");
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_revoke(const TokenFlags& f) {
  if (f.args.size() > 1) return usage_error("Too many arguments (expected 0-1)");
  if (f.self && !f.args.empty()) return usage_error("Tokens cannot be specified with -self");
  if (f.self && f.accessor) return usage_error("Cannot use -self with -accessor");
  if (f.accessor && !f.mode.empty())
    return usage_error("Use of -mode is not supported with -accessor");
  if (!f.self && f.args.empty()) return usage_error("Not enough arguments (expected 1, got 0)");
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  sdk::Result<json> done;
  if (f.self) {
    done = (*session)->write("auth/token/revoke-self", json::object());
  } else if (f.accessor) {
    done = (*session)->write("auth/token/revoke-accessor", {{"accessor", f.args[0]}});
  } else if (f.mode == "orphan") {
    done = (*session)->write("auth/token/revoke-orphan", {{"token", f.args[0]}});
  } else if (f.mode == "path") {
    done =
        (*session)->write("sys/leases/revoke-prefix/" + sanitize_path(f.args[0]), json::object());
  } else {
    done = (*session)->write("auth/token/revoke", {{"token", f.args[0]}});
  }
  if (!done) return fail("Error revoking token", done.error());
  if (f.common.format == Format::kTable) std::printf("Success! Revoked token (if it existed)\n");
  return kExitOk;
}

int run_capabilities(const TokenFlags& f) {
  if (f.args.empty() || f.args.size() > 2) {
    return usage_error("want PATH, or TOKEN PATH (got " + std::to_string(f.args.size()) +
                       " arguments)");
  }
  if (f.accessor && f.args.size() != 2) return usage_error("-accessor needs ACCESSOR PATH");
  const std::string path = sanitize_path(f.args.back());
  json body = {{"paths", json::array({path})}};
  std::string endpoint = "sys/capabilities-self";
  if (f.args.size() == 2) {
    endpoint = f.accessor ? "sys/capabilities-accessor" : "sys/capabilities";
    body[f.accessor ? "accessor" : "token"] = f.args[0];
  }
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->write(endpoint, body, "POST");
  if (!secret) return fail("Error listing capabilities", secret.error());
  json data = json_member(*secret, "data");
  json caps = json_member(data, path);
  if (!caps.is_array() && data.is_object()) caps = json_member(data, "capabilities");
  if (!caps.is_array()) return fail("Error listing capabilities: the server sent none");
  std::vector<std::string> names;
  for (const auto& c : caps) {
    if (c.is_string()) names.push_back(c.get<std::string>());
  }
  if (f.common.format == Format::kJson) {
    print_json(names);
    return kExitOk;
  }
  std::sort(names.begin(), names.end());
  std::string line;
  for (const auto& n : names) line += (line.empty() ? "" : ", ") + n;
  std::printf("%s\n", line.c_str());
  return kExitOk;
}

}  // namespace

void register_token_commands(CLI::App& app, int& exit_code) {
  auto* token = app.add_subcommand("token", "Create, look up, renew and revoke tokens");
  token->require_subcommand(1);

  auto cf = std::make_shared<TokenFlags>();
  auto* create = token->add_subcommand(
      "create", "Create a token, a child of the current one unless -orphan; prints it");
  add_common_flags(*create, cf->common, true);
  create->add_option("--policy", cf->policies, "A policy for the token; may be repeated")
      ->allow_extra_args(false);
  create->add_option("--ttl", cf->ttl, "Initial TTL, e.g. 1h");
  create->add_option("--explicit-max-ttl", cf->explicit_max_ttl,
                     "A hard limit on the token's life, renewals included");
  create->add_option("--period", cf->period,
                     "Make a periodic token, renewable by this much forever");
  create
      ->add_flag("--renewable", cf->renewable,
                 "Whether the token can be renewed (default true; -renewable=false)")
      ->default_str("true");
  create->add_flag("--orphan", cf->orphan, "No parent: revoking the parent leaves it alone");
  create->add_option("--use-limit", cf->use_limit, "Number of uses before it is revoked");
  create->add_option("--display-name", cf->display_name, "A name to show for the token");
  create->add_option("--metadata", cf->metadata, "key=value kept with the token; may be repeated")
      ->allow_extra_args(false);
  create->add_flag("--no-default-policy", cf->no_default_policy,
                   "Do not attach the \"default\" policy");
  create->add_option("--id", cf->id, "The token's value (root only)");
  create->add_option("--type", cf->type, "Token type: service (batch is not supported)");
  create->add_option("--role", cf->role, "Create against this token role");
  create->add_option("args", cf->args)->group("");  // only to refuse them without echoing
  create->callback([cf, &exit_code] { exit_code = run_create(*cf); });

  auto lf = std::make_shared<TokenFlags>();
  auto* lookup = token->add_subcommand(
      "lookup", "Show a token's properties (the current token when none is given)");
  add_common_flags(*lookup, lf->common, true);
  lookup->add_option("token", lf->args, "The token (or, with -accessor, its accessor)");
  lookup->add_flag("--accessor", lf->accessor, "The argument is a token accessor");
  lookup->callback([lf, &exit_code] { exit_code = run_lookup(*lf); });

  auto rf = std::make_shared<TokenFlags>();
  auto* renew = token->add_subcommand(
      "renew", "Renew a token's lease (the current token when none is given)");
  add_common_flags(*renew, rf->common, true);
  renew->add_option("token", rf->args, "The token (or, with -accessor, its accessor)");
  renew->add_option("-i,--increment", rf->increment, "Requested new TTL, e.g. 1h");
  renew->add_flag("--accessor", rf->accessor, "The argument is a token accessor");
  renew->callback([rf, &exit_code] { exit_code = run_renew(*rf); });

  auto vf = std::make_shared<TokenFlags>();
  auto* revoke = token->add_subcommand(
      "revoke", "Revoke a token and its children (with -mode=orphan, the token alone)");
  add_common_flags(*revoke, vf->common);
  revoke->add_option("token", vf->args, "The token (or, with -accessor, its accessor)");
  revoke->add_flag("--self", vf->self, "Revoke the current token");
  revoke->add_flag("--accessor", vf->accessor, "The argument is a token accessor");
  revoke
      ->add_option("--mode", vf->mode,
                   "orphan: revoke only this token, its children become orphans; path: "
                   "revoke every token created under this path prefix")
      ->check(CLI::IsMember({"orphan", "path"}));
  revoke->callback([vf, &exit_code] { exit_code = run_revoke(*vf); });

  auto pf = std::make_shared<TokenFlags>();
  auto* caps =
      token->add_subcommand("capabilities", "Show what a token may do on a path: [TOKEN] PATH");
  add_common_flags(*caps, pf->common);
  caps->add_option("args", pf->args, "[TOKEN] PATH");
  caps->add_flag("--accessor", pf->accessor, "The first argument is a token accessor");
  caps->callback([pf, &exit_code] { exit_code = run_capabilities(*pf); });
}

}  // namespace leasefs::cli
