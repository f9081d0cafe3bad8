// Status code -> HTTP status, as Vault answers.
#include "backend/server/status_http.h"

namespace leasefs::backend::server {

int http_status(sdk::Code code) {
  switch (code) {
    case sdk::Code::kOk: return 200;
    case sdk::Code::kInvalidArgument: return 400;
    case sdk::Code::kNotFound: return 404;
    case sdk::Code::kAlreadyExists: return 400;
    case sdk::Code::kPermissionDenied: return 403;
    case sdk::Code::kUnsupported: return 405;
    case sdk::Code::kConflict: return 400;  // Vault: check-and-set mismatches are 400
    case sdk::Code::kFailedPrecondition: return 400;
    case sdk::Code::kSealed: return 503;
    case sdk::Code::kTooLarge: return 413;
    case sdk::Code::kResourceExhausted: return 429;
    case sdk::Code::kUnavailable: return 502;  // an upstream (database, storage) failed
    case sdk::Code::kDeadlineExceeded: return 504;
    case sdk::Code::kDataLoss: return 500;
    case sdk::Code::kUnimplemented: return 501;
    case sdk::Code::kInternal: return 500;
  }
  return 500;
}

}  // namespace leasefs::backend::server
