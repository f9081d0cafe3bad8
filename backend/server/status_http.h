// The one place a Status code becomes an HTTP status (Vault's codes).
#pragma once

#include "backend/sdk/status.h"

namespace leasefs::backend::server {

int http_status(sdk::Code code);

}  // namespace leasefs::backend::server
