// Kernel FUSE passthrough; see passthrough.h.
#define FUSE_USE_VERSION 312
#include "fs/passthrough.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include <fuse3/fuse_lowlevel.h>
#include <linux/fuse.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

namespace leasefs::fs {

namespace {

// The kernel ABI of passthrough (protocol 7.40), which Debian bookworm's linux/fuse.h
// (7.37) predates.
constexpr std::uint32_t kInitExt = 1u << 30;          // FUSE_INIT_EXT, in flags
constexpr std::uint32_t kPassthroughFlag2 = 1u << 5;  // FUSE_PASSTHROUGH (bit 37), in flags2
constexpr std::uint32_t kOpenNoFlush = 1u << 5;       // FOPEN_NOFLUSH
constexpr std::uint32_t kOpenPassthrough = 1u << 7;   // FOPEN_PASSTHROUGH
constexpr std::uint32_t kInitOpcode = 26;             // FUSE_INIT
// fuse_init_in: major, minor, max_readahead, flags, flags2, ...
constexpr std::size_t kInitInFlags = 12, kInitInFlags2 = 16;
// fuse_init_out: ... flags at 12, flags2 at 32, max_stack_depth at 36; 64 bytes in all.
constexpr std::size_t kInitOutFlags = 12, kInitOutFlags2 = 32, kInitOutStackDepth = 36;
constexpr std::size_t kInitOutSize = 64;

struct BackingMap {  // struct fuse_backing_map
  std::int32_t fd;
  std::uint32_t flags;
  std::uint64_t padding;
};
constexpr unsigned long kBackingOpen = _IOW(229, 1, BackingMap);  // FUSE_DEV_IOC_BACKING_OPEN
constexpr unsigned long kBackingClose = _IOW(229, 2, std::uint32_t);

struct OpenOut {  // struct fuse_open_out (7.40: padding became backing_id)
  std::uint64_t fh;
  std::uint32_t open_flags;
  std::int32_t backing_id;
};
static_assert(sizeof(OpenOut) == 16);

// One session per process (the mount daemon, or fuse_bench's minimal daemon).
std::atomic<bool> g_offered{false};
std::atomic<bool> g_negotiated{false};
std::atomic<std::uint64_t> g_init_unique{0};

std::uint32_t load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store32(char* p, std::uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}

ssize_t device_read(int fd, void* buf, size_t len, void*) {
  const ssize_t n = ::read(fd, buf, len);
  // INIT comes once, first: every later request skips the look.
  if (g_init_unique.load(std::memory_order_relaxed) == 0 &&
      n >= static_cast<ssize_t>(sizeof(fuse_in_header) + kInitInFlags2 + 4)) {
    const auto* header = static_cast<const fuse_in_header*>(buf);
    if (header->opcode == kInitOpcode) {
      const char* in = static_cast<const char*>(buf) + sizeof(fuse_in_header);
      const bool ext = (load32(in + kInitInFlags) & kInitExt) != 0;
      g_offered = ext && (load32(in + kInitInFlags2) & kPassthroughFlag2) != 0;
      g_init_unique = header->unique;
    }
  }
  return n;
}

ssize_t device_writev(int fd, struct iovec* iov, int count, void*) {
  // The INIT reply: libfuse sends it as [header, fuse_init_out]. Ask for passthrough
  // with a stack depth of 1: backing files must be on a non-stacked filesystem (a memfd
  // is), and the mount itself can still be an overlayfs layer.
  bool patched = false;
  if (g_offered.load(std::memory_order_relaxed) && !g_negotiated.load(std::memory_order_relaxed) &&
      count >= 2 && iov[0].iov_len == sizeof(fuse_out_header) && iov[1].iov_len >= kInitOutSize) {
    const auto* header = static_cast<const fuse_out_header*>(iov[0].iov_base);
    if (header->unique == g_init_unique.load() && header->error == 0) {
      char* out = static_cast<char*>(iov[1].iov_base);
      store32(out + kInitOutFlags, load32(out + kInitOutFlags) | kInitExt);
      store32(out + kInitOutFlags2, load32(out + kInitOutFlags2) | kPassthroughFlag2);
      store32(out + kInitOutStackDepth, 1);
      patched = true;
    }
  }
  const ssize_t n = ::writev(fd, iov, count);
  if (patched && n >= 0) g_negotiated = true;
  return n;
}

}  // namespace

sdk::Result<void> negotiate_passthrough(fuse_session* se) {
  static const fuse_custom_io io{.writev = device_writev,
                                 .read = device_read,
                                 .splice_receive = nullptr,
                                 .splice_send = nullptr};
  const int rc = fuse_session_custom_io(se, &io, fuse_session_fd(se));
  if (rc != 0) {
    return sdk::internal_error("cannot hook the FUSE device for passthrough: " +
                               std::string(std::strerror(-rc)));
  }
  return {};
}

bool passthrough_negotiated() {
  return g_negotiated.load(std::memory_order_relaxed);
}

sdk::Result<std::unique_ptr<BackingFile>> BackingFile::create(int device_fd,
                                                              std::string_view bytes) {
  const int memfd = ::memfd_create("leasefs-secret", MFD_CLOEXEC);
  if (memfd < 0) return sdk::internal_error(std::string("memfd_create: ") + std::strerror(errno));
  std::unique_ptr<BackingFile> file(new BackingFile(device_fd, memfd));
  if (!bytes.empty()) {
    if (::ftruncate(memfd, static_cast<off_t>(bytes.size())) != 0) {
      return sdk::internal_error(std::string("sizing a backing file: ") + std::strerror(errno));
    }
    void* map = ::mmap(nullptr, bytes.size(), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (map == MAP_FAILED) {
      return sdk::internal_error(std::string("mapping a backing file: ") + std::strerror(errno));
    }
    file->map_ = map;
    file->size_ = bytes.size();
    // As the daemon's own secret buffers: never swapped out, never in a core dump.
    ::mlock(map, bytes.size());
    ::madvise(map, bytes.size(), MADV_DONTDUMP);
    std::memcpy(map, bytes.data(), bytes.size());
  }
  BackingMap request{.fd = memfd, .flags = 0, .padding = 0};
  const int id = ::ioctl(device_fd, kBackingOpen, &request);
  if (id <= 0) {
    return sdk::error(sdk::Code::kUnavailable,
                      std::string("the kernel refused a passthrough backing file: ") +
                          std::strerror(id < 0 ? errno : EINVAL));
  }
  file->id_ = id;
  return file;
}

void BackingFile::wipe() {
  if (map_ != nullptr) {
    explicit_bzero(map_, size_);
    ::munmap(map_, size_);
    map_ = nullptr;
  }
  // Truncated, its handles read end-of-file (were that to fail, they would read zeroes).
  if (size_ != 0 && memfd_ >= 0) (void)!::ftruncate(memfd_, 0);
  size_ = 0;
}

BackingFile::~BackingFile() {
  wipe();
  if (id_ > 0) {
    std::uint32_t id = static_cast<std::uint32_t>(id_);
    ::ioctl(device_fd_, kBackingClose, &id);
  }
  if (memfd_ >= 0) ::close(memfd_);
}

int reply_open_passthrough(fuse_req* req, std::uint64_t fh, std::int32_t backing_id) {
  OpenOut out{.fh = fh, .open_flags = kOpenPassthrough | kOpenNoFlush, .backing_id = backing_id};
  iovec v{.iov_base = &out, .iov_len = sizeof out};
  return fuse_reply_iov(req, &v, 1);
}

}  // namespace leasefs::fs
