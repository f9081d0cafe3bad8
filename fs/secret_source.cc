// Secret cache and lease keeper; see secret_source.h.
#include "fs/secret_source.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "backend/sdk/log.h"
#include "engines/ssh/openssh.h"
#include "fs/render.h"

namespace leasefs::fs {

using nlohmann::json;
using std::chrono::steady_clock;

namespace {

constexpr std::string_view kLog = "mount.leases";
constexpr auto kNever = steady_clock::time_point::max();

// Overwrites every string in a parsed response before it is freed.
void wipe_json(json& j) {
  if (j.is_string()) {
    auto& s = j.get_ref<std::string&>();
    sdk::wipe(s.data(), s.size());
  } else if (j.is_structured()) {
    for (auto& item : j) wipe_json(item);
  }
}

// A fresh Ed25519 key pair: the private key in OpenSSH's format and the public key as
// one "ssh-ed25519 AAAA... leasefs" line.
sdk::Result<std::pair<sdk::SecureBuffer, std::string>> generate_key_pair() {
  namespace ssh = engines::ssh;
  auto key = ssh::generate_ca_key("ed25519", 0);
  if (!key) return sdk::error(key.error());
  auto pub = ssh::public_key_of(key->get());
  if (!pub) return sdk::error(pub.error());
  auto pem = ssh::openssh_private_key(key->get(), "leasefs");
  if (!pem) return sdk::error(pem.error());
  return std::pair{std::move(*pem), ssh::public_key_line(*pub) + " leasefs"};
}

}  // namespace

bool Content::read(std::size_t offset, std::size_t size, std::string& out) const {
  std::shared_lock lock(mu_);
  if (gone_) return false;
  if (offset >= bytes_.size()) {
    out.clear();
    return true;
  }
  std::size_t n = std::min(size, bytes_.size() - offset);
  out.assign(bytes_.view().substr(offset, n));
  return true;
}

std::size_t Content::size() const {
  std::shared_lock lock(mu_);
  return bytes_.size();
}

bool Content::gone() const {
  std::shared_lock lock(mu_);
  return gone_;
}

void Content::wipe() {
  std::unique_lock lock(mu_);
  bytes_.reset();
  gone_ = true;
}

std::string LeaseRecord::display_id() const {
  if (!lease_id.empty()) return lease_id;
  if (!accessor.empty()) return "auth/token/accessor/" + accessor;
  return {};
}

SecretSource::SecretSource(const MountConfig& config, VaultClient& client, const sdk::Clock& clock,
                           Listener listener)
    : config_(config), client_(client), clock_(clock), listener_(std::move(listener)) {
  for (const auto& f : config_.files) keys_.push_back(f.source_key());
}

SecretSource::~SecretSource() {
  shutdown(false);
}

void SecretSource::start() {
  keeper_ = std::thread([this] { keeper_loop(); });
}

bool SecretSource::usable(const LeaseRecord& r, steady_clock::time_point now) const {
  return !r.ended && now < r.expires;
}

sdk::Result<std::shared_ptr<LeaseRecord>> SecretSource::fetch_record(
    std::size_t index, bool per_open, const std::function<Headers()>& identity) {
  const FileSpec& spec = config_.files[index];
  // With generate_key, the key pair is made here, per fetch: its private half never
  // leaves this process and lives exactly as long as the lease's content.
  std::optional<sdk::SecureBuffer> private_key;
  std::string public_key;
  json generated_args;
  if (!spec.generate_key.empty()) {
    auto generated = generate_key_pair();
    if (!generated) {
      std::lock_guard lock(mu_);
      ++counters_.fetch_errors;
      return sdk::error(generated.error());
    }
    private_key = std::move(generated->first);
    public_key = std::move(generated->second);
    generated_args = spec.args;
    generated_args["public_key"] = public_key;
  }
  const json& args = spec.generate_key.empty() ? spec.args : generated_args;
  auto fetched = client_.fetch(spec.method, spec.secret, args, identity());
  if (!fetched) {
    std::lock_guard lock(mu_);
    ++counters_.fetch_errors;
    return sdk::error(fetched.error());
  }
  auto payload = secret_payload(fetched->envelope);
  if (!payload) {
    wipe_json(fetched->envelope);
    std::lock_guard lock(mu_);
    ++counters_.fetch_errors;
    return sdk::error(payload.error().with_context(spec.secret));
  }
  if (private_key) {
    (*payload)["private_key"] = std::string(private_key->view());
    (*payload)["public_key"] = public_key;
  }
  auto r = std::make_shared<LeaseRecord>();
  r->source = spec.secret;
  r->source_key = keys_[index];
  r->per_open = per_open;
  r->lease_id = fetched->lease_id;
  r->accessor = fetched->accessor;
  r->auth_token = std::move(fetched->auth_token);
  for (std::size_t i = 0; i < config_.files.size(); ++i) {
    const FileSpec& other = config_.files[i];
    bool wanted =
        per_open ? i == index : other.share == Share::kShared && keys_[i] == r->source_key;
    if (!wanted) continue;
    auto bytes = render_file(other, *payload);
    if (bytes) {
      r->contents.emplace(i, std::make_shared<Content>(std::move(*bytes)));
    } else {
      r->render_errors.emplace(i, bytes.error());
    }
  }
  wipe_json(*payload);
  wipe_json(fetched->envelope);

  bool has_lease = !r->lease_id.empty() || !r->auth_token.empty();
  r->ttl = fetched->ttl;
  if (r->ttl.count() <= 0) r->ttl = config_.mount.static_ttl;
  // A static secret that lacks a field some file wants is asked again soon: the field
  // may be added any moment, and nothing is lost by refetching it.
  if (!has_lease && !r->render_errors.empty()) {
    r->ttl = std::min<std::chrono::seconds>(r->ttl, std::chrono::seconds(5));
  }
  r->renewable = fetched->renewable && has_lease;
  auto now = clock_.steady_now();
  r->issued = now;
  r->expires = now + r->ttl;
  r->expires_wall = clock_.now() + r->ttl;
  r->next_renew = r->renewable ? now + r->ttl * 2 / 3 : kNever;
  auto interval = config_.mount.revocation_check;
  r->next_check = has_lease && interval.count() > 0 ? now + interval : kNever;
  std::lock_guard lock(mu_);
  ++counters_.fetches;
  return r;
}

sdk::Result<Opened> SecretSource::open(std::size_t index,
                                       const std::function<Headers()>& identity) {
  const FileSpec& spec = config_.files[index];
  // Takes a handle on `r` for file `index` (mu_ held).
  auto take = [&](const std::shared_ptr<LeaseRecord>& r) -> sdk::Result<Opened> {
    auto it = r->contents.find(index);
    if (it == r->contents.end()) {
      auto err = r->render_errors.find(index);
      if (err != r->render_errors.end()) return sdk::error(err->second);
      return sdk::internal_error("no content for the file");
    }
    r->last_open = clock_.steady_now();
    ++r->open_handles;
    return Opened{.record = r, .content = it->second};
  };

  if (spec.share == Share::kPerOpen) {
    auto r = fetch_record(index, /*per_open=*/true, identity);
    if (!r) return sdk::error(r.error());
    std::lock_guard lock(mu_);
    (*r)->serial = next_serial_++;
    live_.emplace((*r)->serial, *r);
    cv_.notify_all();
    auto opened = take(*r);
    if (!opened) end_locked(*r, /*revoke=*/true);
    return opened;
  }

  std::unique_lock lock(mu_);
  Slot& slot = slots_[keys_[index]];
  if (slot.current && usable(*slot.current, clock_.steady_now())) return take(slot.current);
  if (slot.fetching) {
    auto future = slot.inflight;
    lock.unlock();
    if (future.wait_for(client_.timeout() + std::chrono::milliseconds(500)) !=
        std::future_status::ready) {
      return sdk::error(sdk::Code::kDeadlineExceeded, "waiting for " + spec.secret + " timed out");
    }
    const auto& result = future.get();
    if (!result) return sdk::error(result.error());
    lock.lock();
    if ((*result)->ended) return sdk::error(sdk::Code::kUnavailable, "the lease ended meanwhile");
    return take(*result);
  }
  std::promise<sdk::Result<std::shared_ptr<LeaseRecord>>> promise;
  slot.inflight = promise.get_future().share();
  slot.fetching = true;
  lock.unlock();
  auto result = fetch_record(index, /*per_open=*/false, identity);
  lock.lock();
  Slot& s = slots_[keys_[index]];
  s.fetching = false;
  if (result) {
    if (s.current && !s.current->ended) end_locked(s.current, /*revoke=*/false);
    (*result)->serial = next_serial_++;
    live_.emplace((*result)->serial, *result);
    s.current = *result;
    cv_.notify_all();
  }
  promise.set_value(result);
  if (!result) return sdk::error(result.error());
  auto opened = take(*result);
  if (opened) opened->fresh = true;
  return opened;
}

void SecretSource::release(const Opened& opened) {
  if (!opened.record) return;
  std::lock_guard lock(mu_);
  --opened.record->open_handles;
  if (opened.record->per_open && !opened.record->ended) end_locked(opened.record, /*revoke=*/true);
}

void SecretSource::end_locked(std::shared_ptr<LeaseRecord> r, bool revoke) {
  if (r->ended) return;
  r->ended = true;
  r->revoke_wanted = revoke;
  live_.erase(r->serial);
  auto slot = slots_.find(r->source_key);
  if (slot != slots_.end() && slot->second.current == r) slot->second.current.reset();
  for (auto& [index, content] : r->contents) content->wipe();
  ended_.push_back(r);
  cv_.notify_all();
}

LeaseView SecretSource::view_locked(const LeaseRecord& r) const {
  LeaseView v;
  v.serial = r.serial;
  v.lease_id = r.display_id();
  v.source = r.source;
  v.per_open = r.per_open;
  auto left = r.expires - clock_.steady_now();
  v.ttl_left =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(left).count());
  v.ttl = r.ttl;
  v.renewable = r.renewable;
  v.expires = r.expires_wall;
  for (const auto& [index, content] : r.contents) v.files.push_back(index);
  return v;
}

std::optional<LeaseView> SecretSource::shared_view(std::size_t index) const {
  std::lock_guard lock(mu_);
  auto it = slots_.find(keys_[index]);
  if (it == slots_.end() || !it->second.current) return std::nullopt;
  const auto& r = *it->second.current;
  if (!usable(r, clock_.steady_now())) return std::nullopt;
  return view_locked(r);
}

std::size_t SecretSource::cached_size(std::size_t index) const {
  std::lock_guard lock(mu_);
  auto it = slots_.find(keys_[index]);
  if (it == slots_.end() || !it->second.current) return 0;
  auto c = it->second.current->contents.find(index);
  return c == it->second.current->contents.end() ? 0 : c->second->size();
}

std::vector<LeaseView> SecretSource::live() const {
  std::lock_guard lock(mu_);
  std::vector<LeaseView> out;
  for (const auto& [serial, r] : live_) out.push_back(view_locked(*r));
  return out;
}

std::optional<LeaseView> SecretSource::find(std::uint64_t serial) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(serial);
  if (it == live_.end()) return std::nullopt;
  return view_locked(*it->second);
}

SecretSource::Counters SecretSource::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

void SecretSource::renew(const std::shared_ptr<LeaseRecord>& r) {
  bool in_use = false;
  std::chrono::seconds increment{0};
  {
    std::lock_guard lock(mu_);
    if (r->ended) return;
    in_use = r->open_handles > 0 || r->last_open >= r->issued;
    increment = r->ttl;
    if (!in_use) {
      r->next_renew = kNever;  // let it expire
      return;
    }
  }
  sdk::Result<Renewed> result = !r->lease_id.empty()
                                    ? client_.renew_lease(r->lease_id, increment)
                                    : client_.renew_token(r->auth_token, increment);
  std::lock_guard lock(mu_);
  if (r->ended) return;
  auto now = clock_.steady_now();
  if (result && result->ttl.count() > 0) {
    ++counters_.renewals;
    r->issued = now;
    r->last_open = r->open_handles > 0 ? now : steady_clock::time_point{};
    r->expires = now + result->ttl;
    r->expires_wall = clock_.now() + result->ttl;
    r->renewable = result->renewable;
    r->next_renew = result->renewable ? now + result->ttl * 2 / 3 : kNever;
    return;
  }
  ++counters_.renewal_errors;
  if (result || result.error().code() == sdk::Code::kInvalidArgument ||
      result.error().code() == sdk::Code::kNotFound ||
      result.error().code() == sdk::Code::kPermissionDenied) {
    // The server no longer knows the lease (revoked or expired there).
    sdk::log_info(kLog, "lease " + r->display_id() + " ended on the server");
    end_locked(r, /*revoke=*/false);
    return;
  }
  // Server unreachable: try again halfway to expiry while there is time.
  auto left = r->expires - now;
  r->next_renew = left > std::chrono::seconds(2) ? now + left / 2 : kNever;
}

void SecretSource::check_revoked(const std::shared_ptr<LeaseRecord>& r) {
  auto alive = client_.lease_alive(r->lease_id, r->accessor);
  std::lock_guard lock(mu_);
  if (r->ended) return;
  if (alive && !*alive) {
    sdk::log_info(kLog, "lease " + r->display_id() + " was revoked on the server");
    ++counters_.revoked_on_server;
    end_locked(r, /*revoke=*/false);
    return;
  }
  // Alive, or the server could not say: look again later.
  r->next_check = clock_.steady_now() + config_.mount.revocation_check;
}

void SecretSource::keeper_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (!ended_.empty()) {
      auto r = ended_.front();
      ended_.pop_front();
      LeaseView view = view_locked(*r);
      bool revoke = r->revoke_wanted;
      lock.unlock();
      if (revoke) {
        sdk::Result<void> done{};
        if (!r->lease_id.empty())
          done = client_.revoke_lease(r->lease_id);
        else if (!r->auth_token.empty())
          done = client_.revoke_token(r->auth_token);
        if (!done) sdk::log_warn(kLog, "revoking " + view.lease_id + ": " + done.error().message());
        std::lock_guard count(mu_);
        if (done) ++counters_.revoked;
      }
      r->auth_token.reset();
      if (listener_.on_end) listener_.on_end(view);
      lock.lock();
      continue;
    }
    auto now = clock_.steady_now();
    auto next = now + std::chrono::seconds(1);
    std::vector<std::shared_ptr<LeaseRecord>> expire, renewing, checking;
    for (const auto& [serial, r] : live_) {
      if (now >= r->expires) {
        expire.push_back(r);
      } else if (now >= r->next_renew) {
        renewing.push_back(r);
      } else if (now >= r->next_check) {
        checking.push_back(r);
      } else {
        next = std::min({next, r->expires, r->next_renew, r->next_check});
      }
    }
    for (const auto& r : expire) {
      ++counters_.expired;
      end_locked(r, /*revoke=*/false);
    }
    if (!renewing.empty() || !checking.empty()) {
      for (const auto& r : renewing) r->next_renew = kNever;
      for (const auto& r : checking) r->next_check = kNever;
      lock.unlock();
      for (const auto& r : renewing) renew(r);
      for (const auto& r : checking) check_revoked(r);
      lock.lock();
      continue;
    }
    if (!expire.empty()) continue;
    cv_.wait_for(lock, std::max<steady_clock::duration>(next - now, std::chrono::milliseconds(1)));
  }
}

void SecretSource::shutdown(bool revoke) {
  std::deque<std::shared_ptr<LeaseRecord>> pending;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !keeper_.joinable() && ended_.empty() && live_.empty()) return;
    stopping_ = true;
    std::vector<std::shared_ptr<LeaseRecord>> all;
    for (const auto& [serial, r] : live_) all.push_back(r);
    for (const auto& r : all) end_locked(r, revoke);
    cv_.notify_all();
  }
  if (keeper_.joinable()) keeper_.join();
  {
    std::lock_guard lock(mu_);
    pending.swap(ended_);
    slots_.clear();
  }
  for (const auto& r : pending) {
    if (r->revoke_wanted) {
      sdk::Result<void> done{};
      if (!r->lease_id.empty())
        done = client_.revoke_lease(r->lease_id);
      else if (!r->auth_token.empty())
        done = client_.revoke_token(r->auth_token);
      if (!done) {
        sdk::log_warn(kLog, "revoking " + r->display_id() + ": " + done.error().message());
      } else if (!r->lease_id.empty() || !r->auth_token.empty()) {
        sdk::log_info(kLog, "revoked " + r->display_id());
        std::lock_guard lock(mu_);
        ++counters_.revoked;
      }
    }
    r->auth_token.reset();
  }
}

}  // namespace leasefs::fs
