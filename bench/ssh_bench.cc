// ssh_bench: SSH certificates signed per second through the SSH engine (sign/<role> with
// an Ed25519 user key: parse, role checks, certificate encoding, signature), per CA key
// type, next to a baseline measured in the same run with the same CA key: OpenSSL's raw
// EVP_DigestSign over a message of the certificate's size with the same algorithm.
// Rounds interleave subject and baseline; medians are printed.
//
//   ssh_bench [--seconds 1] [--rounds 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "backend/sdk/backend.h"
#include "backend/storage/inmem_storage.h"
#include "engines/ssh/openssh.h"
#include "engines/ssh/ssh.h"

namespace {

namespace sdk = leasefs::backend::sdk;
namespace ssh = leasefs::engines::ssh;
using nlohmann::json;
using Steady = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "ssh_bench: %s\n", message.c_str());
  std::exit(1);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Calls `fn` for `seconds`; operations per second.
template <class Fn>
double rate(double seconds, Fn&& fn) {
  const auto start = Steady::now();
  long n = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 8; ++i) fn();
    n += 8;
    elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  } while (elapsed < seconds);
  return n / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ssh_bench"};
  double seconds = 1;
  int rounds = 3;
  app.add_option("--seconds", seconds, "length of each measurement");
  app.add_option("--rounds", rounds, "interleaved rounds");
  CLI11_PARSE(app, argc, argv);

  // The user key being signed: a fixed Ed25519 key made here.
  auto user = ssh::generate_ca_key("ed25519", 0);
  if (!user) die(user.error().message());
  auto user_pub = ssh::public_key_of(user->get());
  if (!user_pub) die(user_pub.error().message());
  const std::string user_line = ssh::public_key_line(*user_pub);

  std::printf("ssh_bench: sign/<role> of an Ed25519 user key, %d rounds of %.1f s\n", rounds,
              seconds);
  struct Case {
    const char* key_type;
    int bits;
    const char* signer;
    const char* label;
    const EVP_MD* md;
  };
  const Case cases[] = {{"ed25519", 0, "default", "ed25519", nullptr},
                        {"ec", 256, "default", "ecdsa-p256 (sha256)", EVP_sha256()},
                        {"ssh-rsa", 2048, "rsa-sha2-256", "rsa-2048 (rsa-sha2-256)", EVP_sha256()},
                        {"ssh-rsa", 4096, "rsa-sha2-512", "rsa-4096 (rsa-sha2-512)", EVP_sha512()}};
  for (const auto& c : cases) {
    leasefs::backend::storage::InmemStorage storage;
    sdk::BackendConfig config{.mount_path = "ssh/",
                              .type = "ssh",
                              .options = {},
                              .storage = &storage,
                              .clock = &sdk::SystemClock::instance(),
                              .random = &sdk::SystemRandom::instance()};
    auto made = ssh::make_ssh(config);
    if (!made) die(made.error().message());
    auto& engine = **made;
    auto request = [&](sdk::Operation op, std::string path, json data) {
      sdk::Request r;
      r.operation = op;
      r.path = std::move(path);
      r.mount_point = "ssh/";
      r.data = std::move(data);
      r.caller.display_name = "bench";
      r.storage = &storage;
      r.clock = &sdk::SystemClock::instance();
      r.random = &sdk::SystemRandom::instance();
      return r;
    };
    auto ca_req = request(sdk::Operation::kUpdate, "config/ca",
                          {{"key_type", c.key_type}, {"key_bits", c.bits}});
    if (auto r = engine.handle(ca_req); !r) die(r.error().message());
    auto role_req = request(sdk::Operation::kUpdate, "roles/bench",
                            {{"key_type", "ca"},
                             {"allow_user_certificates", true},
                             {"allowed_users", "*"},
                             {"default_extensions", {{"permit-pty", ""}}},
                             {"algorithm_signer", c.signer},
                             {"ttl", "1h"}});
    if (auto r = engine.handle(role_req); !r) die(r.error().message());

    // The CA key itself, for the baseline (read back from the engine's storage).
    auto pem = storage.get("config/ca_private_key");
    if (!pem || !pem->has_value()) die("no CA key stored");
    auto ca_key = ssh::parse_private_key_pem(**pem);
    if (!ca_key) die(ca_key.error().message());

    std::size_t cert_size = 0;
    const json sign_body = {{"public_key", user_line}, {"valid_principals", "deploy"}};
    auto sign_once = [&] {
      auto r = request(sdk::Operation::kUpdate, "sign/bench", sign_body);
      auto out = engine.handle(r);
      if (!out) die(out.error().message());
      cert_size = out->data["signed_key"].get<std::string>().size() * 3 / 4;
    };
    sign_once();
    const std::string message(cert_size, 'x');
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::vector<unsigned char> sig(1024);
    auto raw_sign = [&] {
      std::size_t len = sig.size();
      if (EVP_DigestSignInit(ctx, nullptr, c.md, nullptr, ca_key->get()) != 1 ||
          EVP_DigestSign(ctx, sig.data(), &len,
                         reinterpret_cast<const unsigned char*>(message.data()),
                         message.size()) != 1) {
        die("EVP_DigestSign failed");
      }
    };
    std::vector<double> subject, baseline;
    for (int round = 0; round < rounds; ++round) {
      subject.push_back(rate(seconds, sign_once));
      baseline.push_back(rate(seconds, raw_sign));
    }
    EVP_MD_CTX_free(ctx);
    const double s = median(subject), b = median(baseline);
    std::printf("  CA %-24s engine %8.0f signs/s, raw EVP_DigestSign %8.0f/s, ratio %.2f\n",
                c.label, s, b, s / b);
  }
  return 0;
}
