// Key validation, one-level listing and the prefixed storage view.
#include "backend/sdk/storage.h"

#include "backend/sdk/storage_view.h"

namespace leasefs::backend::sdk {

Result<void> validate_key(std::string_view key, bool is_prefix) {
  constexpr std::size_t kMaxKey = 1024;
  if (key.empty()) {
    if (is_prefix) return {};
    return invalid_argument("storage key is empty");
  }
  if (key.size() > kMaxKey) {
    return invalid_argument("storage key is longer than 1024 bytes");
  }
  if (key.front() == '/') return invalid_argument("storage key starts with '/'");
  if (key.back() == '/' && !is_prefix) return invalid_argument("storage key ends with '/'");
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return invalid_argument("storage key contains a control byte");
  }
  std::string_view rest = key;
  if (rest.back() == '/') rest.remove_suffix(1);
  if (!rest.empty() && rest.back() == '/') return invalid_argument("storage key has an empty segment");
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto segment = rest.substr(0, slash);
    if (segment.empty()) return invalid_argument("storage key has an empty segment");
    if (segment == "." || segment == "..") {
      return invalid_argument("storage key has a '.' or '..' segment");
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

std::vector<std::string> one_level_names(std::string_view prefix,
                                         std::span<const std::string> keys) {
  std::vector<std::string> names;
  for (const auto& key : keys) {
    std::string_view rest = std::string_view(key).substr(prefix.size());
    auto slash = rest.find('/');
    std::string_view name = slash == std::string_view::npos ? rest : rest.substr(0, slash + 1);
    if (name.empty()) continue;
    if (names.empty() || names.back() != name) names.emplace_back(name);
  }
  return names;
}

std::string prefix_successor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    auto last = static_cast<unsigned char>(s.back());
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

std::string skip_past(std::string_view prefix, std::string_view name) {
  std::string key(prefix);
  key += name;
  if (!name.empty() && name.back() == '/') return prefix_successor(key);
  key.push_back('\0');  // the next possible key after exactly `key`
  return key;
}

StorageView::StorageView(Storage& inner, std::string prefix)
    : inner_(&inner), prefix_(std::move(prefix)) {}

StorageView StorageView::sub_view(std::string_view folder) const {
  std::string p = prefix_;
  p += folder;
  if (!p.empty() && p.back() != '/') p.push_back('/');
  return StorageView(*inner_, std::move(p));
}

std::string StorageView::full(std::string_view key) const {
  std::string k = prefix_;
  k += key;
  return k;
}

Result<std::optional<std::string>> StorageView::get(std::string_view key) {
  return inner_->get(full(key));
}
Result<void> StorageView::put(std::string_view key, std::string_view value) {
  return inner_->put(full(key), value);
}
Result<void> StorageView::remove(std::string_view key) { return inner_->remove(full(key)); }
Result<std::vector<std::string>> StorageView::list(std::string_view prefix) {
  return inner_->list(full(prefix));
}
Result<std::vector<std::string>> StorageView::list_page(std::string_view prefix,
                                                        std::string_view after,
                                                        std::size_t limit) {
  return inner_->list_page(full(prefix), after, limit);
}
Result<void> StorageView::apply(std::span<const StorageOp> ops) {
  std::vector<StorageOp> prefixed;
  prefixed.reserve(ops.size());
  for (const auto& op : ops) prefixed.push_back({op.kind, full(op.key), op.value});
  return inner_->apply(prefixed);
}

}  // namespace leasefs::backend::sdk

