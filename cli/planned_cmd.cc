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
