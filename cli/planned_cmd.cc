// Subcommands that are part of leasefs's interface but not built yet. Each has its
// help text, and running it says which issue brings it and exits 1: nothing here
// pretends to work.
#include "cli/cli.h"

namespace leasefs::cli {

namespace {

struct Planned {
  const char* name;
  const char* description;
  const char* arrives_with;
  std::vector<std::pair<const char*, const char*>> children;
};

const std::vector<Planned>& planned() {
  static const std::vector<Planned> kPlanned = {
      {"mount", "Mount a directory where opening a file generates a leased secret",
       "the FUSE mount (issue 5)", {}},
      {"read", "Read data at a path", "the API server (issue 3)", {}},
      {"write", "Write data to a path", "the API server (issue 3)", {}},
      {"list", "List keys under a path", "the API server (issue 3)", {}},
      {"delete", "Delete data at a path", "the API server (issue 3)", {}},
      {"kv", "Key/value secrets (v1 and v2)", "the API server (issue 3)",
       {{"put", "Write a secret"}, {"get", "Read a secret"}, {"list", "List secrets"},
        {"delete", "Soft-delete a secret version"}, {"undelete", "Restore deleted versions"},
        {"destroy", "Destroy versions for good"}, {"metadata", "Read or write metadata"}}},
      {"token", "Create, look up, renew and revoke tokens", "the API server (issue 3)",
       {{"create", "Create a token"}, {"lookup", "Show a token's properties"},
        {"renew", "Renew a token"}, {"revoke", "Revoke a token and its children"}}},
      {"policy", "Manage ACL policies", "the API server (issue 3)",
       {{"write", "Write a policy"}, {"read", "Read a policy"}, {"list", "List policies"},
        {"delete", "Delete a policy"}}},
      {"secrets", "Enable, disable and list secrets engines", "the API server (issue 3)",
       {{"enable", "Enable an engine"}, {"disable", "Disable an engine"},
        {"list", "List engines"}}},
      {"auth", "Enable and list auth methods", "the API server (issue 3)",
       {{"enable", "Enable an auth method"}, {"list", "List auth methods"}}},
      {"lease", "Look up, renew and revoke leases", "leases and audit (issue 4)",
       {{"lookup", "Show a lease"}, {"renew", "Renew a lease"}, {"revoke", "Revoke leases"}}},
      {"audit", "Audit devices and log verification", "leases and audit (issue 4)",
       {{"enable", "Enable an audit device"}, {"list", "List audit devices"},
        {"disable", "Disable an audit device"}, {"verify", "Verify an audit log's hash chain"}}},
  };
  return kPlanned;
}

}  // namespace

void register_planned_commands(CLI::App& app, int& exit_code) {
  for (const auto& p : planned()) {
    auto* cmd = app.add_subcommand(p.name, p.description);
    std::string message = std::string(p.name) + " is not implemented yet; it arrives with " +
                          p.arrives_with;
    auto not_yet = [message, &exit_code] { exit_code = fail(message); };
    if (p.children.empty()) {
      cmd->allow_extras();
      cmd->callback(not_yet);
      continue;
    }
    cmd->require_subcommand(1);
    for (const auto& [name, description] : p.children) {
      auto* child = cmd->add_subcommand(name, description);
      child->allow_extras();
      child->callback(not_yet);
    }
  }
}

}  // namespace leasefs::cli
