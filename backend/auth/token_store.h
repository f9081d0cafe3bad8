// The token store: service tokens ("hvs." + 24 base62 characters, ~143 random bits),
// their accessors, and the parent/child tree. A token is stored only as a keyed hash
// (HMAC-SHA256 with a salt kept behind the barrier), so neither the storage file nor a
// backup of it yields a usable token. TTL rules follow Vault's token store: ttl,
// explicit_max_ttl, period, renewable, num_uses, orphans.
//
// Storage layout, inside the view the core gives it ("sys/token/" behind the barrier):
//   salt                          32 random bytes, made on first use
//   id/<hash>                     the token's entry (JSON)
//   accessor/<hash of accessor>   the token's hash
//   parent/<parent hash>/<hash>   "" (the child index, for revoking a tree)
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend/sdk/clock.h"
#include "backend/sdk/hmac.h"
#include "backend/sdk/random.h"
#include "backend/sdk/request.h"
#include "backend/sdk/secure_buffer.h"
#include "backend/sdk/storage.h"

namespace leasefs::backend::auth {

struct TokenEntry {
  std::string id_hash{};      // storage key; the token itself is never stored
  std::string accessor{};
  std::string parent_hash{};  // "" for an orphan
  std::vector<std::string> policies{};
  std::map<std::string, std::string> meta{};
  std::string display_name{};
  std::string path{};         // where it was made: "auth/token/create", "auth/approle/login"
  std::int64_t num_uses = 0;  // uses left; 0 = unlimited; -1 = used up, being revoked
  sdk::WallTime creation_time{};
  sdk::WallTime issue_time{};  // creation or last renewal
  sdk::Duration creation_ttl{0};
  sdk::Duration ttl{0};        // granted at issue_time; 0 = never expires
  sdk::Duration explicit_max_ttl{0};
  sdk::Duration period{0};
  bool renewable = true;
  std::string entity_id{};
  // Source addresses (CIDR blocks) the token may be used from; empty = anywhere.
  std::vector<std::string> bound_cidrs{};

  bool expires() const { return ttl.count() != 0; }
  sdk::WallTime expire_time() const { return issue_time + ttl; }
  bool orphan() const { return parent_hash.empty(); }
  bool has_policy(std::string_view name) const;
};

struct TokenCreate {
  std::vector<std::string> policies{};  // empty: the parent's
  std::map<std::string, std::string> meta{};
  std::string display_name{};           // becomes "token-<name>" ...
  bool display_name_verbatim = false;   // ... unless set (auth method logins)
  std::string path = "auth/token/create";
  std::string id{};                     // a chosen token id (root or sudo only)
  sdk::Duration ttl{0};
  sdk::Duration explicit_max_ttl{0};
  sdk::Duration period{0};
  std::int64_t num_uses = 0;
  bool renewable = true;
  bool no_default_policy = false;
  bool orphan = false;                  // no parent
  std::vector<std::string> bound_cidrs{};  // children inherit their parent's
  // Limits of the auth mount that issues it.
  sdk::MountLimits limits{};
};

struct IssuedToken {
  std::string token{};  // the secret itself: hand it to the client, never log it
  TokenEntry entry{};
  std::vector<std::string> warnings{};
};

class TokenStore {
 public:
  // `storage` is the store's view (behind the barrier); all must outlive the store.
  TokenStore(sdk::Storage& storage, const sdk::Clock& clock, sdk::Random& random);

  // Loads (or makes) the salt. Call after every unseal, before any other call.
  sdk::Result<void> setup();
  // Forgets the salt and every cached entry (on seal).
  void clear();

  // The keyed hash under which a token (or accessor) is stored.
  std::string hash(std::string_view token) const;

  // The entry of a valid token; nullopt when unknown, expired or used up. Does not
  // count a use. Thread-safe.
  sdk::Result<std::optional<TokenEntry>> lookup(std::string_view token);
  sdk::Result<std::optional<TokenEntry>> lookup_hash(std::string_view id_hash);
  sdk::Result<std::optional<TokenEntry>> lookup_accessor(std::string_view accessor);

  // Makes a token. `parent` is the caller's entry (null only for tokens the core makes
  // itself: the root token at init, dev mode's token). `caller_has_sudo` says whether
  // the caller may make orphans, pick ids and periods. Errors: invalid_argument with
  // Vault's messages ("child policies must be subset of parent", ...).
  sdk::Result<IssuedToken> create(const TokenEntry* parent, bool caller_has_sudo,
                                  TokenCreate request);
  // A root token (policies ["root"], no expiry, orphan); `id` may be chosen.
  sdk::Result<IssuedToken> create_root(std::string id = {});

  // Counts one use of a limited-use token. Returns true when that was its last use:
  // the caller finishes the request and then revokes it. Thread-safe.
  sdk::Result<bool> use(const TokenEntry& entry);

  // Extends a token from now by `increment` (0: its original TTL), within its limits.
  // Appends Vault's warning when the TTL was capped.
  sdk::Result<TokenEntry> renew(std::string_view id_hash, sdk::Duration increment,
                                const sdk::MountLimits& limits,
                                std::vector<std::string>& warnings);

  // Revokes a token and every descendant. Revoking what is gone succeeds.
  sdk::Result<void> revoke_tree(std::string_view id_hash);
  // Revokes several tokens, each with every descendant, in as few storage commits as
  // possible (one for up to 4096 removals): the expiration manager's workers revoke
  // expired tokens this way, a batch at a time. One status per id_hash, in order; a
  // tree that cannot be read fails alone, a failed commit fails every tree in it.
  std::vector<sdk::Status> revoke_trees(std::span<const std::string> id_hashes);
  // Revokes only this token; its children become orphans.
  sdk::Result<void> revoke_orphan(std::string_view id_hash);
  // Accessors of every stored token (for LIST auth/token/accessors).
  sdk::Result<std::vector<std::string>> accessors();

  // Called for every token being revoked, before its entry is deleted (the lease
  // manager revokes the token's leases there). A failure stops the revocation.
  void set_revoke_hook(std::function<sdk::Result<void>(const TokenEntry&)> hook);

  // The lookup data Vault returns for a token (auth/token/lookup*). `token` is the
  // token itself when the caller presented it, "" for lookups by accessor.
  nlohmann::json lookup_data(const TokenEntry& entry, std::string_view token) const;
  // The "auth" block of a response that hands out `issued`.
  static nlohmann::json auth_block(const IssuedToken& issued, const sdk::Clock& clock);

 private:
  // The deletes that remove `entry` (its id, accessor and parent link).
  void append_removal(const TokenEntry& entry, std::vector<sdk::StorageOp>& ops) const;
  // Calls the revoke hook for the tree under `id_hash` (children first) and appends the
  // deletes of every token in it not in `seen`; `dropped` gets their hashes.
  sdk::Result<void> collect_tree(std::string_view id_hash, std::unordered_set<std::string>& seen,
                                 std::vector<sdk::StorageOp>& ops,
                                 std::vector<std::string>& dropped);
  sdk::Result<void> store_entry(const TokenEntry& entry, std::vector<sdk::StorageOp> extra = {});
  std::mutex& stripe(std::string_view id_hash);
  // Caches `entry` unless some entry was dropped since `generation` was read: a lookup
  // that raced a revocation must not put the revoked entry back.
  void cache_put(const TokenEntry& entry, std::uint64_t generation);
  void cache_drop(std::string_view id_hash);
  std::uint64_t cache_generation();

  sdk::Storage& storage_;
  const sdk::Clock& clock_;
  sdk::Random& random_;

  mutable std::shared_mutex salt_mu_;
  std::optional<sdk::HmacSha256> hmac_;  // keyed with the salt; guarded by salt_mu_

  std::mutex cache_mu_;
  std::unordered_map<std::string, std::shared_ptr<const TokenEntry>> cache_;  // by id_hash
  std::uint64_t generation_ = 0;  // guarded by cache_mu_; bumped by every drop
  std::array<std::mutex, 64> stripes_;
  std::function<sdk::Result<void>(const TokenEntry&)> revoke_hook_;
};

// "hvs." + 24 base62 characters.
sdk::Result<std::string> generate_token_id(sdk::Random& random);

// Vault's policy list clean-up: trimmed, lower-cased, sorted, deduplicated; "default"
// added unless `no_default` or the list holds "root" (then it is just ["root"]).
std::vector<std::string> sanitize_policies(std::vector<std::string> policies, bool add_default);

}  // namespace leasefs::backend::auth
