// Writing small files the daemons keep (the mount's access-event spool, the volume
// plugin's state) so that a crash or a full disk never leaves half of one unnoticed.
#pragma once

#include <string>
#include <string_view>

#include "backend/sdk/status.h"

namespace leasefs::fs {

namespace sdk = backend::sdk;

// Replaces `path` with `content` (mode 0600) through a temporary file beside it,
// fsync and rename, then syncs the directory: a crash leaves the old file or the new
// one, never half of one. On failure `path` is unchanged and the temporary file gone.
// Errors: kUnavailable naming the step, the file and the reason.
sdk::Status write_file_atomically(const std::string& path, std::string_view content);

// Appends `content` to `path` (created with mode 0600) and fsyncs it. Errors:
// kUnavailable naming the step, the file and the reason; part of `content` may then
// have been written.
sdk::Status append_to_file(const std::string& path, std::string_view content);

}  // namespace leasefs::fs
