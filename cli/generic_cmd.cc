// `leasefs read|write|list|delete PATH`: Vault's generic commands, which send one
// request to any API path and show the answer (read, write, list and delete of
// secrets, configuration and credentials alike).
#include <iostream>

#include "cli/cli.h"
#include "cli/kv_args.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

struct GenericFlags {
  CommonFlags common{};
  std::string path{};
  std::vector<std::string> args{};
  bool force = false;
};

// key=value arguments as query parameters (a list gives the key once per item).
sdk::Result<Query> query_from_args(const std::vector<std::string>& args) {
  auto data = parse_kv_args(args, std::cin);
  if (!data) return sdk::error(data.error());
  Query query;
  for (const auto& [k, v] : data->items()) {
    if (v.is_array()) {
      for (const auto& item : v)
        query.emplace_back(k, item.is_string() ? item.get<std::string>() : item.dump());
    } else {
      query.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  return query;
}

int run_read(const GenericFlags& f) {
  std::string path = sanitize_path(f.path);
  auto query = query_from_args(f.args);
  if (!query) return fail("Failed to parse K=V data", query.error());
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->read(path, *query);
  if (!secret) return fail("Error reading " + path, secret.error());
  if (secret->is_null()) return no_value("No value found at " + path);
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_write(const GenericFlags& f) {
  if (f.args.empty() && !f.force) return usage_error("Must supply data or use -force");
  std::string path = sanitize_path(f.path);
  auto data = parse_kv_args(f.args, std::cin);
  if (!data) return fail("Failed to parse K=V data", data.error());
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->write(path, *data);
  if (!secret) return fail("Error writing data to " + path, secret.error());
  if (secret->is_null()) {
    if (f.common.format == Format::kTable)
      std::printf("Success! Data written to: %s\n", path.c_str());
    return kExitOk;
  }
  if (!f.common.field.empty()) return print_field(*secret, f.common.field, f.common.format);
  return output_secret(*secret, f.common.format);
}

int run_list(const GenericFlags& f) {
  std::string path = sanitize_path(f.path);
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->list(path + "/");
  if (!secret) return fail("Error listing " + path + "/", secret.error());
  return output_list(*secret, path + "/", f.common.format);
}

int run_delete(const GenericFlags& f) {
  std::string path = sanitize_path(f.path);
  auto query = query_from_args(f.args);
  if (!query) return fail("Failed to parse K=V data", query.error());
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->remove(path, *query);
  if (!secret) return fail("Error deleting " + path, secret.error());
  if (!secret->is_null()) return output_secret(*secret, f.common.format);
  if (f.common.format == Format::kTable) {
    std::printf("Success! Data deleted (if it existed) at: %s\n", path.c_str());
  }
  return kExitOk;
}

CLI::App* add_generic(CLI::App& app, const char* name, const char* description,
                      std::shared_ptr<GenericFlags> f, bool with_field) {
  auto* cmd = app.add_subcommand(name, description);
  add_common_flags(*cmd, f->common, with_field);
  cmd->add_option("path", f->path, "API path, e.g. secret/data/app or auth/token/lookup-self")
      ->required();
  return cmd;
}

}  // namespace

void register_generic_commands(CLI::App& app, int& exit_code) {
  auto rf = std::make_shared<GenericFlags>();
  auto* read = add_generic(
      app, "read", "Read data at a path and show it (exit 2 when nothing is there)", rf, true);
  read->add_option("params", rf->args, "key=value query parameters");
  read->callback([rf, &exit_code] { exit_code = run_read(*rf); });

  auto wf = std::make_shared<GenericFlags>();
  auto* write =
      add_generic(app, "write",
                  "Write data to a path: key=value, key=@file, key=- (standard input), or - alone "
                  "for a JSON object on standard input",
                  wf, true);
  write->add_option("data", wf->args, "key=value pairs, key=@file, key=-, or -");
  write->add_flag("-f,--force", wf->force, "Write even with no data");
  write->callback([wf, &exit_code] { exit_code = run_write(*wf); });

  auto lf = std::make_shared<GenericFlags>();
  auto* list = add_generic(app, "list", "List the keys under a path (exit 2 when there are none)",
                           lf, false);
  list->callback([lf, &exit_code] { exit_code = run_list(*lf); });

  auto df = std::make_shared<GenericFlags>();
  auto* del = add_generic(app, "delete", "Delete the data at a path", df, false);
  del->add_option("params", df->args, "key=value query parameters");
  del->callback([df, &exit_code] { exit_code = run_delete(*df); });
}

}  // namespace leasefs::cli
