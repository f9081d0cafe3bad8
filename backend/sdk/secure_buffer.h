// SecureBuffer: the only place secret key bytes live in leasefs. Memory comes from
// OpenSSL's secure heap (mlock'ed, excluded from core dumps, guard pages around it),
// is zero-filled on allocation and wiped on destruction. When the secure heap cannot be
// created (RLIMIT_MEMLOCK too small) or is full, the buffer falls back to ordinary
// memory that is still wiped; locked() says which one a buffer got.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace leasefs::backend::sdk {

// Sets the size of the locked heap, before the first SecureBuffer exists. `bytes` is
// rounded up to a power of two; smaller sizes are tried when the limit refuses it.
// Returns the size obtained (0 when no locked heap could be made). Thread-safe; only
// the first call (or the first SecureBuffer) decides.
std::size_t configure_secure_memory(std::size_t bytes);

// Bytes of the locked heap in use now (for status output and tests).
std::size_t secure_memory_used();

// Marks the process non-dumpable (no core dumps, no ptrace by other uids) so keys in
// memory cannot leak through a crash. Returns false if the kernel refused.
bool disable_core_dumps();

class SecureBuffer {
 public:
  SecureBuffer() = default;
  // `size` zero bytes. A size of 0 gives an empty buffer.
  explicit SecureBuffer(std::size_t size);
  static SecureBuffer copy_of(std::span<const std::uint8_t> bytes);
  static SecureBuffer copy_of(std::string_view bytes);

  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  ~SecureBuffer();

  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<std::uint8_t> span() { return {data_, size_}; }
  std::span<const std::uint8_t> span() const { return {data_, size_}; }
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

  // True when the bytes are in locked memory.
  bool locked() const;
  // Wipes and frees now; the buffer becomes empty.
  void reset();
  SecureBuffer clone() const { return copy_of(span()); }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Constant-time equality of two byte strings (the lengths are not secret).
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);
bool constant_time_equal(std::string_view a, std::string_view b);

// Overwrites memory in a way the compiler cannot elide.
void wipe(void* data, std::size_t size);

}  // namespace leasefs::backend::sdk
