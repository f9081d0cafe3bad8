// `leasefs policy ...`: write, read, list and delete ACL policies through
// sys/policies/acl, as Vault's `vault policy` does.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/cli.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxPolicy = 1u << 20;

struct PolicyFlags {
  CommonFlags common{};
  std::string name{};
  std::string file{};
};

sdk::Result<std::string> read_policy_text(const std::string& file) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) return sdk::invalid_argument("cannot read policy file " + file);
    ss << in.rdbuf();
  }
  std::string text = ss.str();
  if (text.size() > kMaxPolicy) return sdk::invalid_argument("the policy is larger than 1 MiB");
  return text;
}

int run_write(const PolicyFlags& f) {
  auto text = read_policy_text(f.file);
  if (!text) return fail("Error opening policy file", text.error());
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->write("sys/policies/acl/" + f.name, {{"policy", *text}});
  if (!done) return fail("Error uploading policy", done.error());
  if (f.common.format == Format::kTable)
    std::printf("Success! Uploaded policy: %s\n", f.name.c_str());
  return kExitOk;
}

int run_read(const PolicyFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->read("sys/policies/acl/" + f.name);
  if (!secret) return fail("Error reading policy named " + f.name, secret.error());
  const json data = json_member(*secret, "data");
  if (!data.is_object() || !data.contains("policy") || !data["policy"].is_string()) {
    return no_value("No policy named: " + f.name);
  }
  if (f.common.format == Format::kJson) {
    print_json(data);
    return kExitOk;
  }
  std::string text = data["policy"].get<std::string>();
  auto first = text.find_first_not_of(" \t\r\n");
  auto last = text.find_last_not_of(" \t\r\n");
  text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  std::printf("%s\n", text.c_str());
  return kExitOk;
}

int run_list(const PolicyFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto secret = (*session)->list("sys/policies/acl");
  if (!secret) return fail("Error listing policies", secret.error());
  const json data = json_member(*secret, "data");
  json keys = json_member(data, "keys");
  if (!keys.is_array()) keys = json::array();
  if (f.common.format == Format::kJson) {
    print_json(keys);
    return kExitOk;
  }
  for (const auto& k : keys) {
    if (k.is_string()) std::printf("%s\n", k.get<std::string>().c_str());
  }
  return kExitOk;
}

int run_delete(const PolicyFlags& f) {
  auto session = ApiSession::open(f.common.connection);
  if (!session) return fail(session.error());
  auto done = (*session)->remove("sys/policies/acl/" + f.name);
  if (!done) return fail("Error deleting " + f.name, done.error());
  if (f.common.format == Format::kTable)
    std::printf("Success! Deleted policy: %s\n", f.name.c_str());
  return kExitOk;
}

}  // namespace

void register_policy_commands(CLI::App& app, int& exit_code) {
  auto* policy = app.add_subcommand("policy", "Write, read, list and delete ACL policies");
  policy->require_subcommand(1);

  auto wf = std::make_shared<PolicyFlags>();
  auto* write = policy->add_subcommand(
      "write", "Upload a policy (HCL or JSON) from a file, or from standard input with -");
  add_common_flags(*write, wf->common);
  write->add_option("name", wf->name, "Policy name")->required();
  write->add_option("file", wf->file, "Policy file, or - for standard input")->required();
  write->callback([wf, &exit_code] { exit_code = run_write(*wf); });

  auto rf = std::make_shared<PolicyFlags>();
  auto* read = policy->add_subcommand("read", "Print a policy (exit 2 when there is none)");
  add_common_flags(*read, rf->common);
  read->add_option("name", rf->name, "Policy name")->required();
  read->callback([rf, &exit_code] { exit_code = run_read(*rf); });

  auto lf = std::make_shared<PolicyFlags>();
  auto* list = policy->add_subcommand("list", "List the policy names");
  add_common_flags(*list, lf->common);
  list->callback([lf, &exit_code] { exit_code = run_list(*lf); });

  auto df = std::make_shared<PolicyFlags>();
  auto* del = policy->add_subcommand("delete", "Delete a policy");
  add_common_flags(*del, df->common);
  del->add_option("name", df->name, "Policy name")->required();
  del->callback([df, &exit_code] { exit_code = run_delete(*df); });
}

}  // namespace leasefs::cli
