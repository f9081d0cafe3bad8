// Status code -> errno, in one place (STYLE.md habit 1).
#pragma once

#include <cerrno>

#include "backend/sdk/status.h"

namespace leasefs::fs {

inline int errno_for(backend::sdk::Code code) {
  using backend::sdk::Code;
  switch (code) {
    case Code::kOk:
      return 0;
    case Code::kPermissionDenied:
      return EACCES;
    // Everything else, the server's or the network's trouble, is an I/O error to the
    // reader; the daemon's log and the access event say which.
    default:
      return EIO;
  }
}

}  // namespace leasefs::fs
