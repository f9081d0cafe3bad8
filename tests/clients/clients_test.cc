// Proves that real Vault clients work unchanged against leasefs: hvac 0.11 (Debian's
// python3-hvac under /usr/bin/python3, tests/clients/hvac_flow.py) and node-vault
// 0.12.0 (npm, tests/clients/node/node_vault_flow.js) each drive a fresh, uninitialized
// server from init through KV, policies, tokens, AppRole, revoke and seal/unseal, over
// HTTP and HTTPS (throwaway CA), with SQLite and inmem storage. This test starts and
// stops the server (SIGTERM, exit 0 required) and runs the script with a deadline; the
// script asserts every step and exits non-zero on the first failure. It also checks
// that no secret the script saw (it lists them in a file) was printed by the script or
// logged by the server.
#include <gtest/gtest.h>

#include <fstream>
#include <ostream>
#include <sstream>

#include "tests/support/server_fixture.h"

namespace leasefs::testing {
namespace {

struct ClientMode {
  StorageKind storage = StorageKind::kSqlite;
  bool tls = false;
};

std::string describe(const ClientMode& mode) {
  return std::string(storage_name(mode.storage)) + (mode.tls ? "_tls" : "_plain");
}

std::string mode_name(const ::testing::TestParamInfo<ClientMode>& info) {
  return describe(info.param);
}

// How gtest prints a ClientMode (instead of its bytes).
void PrintTo(const ClientMode& mode, std::ostream* os) { *os << describe(mode); }

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

class ClientsTest : public ::testing::TestWithParam<ClientMode> {
 protected:
  // Starts a server, runs `program` (argv after the environment) against it, and checks
  // the outcome. The environment is cleaned of anything that could steer the client
  // elsewhere (a token, a proxy, TLS overrides).
  void run_flow(const std::vector<std::string>& program, const std::string& success_line) {
    TempDir work;
    auto server = ServerProcess::start({.storage = GetParam().storage, .tls = GetParam().tls});
    ASSERT_TRUE(server) << server.error();
    const std::string secrets_file = work / "secrets.txt";

    std::vector<std::string> argv = {"/usr/bin/env"};
    for (const char* name : {"VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_SKIP_VERIFY", "VAULT_PREFIX",
                             "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY", "REQUESTS_CA_BUNDLE",
                             "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "NODE_OPTIONS",
                             "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY", "DEBUG"}) {
      argv.insert(argv.end(), {"-u", name});
    }
    argv.push_back("NO_PROXY=127.0.0.1,localhost");
    argv.push_back("no_proxy=127.0.0.1,localhost");
    argv.push_back("VAULT_ADDR=" + (*server)->address());
    argv.push_back("VAULT_CACERT=" + (*server)->ca_file());
    argv.push_back("LEASEFS_TEST_SECRETS_FILE=" + secrets_file);
    argv.insert(argv.end(), program.begin(), program.end());

    ProcessResult r = run_process(argv, "", std::chrono::seconds(90));
    const std::string printed = r.out + r.err;
    EXPECT_FALSE(r.timed_out) << "the client script did not finish in 90 s:\n" << printed;
    EXPECT_EQ(r.exit_code, 0) << "client script failed:\n" << printed << "\nserver output:\n"
                              << (*server)->output();
    EXPECT_NE(r.out.find(success_line), std::string::npos) << printed;

    ExitStatus stopped = (*server)->stop();
    EXPECT_TRUE(stopped.clean()) << "server " << stopped.describe() << "\n" << (*server)->output();

    // Nothing secret on the client's output or in the server's log.
    const auto secrets = read_lines(secrets_file);
    if (r.exit_code == 0) {
      EXPECT_GE(secrets.size(), 10u) << "the script recorded too few secrets";
    }
    const std::string server_log = (*server)->output();
    for (std::size_t i = 0; i < secrets.size(); ++i) {
      EXPECT_EQ(printed.find(secrets[i]), std::string::npos)
          << "the client printed secret #" << i << " of " << secrets_file;
      EXPECT_EQ(server_log.find(secrets[i]), std::string::npos)
          << "the server logged secret #" << i << " of " << secrets_file;
    }
  }
};

TEST_P(ClientsTest, Hvac) {
  const std::string python = "/usr/bin/python3";
  ProcessResult probe = run_process({python, "-c", "import hvac"}, "", std::chrono::seconds(30));
  ASSERT_EQ(probe.exit_code, 0) << "hvac is missing: apt-get install python3-hvac "
                                   "(packaging/install-deps.sh installs it)\n"
                                << probe.err;
  run_flow({python, source_dir() + "/tests/clients/hvac_flow.py"}, "hvac flow: all steps passed");
}

TEST_P(ClientsTest, NodeVault) {
  // Installs node-vault from npm unless it is already there (normally install-deps.sh
  // did); the script holds a lock, so parallel tests wait for one install.
  const std::string node_dir = source_dir() + "/tests/clients/node";
  ProcessResult setup = run_process({"/bin/bash", node_dir + "/setup.sh"}, "", std::chrono::minutes(8));
  ASSERT_EQ(setup.exit_code, 0) << "tests/clients/node/setup.sh failed:\n" << setup.out << setup.err;
  run_flow({"node", node_dir + "/node_vault_flow.js"}, "node-vault flow: all steps passed");
}

INSTANTIATE_TEST_SUITE_P(Modes, ClientsTest,
                         ::testing::Values(ClientMode{.storage = StorageKind::kSqlite, .tls = false},
                                           ClientMode{.storage = StorageKind::kSqlite, .tls = true},
                                           ClientMode{.storage = StorageKind::kInmem, .tls = false},
                                           ClientMode{.storage = StorageKind::kInmem, .tls = true}),
                         mode_name);

}  // namespace
}  // namespace leasefs::testing
