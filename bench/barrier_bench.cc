// Barrier throughput: encrypt+decrypt of 1 KiB values per second on one core.
// Prints three rows measured in the same run, interleaved and repeated (median of 5):
//   openssl-floor  raw EVP AES-256-GCM encrypt+decrypt with pre-keyed contexts and a
//                  counter nonce: the floor any design on OpenSSL pays;
//   barrier-codec  leasefs's value format (random nonce from the chunked BufferedRandom,
//                  header, AAD = path) through the pooled AesGcm: what every stored
//                  value costs;
//   barrier-store  Barrier::put + Barrier::get over InmemStorage (adds key checks,
//                  locks, the keyring and a map), the path a request takes.
// and the ratio of each to the floor. Usage: barrier_bench [seconds-per-sample]
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backend/barrier/barrier.h"
#include "backend/sdk/buffered_random.h"
#include "backend/barrier/value_format.h"
#include "backend/storage/inmem_storage.h"

namespace {

namespace sdk = leasefs::backend::sdk;
namespace barrier = leasefs::backend::barrier;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kValueSize = 1024;

// Runs `op` repeatedly for about `seconds`; returns operations per second.
double rate(double seconds, const std::function<void()>& op) {
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::uint64_t n = 0;
  while (true) {
    for (int i = 0; i < 256; ++i) op();
    n += 256;
    auto now = Clock::now();
    if (now >= deadline) return static_cast<double>(n) / std::chrono::duration<double>(now - start).count();
  }
}

void fail(const char* what) {
  std::fprintf(stderr, "barrier_bench: %s\n", what);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  auto& random = sdk::SystemRandom::instance();
  auto key = sdk::random_key(random, barrier::kKeySize).value();
  std::string plaintext(kValueSize, 'v');
  const std::string path = "logical/6f1c0b8e-2d7a-4c1e-9a55-3b0f2e8d9c41/app/config";

  // openssl-floor
  EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
  if (EVP_EncryptInit_ex(enc, EVP_aes_256_gcm(), nullptr, key.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex(dec, EVP_aes_256_gcm(), nullptr, key.data(), nullptr) != 1) {
    fail("EVP init");
  }
  std::vector<unsigned char> ct(kValueSize), pt(kValueSize);
  unsigned char nonce[12] = {};
  unsigned char tag[16];
  std::uint64_t counter = 0;
  auto floor_op = [&] {
    ++counter;
    std::memcpy(nonce, &counter, sizeof counter);
    int len = 0;
    bool ok = EVP_EncryptInit_ex(enc, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_EncryptUpdate(enc, nullptr, &len, reinterpret_cast<const unsigned char*>(path.data()),
                                static_cast<int>(path.size())) == 1 &&
              EVP_EncryptUpdate(enc, ct.data(), &len,
                                reinterpret_cast<const unsigned char*>(plaintext.data()),
                                static_cast<int>(kValueSize)) == 1 &&
              EVP_EncryptFinal_ex(enc, ct.data() + len, &len) == 1 &&
              EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 &&
              EVP_DecryptInit_ex(dec, nullptr, nullptr, nullptr, nonce) == 1 &&
              EVP_DecryptUpdate(dec, nullptr, &len, reinterpret_cast<const unsigned char*>(path.data()),
                                static_cast<int>(path.size())) == 1 &&
              EVP_DecryptUpdate(dec, pt.data(), &len, ct.data(), static_cast<int>(kValueSize)) == 1 &&
              EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
              EVP_DecryptFinal_ex(dec, pt.data() + len, &len) == 1;
    if (!ok) fail("raw AES-GCM failed");
  };

  // barrier-codec
  auto cipher = barrier::AesGcm::create(key.span()).value();
  sdk::BufferedRandom nonces(random);
  std::string out(kValueSize, '\0');
  auto codec_op = [&] {
    auto sealed = barrier::seal_value(*cipher, 1, path, plaintext, nonces);
    if (!sealed) fail("seal_value failed");
    if (!barrier::open_value(*cipher, path, *sealed,
                             {reinterpret_cast<std::uint8_t*>(out.data()), out.size()})) {
      fail("open_value failed");
    }
  };

  // barrier-store
  leasefs::backend::storage::InmemStorage physical;
  sdk::SystemClock& clock = sdk::SystemClock::instance();
  barrier::Barrier store(physical, clock, random);
  if (!store.initialize(key) || !store.unseal(key)) fail("barrier init");
  std::vector<std::string> keys;
  for (int i = 0; i < 1024; ++i) keys.push_back("logical/app/k" + std::to_string(i));
  std::size_t next = 0;
  auto store_op = [&] {
    const std::string& k = keys[next++ % keys.size()];
    if (!store.put(k, plaintext)) fail("put failed");
    auto got = store.get(k);
    if (!got || !got->has_value() || (*got)->size() != kValueSize) fail("get failed");
  };

  std::vector<double> floor_rates, codec_rates, store_rates;
  for (int round = 0; round < 5; ++round) {
    floor_rates.push_back(rate(seconds, floor_op));
    codec_rates.push_back(rate(seconds, codec_op));
    store_rates.push_back(rate(seconds, store_op));
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double f = median(floor_rates), c = median(codec_rates), s = median(store_rates);
  std::printf("barrier_bench: 1 KiB values, encrypt+decrypt pairs per second, one thread, "
              "median of 5 x %.1fs\n", seconds);
  std::printf("  %-14s %12.0f /s  %7.1f MB/s  ratio 1.00 (baseline)\n", "openssl-floor", f,
              f * 2 * kValueSize / 1e6);
  std::printf("  %-14s %12.0f /s  %7.1f MB/s  ratio %.2f of floor\n", "barrier-codec", c,
              c * 2 * kValueSize / 1e6, c / f);
  std::printf("  %-14s %12.0f /s  %7.1f MB/s  ratio %.2f of floor\n", "barrier-store", s,
              s * 2 * kValueSize / 1e6, s / f);
  std::printf("  target: >= 500000 /s for barrier-codec: %s\n", c >= 500000 ? "met" : "NOT met");
  EVP_CIPHER_CTX_free(enc);
  EVP_CIPHER_CTX_free(dec);
  return 0;
}
