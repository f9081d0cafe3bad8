// Locked, wiped memory for keys, on top of OpenSSL's secure heap.
#include "backend/sdk/secure_buffer.h"

#include <openssl/crypto.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <utility>

namespace leasefs::backend::sdk {
namespace {

constexpr std::size_t kDefaultSecureHeap = std::size_t{1} << 21;  // 2 MiB
constexpr std::size_t kMinSecureHeap = std::size_t{1} << 14;       // 16 KiB
constexpr int kMinAllocation = 32;

std::once_flag g_heap_once;
std::atomic<std::size_t> g_heap_size{0};

std::size_t round_up_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

void init_heap(std::size_t wanted) {
  for (std::size_t size = round_up_pow2(wanted); size >= kMinSecureHeap; size >>= 1) {
    // 1: heap made and locked. 2: made but not fully protected (still usable, still
    // mlock'ed where the kernel allowed). 0: failed, try a smaller one.
    if (CRYPTO_secure_malloc_init(size, kMinAllocation) != 0) {
      g_heap_size.store(size);
      return;
    }
  }
}

void ensure_heap() {
  std::call_once(g_heap_once, [] { init_heap(kDefaultSecureHeap); });
}

}  // namespace

std::size_t configure_secure_memory(std::size_t bytes) {
  std::call_once(g_heap_once, [bytes] { init_heap(bytes); });
  return g_heap_size.load();
}

std::size_t secure_memory_used() { return CRYPTO_secure_used(); }

bool disable_core_dumps() { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0; }

SecureBuffer::SecureBuffer(std::size_t size) {
  if (size == 0) return;
  ensure_heap();
  void* p = OPENSSL_secure_zalloc(size);
  if (p == nullptr) std::abort();  // out of memory: nothing sensible to do with a key
  data_ = static_cast<std::uint8_t*>(p);
  size_ = size;
}

SecureBuffer SecureBuffer::copy_of(std::span<const std::uint8_t> bytes) {
  SecureBuffer b(bytes.size());
  if (!bytes.empty()) std::memcpy(b.data_, bytes.data(), bytes.size());
  return b;
}

SecureBuffer SecureBuffer::copy_of(std::string_view bytes) {
  return copy_of(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecureBuffer::~SecureBuffer() { reset(); }

void SecureBuffer::reset() {
  if (data_ != nullptr) OPENSSL_secure_clear_free(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

bool SecureBuffer::locked() const {
  return data_ != nullptr && CRYPTO_secure_allocated(data_) == 1;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void wipe(void* data, std::size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

}  // namespace leasefs::backend::sdk
