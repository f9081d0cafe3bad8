// `leasefs auth ...` (enable, disable, list and tune auth methods through sys/auth) and
// `leasefs login` (authenticate with a token or an auth method such as AppRole and keep
// the token in ~/.leasefs-token), as Vault's `vault auth` and `vault login` do.
#include <cstdlib>
#include <iostream>

#include "backend/sdk/secure_buffer.h"
#include "cli/kv_args.h"
#include "cli/local_store.h"
#include "cli/mount_flags.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

struct LoginFlags {
  CommonFlags common{};
  std::string method = "token";
  std::string path{};
  bool no_store = false;
  std::vector<std::string> args{};
};

// `login TOKEN`: the token is checked with lookup-self and shown as an auth block.
sdk::Result<json> login_with_token(ApiSession& session, const LoginFlags& f) {
  std::string token;
  if (!f.args.empty()) {
    token = f.args[0];
  } else {
    auto line = read_secret_line("Token (will be hidden): ");
    if (!line) return sdk::invalid_argument("no token given (argument or standard input)");
    token = *line;
    sdk::wipe(line->data(), line->size());
  }
  auto first = token.find_first_not_of(" \t\r\n");
  auto last = token.find_last_not_of(" \t\r\n");
  token = first == std::string::npos ? "" : token.substr(first, last - first + 1);
  if (token.empty()) return sdk::invalid_argument("the token is empty");
  session.set_token(token);
  auto secret = session.read("auth/token/lookup-self");
  if (!secret) return sdk::error(secret.error());
  const json data = json_member(*secret, "data");
  if (!data.is_object()) return sdk::invalid_argument("the server did not describe the token");
  json policies = json_member(data, "policies");
  json auth = {{"client_token", token},
               {"accessor", json_string(data, "accessor")},
               {"lease_duration", json_int(data, "ttl")},
               {"renewable", json_bool(data, "renewable")},
               {"policies", policies},
               {"token_policies", policies},
               {"identity_policies", json_member(data, "identity_policies")},
               {"metadata", json_member(data, "meta")}};
  return json{{"request_id", json_string(*secret, "request_id")},
              {"lease_id", ""},
              {"lease_duration", 0},
              {"renewable", false},
              {"data", nullptr},
              {"warnings", json_member(*secret, "warnings")},
              {"auth", auth}};
}

// `login -method=M k=v ...`: POST auth/<path>/login without a token.
sdk::Result<json> login_with_method(ApiSession& session, const LoginFlags& f) {
  auto data = parse_kv_args(f.args, std::cin);
  if (!data) return sdk::error(data.error());
  std::string path = "auth/" + sanitize_path(f.path.empty() ? f.method : f.path) + "/login";
  auto reply = session.send("POST", path, *data, {}, /*with_token=*/false);
  if (!reply) return sdk::error(reply.error());
  if (reply->status < 200 || reply->status >= 300) return sdk::error(response_error(*reply));
  return std::move(reply->body);
}

int run_login(const LoginFlags& f) {
  if (f.method == "token" && f.args.size() > 1) {
    return usage_error("Too many arguments (expected 0-1 with -method=token)");
  }
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret =
      f.method == "token" ? login_with_token(**session, f) : login_with_method(**session, f);
  if (!secret) return fail("Error authenticating", secret.error());
  const json auth = json_member(*secret, "auth");
  std::string token = json_string(auth, "client_token");
  if (token.empty()) return fail("Error authenticating: the server returned no token");
  if (!f.no_store) {
    if (auto stored = store_token(token); !stored)
      return fail("Error storing token", stored.error());
  }
  for (const char* name : {"LEASEFS_TOKEN", "VAULT_TOKEN"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') {
      std::fprintf(stderr,
                   "WARNING! The %s environment variable is set. It takes precedence over "
                   "the stored token; unset it to use the new one.\n\n",
                   name);
      break;
    }
  }
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  if (f.common.format == Format::kTable) {
    if (f.no_store) {
      std::fprintf(stderr,
                   "Success! You are now authenticated. The token is not stored (-no-store): "
                   "set LEASEFS_TOKEN to use it.\n\n");
    } else {
      std::fprintf(stderr,
                   "Success! You are now authenticated. The token is stored in %s; later "
                   "commands use it.\n\n",
                   token_helper_path().c_str());
    }
  }
  return output_secret(*secret, f.common.format);
}

}  // namespace

void register_auth_commands(CLI::App& app, int& exit_code) {
  auto* auth = app.add_subcommand("auth", "Enable, disable, list and tune auth methods");
  auth->require_subcommand(1);

  auto ef = std::make_shared<MountFlags>();
  auto* enable = auth->add_subcommand(
      "enable", "Enable an auth method (approle, ...) at -path, by default its type");
  add_common_flags(*enable, ef->common);
  add_mount_config_flags(*enable, *ef, /*enable=*/true);
  enable->add_option("--path", ef->path, "Where to mount it, under auth/ (default: the type)");
  enable->add_option("type", ef->type, "Auth method type")->required();
  enable->callback([ef, &exit_code] { exit_code = run_mount_enable(*ef, /*auth=*/true); });

  auto df = std::make_shared<MountFlags>();
  auto* disable =
      auth->add_subcommand("disable", "Disable the auth method at a path; its tokens are revoked");
  add_common_flags(*disable, df->common);
  disable->add_option("path", df->path, "Mount path under auth/")->required();
  disable->callback([df, &exit_code] { exit_code = run_mount_disable(*df, /*auth=*/true); });

  auto lf = std::make_shared<MountFlags>();
  auto* list = auth->add_subcommand("list", "List the enabled auth methods");
  add_common_flags(*list, lf->common);
  list->add_flag("--detailed", lf->detailed, "Show TTLs, options, UUIDs and more");
  list->callback([lf, &exit_code] { exit_code = run_mount_list(*lf, /*auth=*/true); });

  auto tf = std::make_shared<MountFlags>();
  auto* tune = auth->add_subcommand("tune", "Change an auth method's TTLs, description or options");
  add_common_flags(*tune, tf->common);
  add_mount_config_flags(*tune, *tf, /*enable=*/false);
  tune->add_option("path", tf->path, "Mount path under auth/")->required();
  tune->callback([tf, &exit_code] { exit_code = run_mount_tune(*tf, /*auth=*/true); });

  auto gf = std::make_shared<LoginFlags>();
  auto* login =
      app.add_subcommand("login",
                         "Authenticate and keep the token in ~/.leasefs-token: login TOKEN, or "
                         "login -method=approle role_id=... secret_id=...");
  add_common_flags(*login, gf->common, true);
  login->add_option("--method", gf->method, "Auth method type (default: token)");
  login->add_option("--path", gf->path, "Mount path of the auth method (default: the type)");
  login->add_flag("--no-store", gf->no_store, "Do not write the token helper file");
  login->add_option("args", gf->args, "TOKEN for -method=token; key=value pairs otherwise");
  login->callback([gf, &exit_code] { exit_code = run_login(*gf); });
}

}  // namespace leasefs::cli
