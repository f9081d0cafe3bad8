// Kernel FUSE passthrough (Linux 6.9+, CONFIG_FUSE_PASSTHROUGH, CAP_SYS_ADMIN): an open
// answered with the id of a "backing file" has its reads served by the kernel from that
// file, without a READ request to the daemon. For a cached shared secret that turns
// open+read+close from three requests into two (OPEN and RELEASE). The daemon still
// answers every open, so access rules, the access audit and lease handling are unchanged.
//
// A backing file here is a memfd holding one content's bytes, mapped, locked in memory
// and left out of core dumps like the daemon's own buffers, and zeroed then truncated
// when the content's lease ends (handles still open on it then read end-of-file).
//
// libfuse 3.14 knows nothing of passthrough, so the session's device I/O is hooked
// (fuse_session_custom_io): the INIT request says whether the kernel offers it, and the
// INIT reply asks for it. The OPEN reply carrying the backing id is written by
// reply_open_passthrough. The kernel allows one backing file per inode at a time: the
// mount gives a secret file a new inode number when its content changes while handles
// on the old content are open (see mount.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "backend/sdk/status.h"

struct fuse_session;
struct fuse_req;

namespace leasefs::fs {

namespace sdk = backend::sdk;

// Hooks `se`'s device I/O so that INIT asks for passthrough when the kernel offers it.
// Call after fuse_session_mount and before the request loop; one session per process.
sdk::Result<void> negotiate_passthrough(fuse_session* se);
// After INIT: whether the kernel offered passthrough and was asked for it.
bool passthrough_negotiated();

// One content's bytes in a memfd registered with the kernel as a backing file.
class BackingFile {
 public:
  // Errors: kUnavailable when the kernel refuses the registration (no CAP_SYS_ADMIN,
  // passthrough not negotiated), kInternal when the memfd cannot be made.
  static sdk::Result<std::unique_ptr<BackingFile>> create(int device_fd, std::string_view bytes);
  BackingFile(const BackingFile&) = delete;
  BackingFile& operator=(const BackingFile&) = delete;
  // Wipes, unregisters and closes.
  ~BackingFile();

  // The id an OPEN reply names.
  std::int32_t id() const { return id_; }
  // Zeroes the bytes and truncates the file: its handles read end-of-file from now on.
  void wipe();

 private:
  BackingFile(int device_fd, int memfd) : device_fd_(device_fd), memfd_(memfd) {}

  int device_fd_ = -1;
  int memfd_ = -1;
  std::int32_t id_ = 0;
  void* map_ = nullptr;
  std::size_t size_ = 0;
};

// Replies to OPEN with FOPEN_PASSTHROUGH, FOPEN_NOFLUSH and `backing_id` (no page cache
// of the FUSE file: the kernel reads the backing file). Returns fuse_reply_iov's result.
int reply_open_passthrough(fuse_req* req, std::uint64_t fh, std::int32_t backing_id);

}  // namespace leasefs::fs
