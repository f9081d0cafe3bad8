// Runs the server: storage, core, HTTP listener, signals. Blocks until SIGTERM or
// SIGINT, then stops accepting, lets requests in flight finish, seals and returns 0.
#pragma once

#include <functional>
#include <string>

#include "backend/server/config.h"

namespace leasefs::backend::server {

// Returns the process exit code. Prints the banner (and in dev mode the root token and
// unseal key) on stdout; logs go to stderr.
int run_server(const ServerConfig& config, const std::string& version);

}  // namespace leasefs::backend::server
