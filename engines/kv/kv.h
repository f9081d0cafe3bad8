// The KV secrets engine, versions 1 and 2, as Vault's `kv` mount type serves them.
//
// Version 1 stores one JSON object per path and nothing else: read, write, delete,
// list. A "ttl" (or "lease") key in the object only sets an advisory lease_duration on
// read; no lease is created.
//
// Version 2 keeps up to max_versions versions of every secret, with per-secret
// metadata, check-and-set, soft delete, undelete, destroy, subkeys and
// delete_version_after, under the paths config, data/, metadata/, delete/, undelete/,
// destroy/ and subkeys/ (see backend.cc for the list and the storage layout).
//
// Conventions the core relies on:
//  - a plain 404 (missing secret, version or folder) is Code::kNotFound with an empty
//    message, which the HTTP layer renders as Vault's {"errors":[]};
//  - Vault's "data with a non-200 status" answers (a deleted or destroyed version, an
//    invalid KV v2 path) set sdk::Response::status;
//  - KV v1 reads set sdk::Response::advisory_ttl instead of a SecretInfo.
#pragma once

#include <cstddef>
#include <memory>

#include "backend/sdk/backend.h"

namespace leasefs::engines::kv {

namespace sdk = ::leasefs::backend::sdk;

// Largest secret a write may store: the JSON encoding of the data object (v1: the
// whole body; v2: the "data" field, after a patch is applied). Larger writes fail with
// Code::kTooLarge (HTTP 413) and store nothing.
inline constexpr std::size_t kMaxSecretBytes = 1 << 20;

// Builds a KV engine for a mount. `config.options["version"]` picks the flavour:
// absent, "" or "1" = version 1, "2" = version 2, anything else = invalid_argument.
// `config.storage` and `config.clock` must be set and outlive the engine (fails with
// invalid_argument otherwise); the engine keeps its whole state in that storage.
// The returned engine is thread-safe; writes to one secret are serialized, so of two
// concurrent check-and-set writes at most one succeeds.
sdk::Result<std::unique_ptr<sdk::Backend>> make_kv(const sdk::BackendConfig& config);

}  // namespace leasefs::engines::kv
