// Turning one backend response into the bytes of a file: one field, the whole JSON,
// KEY=value lines, or a small {{field}} template. Pure functions, tested on their own.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/status.h"
#include "fs/config.h"

namespace leasefs::fs {

// The object a file renders from, picked out of a Vault response envelope: `auth` for
// login and token-create responses, `data.data` for KV v2 reads, `data` otherwise.
// Errors: kInvalidArgument when the envelope has no object there.
sdk::Result<nlohmann::json> secret_payload(const nlohmann::json& envelope);

// Renders `payload` as the file `spec` says. Errors (kNotFound / kInvalidArgument) name
// the missing field or bad key but never a value.
sdk::Result<sdk::SecureBuffer> render_file(const FileSpec& spec, const nlohmann::json& payload);

}  // namespace leasefs::fs
