// Real TLS handshakes with issued server certificates: in process (OpenSSL client and
// server over a BIO pair, for RSA, EC and Ed25519 CAs and leaves), and between an
// `openssl s_server` child on a free loopback port and `openssl s_client`, with hostname
// verification. The child is killed and reaped at the end of the test, whatever happens.
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/pki/cert_util.h"
#include "tests/unit/engines/pki/pki_test_util.h"

extern char** environ;

namespace leasefs::engines::pki {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};

X509Ptr read_cert(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr read_key(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// A TLS handshake between an OpenSSL client that trusts only `ca_pem` and checks
// `host`, and a server presenting `cert_pem`/`key_pem`, then one message each way.
// Returns "" on success, else what failed.
std::string tls_handshake(const std::string& ca_pem, const std::string& cert_pem,
                          const std::string& key_pem, const std::string& host) {
  std::unique_ptr<SSL_CTX, SslCtxFree> server_ctx(SSL_CTX_new(TLS_server_method()));
  std::unique_ptr<SSL_CTX, SslCtxFree> client_ctx(SSL_CTX_new(TLS_client_method()));
  auto cert = read_cert(cert_pem);
  auto key = read_key(key_pem);
  auto ca = read_cert(ca_pem);
  if (!server_ctx || !client_ctx || !cert || !key || !ca) return "setup failed";
  if (SSL_CTX_use_certificate(server_ctx.get(), cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(server_ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(server_ctx.get()) != 1) {
    return "server key and certificate do not match";
  }
  if (X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), ca.get()) != 1) {
    return "cannot trust the CA";
  }
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);

  std::unique_ptr<SSL, SslFree> client(SSL_new(client_ctx.get()));
  std::unique_ptr<SSL, SslFree> server(SSL_new(server_ctx.get()));
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  if (!client || !server || BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) != 1) {
    return "cannot make the connection";
  }
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_tlsext_host_name(client.get(), host.c_str());
  SSL_set1_host(client.get(), host.c_str());
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());

  bool client_done = false;
  bool server_done = false;
  for (int round = 0; round < 50 && !(client_done && server_done); ++round) {
    for (auto [ssl, done] : {std::pair{client.get(), &client_done}, {server.get(), &server_done}}) {
      if (*done) continue;
      int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
        continue;
      }
      int err = SSL_get_error(ssl, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        std::string why = ssl == client.get() ? "client: " : "server: ";
        why += X509_verify_cert_error_string(SSL_get_verify_result(client.get()));
        ERR_clear_error();
        return why;
      }
    }
  }
  if (!client_done || !server_done) return "handshake did not finish";
  if (SSL_get_verify_result(client.get()) != X509_V_OK) return "certificate not verified";

  const std::string ping = "ping";
  char buf[16] = {};
  if (SSL_write(client.get(), ping.data(), static_cast<int>(ping.size())) != 4 ||
      SSL_read(server.get(), buf, sizeof buf) != 4 || std::string(buf, 4) != ping) {
    return "no data went through";
  }
  return "";
}

// A child process in the background, killed (SIGKILL) and reaped on destruction.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  bool started() const { return pid_ > 0; }
  // True while the child has not exited.
  bool running() {
    int status = 0;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

class PkiTlsTest : public PkiTest {};

TEST_F(PkiTlsTest, InProcessHandshakeWithIssuedServerCertificates) {
  struct Case {
    std::string ca_type;
    std::string leaf_type;
  };
  for (const auto& c : std::vector<Case>{
           {"rsa", "rsa"}, {"ec", "ec"}, {"ec", "rsa"}, {"ed25519", "ec"}, {"rsa", "ed25519"}}) {
    SCOPED_TRACE(c.ca_type + " CA, " + c.leaf_type + " leaf");
    ASSERT_TRUE(call(Operation::kDelete, "root"));
    generate_root({{"common_name", "TLS Root"}, {"key_type", c.ca_type}});
    create_role("web", {{"allowed_domains", "example.com"},
                        {"allow_subdomains", true},
                        {"key_type", c.leaf_type}});
    json leaf = ok(write("issue/web", {{"common_name", "web.example.com"}}));
    EXPECT_EQ(tls_handshake(ca_pem_, leaf["certificate"], leaf["private_key"], "web.example.com"),
              "");
    // The client checks the name: another host name fails.
    EXPECT_NE(tls_handshake(ca_pem_, leaf["certificate"], leaf["private_key"], "db.example.com"),
              "");
  }
  // A certificate from another CA is not trusted.
  json other_leaf = ok(write("issue/web", {{"common_name", "web.example.com"}}));
  ASSERT_TRUE(call(Operation::kDelete, "root"));
  generate_root({{"common_name", "Other Root"}, {"key_type", "ec"}});
  EXPECT_NE(tls_handshake(ca_pem_, other_leaf["certificate"], other_leaf["private_key"],
                          "web.example.com"),
            "");
}

TEST_F(PkiTlsTest, OpensslServerAndClientShakeHands) {
  generate_root({{"common_name", "CLI TLS Root"}, {"key_type", "rsa"}});
  create_role("web", {{"allowed_domains", "example.com"}, {"allow_subdomains", true}});
  json leaf = ok(write("issue/web", {{"common_name", "web.example.com"}, {"ttl", "1h"}}));
  const std::string cert = file("server.pem", leaf["certificate"]);
  const std::string key = file("server.key", leaf["private_key"]);
  const std::string ca = file("ca.pem", ca_pem_);

  const int port = free_loopback_port();
  ASSERT_GT(port, 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Background server({kOpenssl, "s_server", "-cert", cert, "-key", key, "-accept", address, "-www"},
                    tmp_ / "s_server.log");
  ASSERT_TRUE(server.started());

  auto connect = [&](const std::string& host) {
    return openssl({"s_client", "-connect", address, "-CAfile", ca, "-verify_return_error",
                    "-servername", host, "-verify_hostname", host, "-brief", "-no_ign_eof"});
  };
  // Poll, with a deadline, until the server listens.
  leasefs::testing::ProcessResult r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    r = connect("web.example.com");
    const std::string all = r.out + r.err;
    const bool refused = all.find("Connection refused") != std::string::npos ||
                         all.find("errno=111") != std::string::npos;
    if (!refused || std::chrono::steady_clock::now() > deadline || !server.running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("Verification: OK"), std::string::npos) << r.out << r.err;

  auto wrong = connect("db.example.com");
  EXPECT_NE(wrong.exit_code, 0) << wrong.out << wrong.err;
  EXPECT_NE((wrong.out + wrong.err).find("hostname mismatch"), std::string::npos)
      << wrong.out << wrong.err;
}

}  // namespace
}  // namespace leasefs::engines::pki
