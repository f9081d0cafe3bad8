// The Vault HTTP API on top of the core: decodes an HTTP request into a CoreRequest
// (method -> operation, path, JSON body or query, token), serves the raw sys endpoints
// that work while sealed (init, unseal, seal-status, health, leader), and encodes the
// core's answer in Vault's envelope or {"errors":[...]} with Vault's status codes.
#pragma once

#include "backend/core/core.h"
#include "backend/sdk/buffered_random.h"
#include "backend/http/message.h"

namespace leasefs::backend::server {

class ApiHandler {
 public:
  // `core` must outlive the handler.
  explicit ApiHandler(core::Core& core, std::string version);

  // Thread-safe; never throws; every answer is a complete HTTP response. May take
  // `request.body` (a sys/access-events batch keeps its text).
  http::HttpResponse handle(http::HttpRequest& request);

  // True for requests that are quick and never wait on a disk flush or an upstream:
  // reads of KV mounts and of seal status and health. The HTTP layer runs those on
  // its I/O thread (http::ServerOptions::run_inline). A read with a limited-use token
  // still writes its use count; that costs one flush on the I/O thread, rarely.
  bool runs_inline(const http::HttpRequest& request) const;

 private:
  http::HttpResponse dispatch(http::HttpRequest& request, std::string& path_class);
  http::HttpResponse sys_init(http::HttpRequest& request);
  http::HttpResponse sys_unseal(http::HttpRequest& request);
  http::HttpResponse sys_seal_status();
  http::HttpResponse sys_health(http::HttpRequest& request);
  http::HttpResponse sys_leader();
  nlohmann::json seal_status_json(const barrier::SealStatus& status);

  core::Core& core_;
  sdk::BufferedRandom ids_;  // request ids: random, not secret
  std::string version_;
  std::string cluster_id_;
};

// Vault's error body: {"errors":["message"]}, or {"errors":[]} for an empty message.
http::HttpResponse error_response(int status, std::string_view message);
http::HttpResponse error_response(const sdk::Status& status);

}  // namespace leasefs::backend::server
