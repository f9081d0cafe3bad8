// tidy/secret-id: removes expired secret IDs, secret IDs whose role or accessor index
// is gone, and accessor indexes whose secret ID is gone. Vault starts this in the
// background and answers 202 at once; leasefs runs it inline (it walks storage once,
// one secret ID lock at a time) and answers 202 with a warning that says what it did.
#include <mutex>
#include <shared_mutex>

#include "engines/approle/engine.h"

namespace leasefs::engines::approle {
namespace {

using nlohmann::json;

struct TidyCount {
  std::size_t secret_ids = 0;
  std::size_t accessors = 0;
};

sdk::Result<void> tidy_secret_ids(Engine& e, sdk::Request& req, TidyCount& count) {
  const sdk::WallTime now = req.clock->now();
  auto folders = req.storage->list("secret_id/");
  if (!folders) return sdk::error(folders.error());
  for (const auto& folder : *folders) {
    if (folder.empty() || folder.back() != '/') continue;
    std::string name = folder.substr(0, folder.size() - 1);
    auto role = e.read_role(req, name);
    if (!role) return sdk::error(role.error());  // unreadable is not deleted: keep its IDs
    bool role_exists = role->has_value();
    auto hashes = req.storage->list(secret_id_prefix(name));
    if (!hashes) return sdk::error(hashes.error());
    for (const auto& h : *hashes) {
      std::lock_guard stripe(e.secret_id_stripe(h));
      std::string key = secret_id_key(name, h);
      auto entry = e.read_secret_id(req, key);
      if (!entry || !entry->has_value()) {
        if (!entry) {  // unreadable: nothing can use it
          LEASEFS_TRY(req.storage->remove(key));
          ++count.secret_ids;
        }
        continue;
      }
      auto ops = e.delete_secret_id_ops(req, **entry);
      if (!ops) return sdk::error(ops.error());
      bool drop = !role_exists || (*entry)->expired(now);
      if (!drop) {
        auto acc_hash = e.hmac(req, (*entry)->accessor);
        if (!acc_hash) return sdk::error(acc_hash.error());
        auto acc = req.storage->get(accessor_key(*acc_hash));
        if (!acc) return sdk::error(acc.error());
        drop = !acc->has_value();
      }
      if (drop) {
        LEASEFS_TRY(req.storage->apply(*ops));
        ++count.secret_ids;
      }
    }
  }
  return {};
}

sdk::Result<void> tidy_accessors(Engine& e, sdk::Request& req, TidyCount& count) {
  auto hashes = req.storage->list("accessor/");
  if (!hashes) return sdk::error(hashes.error());
  for (const auto& h : *hashes) {
    std::string key = accessor_key(h);
    auto stored = req.storage->get(key);
    if (!stored) return sdk::error(stored.error());
    if (!stored->has_value()) continue;
    json index = json::parse(**stored, nullptr, false);
    auto field = [&index](const char* k) {
      return index.is_object() && index.contains(k) && index[k].is_string()
                 ? index[k].get<std::string>()
                 : std::string();
    };
    std::string secret_hash = field("secret_id_hmac");
    std::string role_name = field("role_name");
    if (secret_hash.empty() || role_name.empty()) {
      LEASEFS_TRY(req.storage->remove(key));
      ++count.accessors;
      continue;
    }
    // Under the secret ID's lock, so an index written with its entry is never seen
    // half-done.
    std::lock_guard stripe(e.secret_id_stripe(secret_hash));
    auto entry = req.storage->get(secret_id_key(role_name, secret_hash));
    if (!entry) return sdk::error(entry.error());
    if (!entry->has_value()) {
      LEASEFS_TRY(req.storage->remove(key));
      ++count.accessors;
    }
  }
  return {};
}

sdk::Result<sdk::Response> tidy(Engine& e, sdk::Request& req, const sdk::FieldData&) {
  if (e.tidy_running().exchange(true)) {
    sdk::Response busy;
    busy.warnings.push_back("Tidy operation already in progress.");
    return busy;
  }
  struct Reset {
    std::atomic<bool>& flag;
    ~Reset() { flag = false; }
  } reset{e.tidy_running()};

  std::shared_lock lock(e.roles_mutex());  // role deletes wait; logins go on
  TidyCount count;
  LEASEFS_TRY(tidy_secret_ids(e, req, count));
  LEASEFS_TRY(tidy_accessors(e, req, count));
  sdk::Response done;
  done.status = 202;  // Vault's "Accepted"
  done.warnings.push_back("Tidy operation completed: removed " + std::to_string(count.secret_ids) +
                          " secret IDs and " + std::to_string(count.accessors) +
                          " dangling accessor entries.");
  return done;
}

}  // namespace

std::vector<sdk::PathSpec> tidy_paths(const std::shared_ptr<Engine>& engine) {
  return {{.pattern = "tidy/secret-id",
           .fields = {},
           .operations = {{sdk::Operation::kUpdate, bind_handler(engine, tidy)}},
           .existence = {},
           .synopsis = "Removes expired secret IDs and dangling indexes."}};
}

}  // namespace leasefs::engines::approle
