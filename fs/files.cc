// See files.h.
#include "fs/files.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <unistd.h>

namespace leasefs::fs {
namespace {

sdk::Status failure(std::string_view step, const std::string& file, int err) {
  return sdk::Status(sdk::Code::kUnavailable,
                     "cannot " + std::string(step) + " " + file + ": " + std::strerror(err));
}

// Writes all of `content` to `fd` and fsyncs it; `file` names it in errors.
sdk::Status write_and_sync(int fd, std::string_view content, const std::string& file) {
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure("write", file, errno);
    if (n == 0) return failure("write", file, EIO);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return failure("fsync", file, errno);
  return {};
}

}  // namespace

sdk::Status write_file_atomically(const std::string& path, std::string_view content) {
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failure("create", temp, errno);
  sdk::Status status = write_and_sync(fd, content, temp);
  ::close(fd);
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = failure("rename", temp, errno);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

sdk::Status append_to_file(const std::string& path, std::string_view content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return failure("open", path, errno);
  sdk::Status status = write_and_sync(fd, content, path);
  ::close(fd);
  return status;
}

}  // namespace leasefs::fs
