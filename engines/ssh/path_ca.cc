// config/ca (generate or import the CA key; read its public key; delete it) and
// public_key (the CA public key as text, for sshd's TrustedUserCAKeys, no token needed).
#include <mutex>

#include "engines/ssh/engine.h"

namespace leasefs::engines::ssh {
namespace {

using nlohmann::json;
using sdk::FieldType;

// Vault's key_type spellings -> generate_ca_key's.
std::optional<std::string> ca_key_type(std::string_view type) {
  if (type == "ssh-rsa" || type == "rsa") return "rsa";
  if (type == "ec" || type == "ecdsa" || type == "ecdsa-sha2-nistp256" ||
      type == "ecdsa-sha2-nistp384" || type == "ecdsa-sha2-nistp521") {
    return "ec";
  }
  if (type == "ed25519" || type == "ssh-ed25519") return "ed25519";
  return std::nullopt;
}

sdk::Result<sdk::Response> write_ca(Engine& engine, sdk::Request& request,
                                    const sdk::FieldData& f) {
  std::unique_lock lock(engine.ca_mutex());
  auto existing = request.storage->get(kCaPublicKeyKey);
  if (!existing) return sdk::error(existing.error());
  if (existing->has_value()) {
    return sdk::invalid_argument("keys are already configured; delete them before reconfiguring");
  }
  const std::string private_pem = f.string("private_key");
  const std::string public_line = f.string("public_key");
  PkeyPtr key;
  if (!private_pem.empty()) {
    auto parsed = parse_private_key_pem(private_pem);
    if (!parsed) return sdk::error(parsed.error());
    key = std::move(*parsed);
  } else if (!public_line.empty()) {
    return sdk::invalid_argument("only one of public_key and private_key set; both are required");
  } else if (f.boolean("generate_signing_key")) {
    std::string type = f.string("key_type");
    auto kind = ca_key_type(type);
    if (!kind) {
      return sdk::invalid_argument("unknown key_type \"" + type + "\": use ssh-rsa, ec or ed25519");
    }
    int bits = static_cast<int>(f.integer("key_bits"));
    if (type == "ecdsa-sha2-nistp384") bits = 384;
    if (type == "ecdsa-sha2-nistp521") bits = 521;
    auto made = generate_ca_key(*kind, bits);
    if (!made) return sdk::error(made.error());
    key = std::move(*made);
  } else {
    return sdk::invalid_argument("missing public_key and private_key");
  }
  auto pub = public_key_of(key.get());
  if (!pub) return sdk::error(pub.error());
  const std::string line = public_key_line(*pub);
  if (!public_line.empty()) {
    auto given = parse_public_key(public_line);
    if (!given || given->blob != pub->blob) {
      return sdk::invalid_argument("public_key does not match private_key");
    }
  }
  auto pem = private_key_pem(key.get());
  if (!pem) return sdk::error(pem.error());
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::put(std::string(kCaPrivateKeyKey), std::string(pem->view())));
  ops.push_back(sdk::StorageOp::put(std::string(kCaPublicKeyKey), line));
  LEASEFS_TRY(request.storage->apply(ops));
  engine.forget_ca();
  return sdk::Response::with_data(json{{"public_key", line}});
}

sdk::Result<sdk::Response> read_ca(Engine& engine, sdk::Request& request, const sdk::FieldData&) {
  std::shared_lock lock(engine.ca_mutex());
  auto line = request.storage->get(kCaPublicKeyKey);
  if (!line) return sdk::error(line.error());
  if (!line->has_value()) {
    return sdk::invalid_argument("keys haven't been configured yet");
  }
  return sdk::Response::with_data(json{{"public_key", **line}});
}

sdk::Result<sdk::Response> delete_ca(Engine& engine, sdk::Request& request, const sdk::FieldData&) {
  std::unique_lock lock(engine.ca_mutex());
  std::vector<sdk::StorageOp> ops;
  ops.push_back(sdk::StorageOp::remove(std::string(kCaPrivateKeyKey)));
  ops.push_back(sdk::StorageOp::remove(std::string(kCaPublicKeyKey)));
  LEASEFS_TRY(request.storage->apply(ops));
  engine.forget_ca();
  return sdk::Response::empty();
}

sdk::Result<sdk::Response> public_key(Engine& engine, sdk::Request& request,
                                      const sdk::FieldData&) {
  std::shared_lock lock(engine.ca_mutex());
  auto line = request.storage->get(kCaPublicKeyKey);
  if (!line) return sdk::error(line.error());
  if (!line->has_value()) return sdk::not_found("");
  sdk::Response r;
  r.raw = sdk::RawBody{.status = 200, .content_type = "text/plain", .body = **line + "\n"};
  return r;
}

}  // namespace

std::vector<sdk::PathSpec> ca_paths(const std::shared_ptr<Engine>& engine) {
  std::vector<sdk::PathSpec> paths;
  auto write = bind_handler(engine, write_ca);
  paths.push_back(
      {.pattern = "config/ca",
       .fields = {{.name = "generate_signing_key",
                   .type = FieldType::kBool,
                   .description = "Generate the CA key.",
                   .default_value = true},
                  {.name = "key_type",
                   .type = FieldType::kString,
                   .description = "ssh-rsa, ec or ed25519.",
                   .default_value = "ssh-rsa"},
                  {.name = "key_bits",
                   .type = FieldType::kInt,
                   .description = "RSA 2048..8192 (default 4096); EC 256, 384, 521.",
                   .default_value = 0},
                  {.name = "private_key",
                   .type = FieldType::kString,
                   .description = "Import: the CA private key (PEM)."},
                  {.name = "public_key",
                   .type = FieldType::kString,
                   .description = "Import: the CA public key (checked against the private key)."}},
       .operations = {{sdk::Operation::kRead, bind_handler(engine, read_ca)},
                      {sdk::Operation::kCreate, write},
                      {sdk::Operation::kUpdate, write},
                      {sdk::Operation::kDelete, bind_handler(engine, delete_ca)}},
       .existence = {},
       .synopsis = "Set up the CA key that signs certificates."});
  paths.push_back({.pattern = "public_key",
                   .fields = {},
                   .operations = {{sdk::Operation::kRead, bind_handler(engine, public_key)}},
                   .existence = {},
                   .synopsis = "The CA public key, for TrustedUserCAKeys."});
  return paths;
}

}  // namespace leasefs::engines::ssh
