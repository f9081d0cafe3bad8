// Building and querying the Acl. Everything that depends only on the policies (merging,
// sorting, splitting patterns into segments, the `+` rules' trie) happens once in
// build(); a query does a binary search for an exact rule, a short predecessor walk for
// the longest prefix rule, and one walk down the segment trie, comparing only the `+`
// rules that match. The matching path does not allocate.
#include "backend/auth/acl.h"
#include <utility>

#include <algorithm>
#include <bit>
#include <map>

namespace leasefs::backend::auth {
namespace {

std::size_t bit_index(std::uint32_t bit) {
  return static_cast<std::size_t>(std::countr_zero(bit));
}

void add_granting(Acl::Rule& rule, const std::string& policy, std::uint32_t bits) {
  for (std::uint32_t rest = bits; rest != 0; rest &= rest - 1) {
    auto& names = rule.granting[bit_index(rest & -rest)];
    if (std::find(names.begin(), names.end(), policy) == names.end()) names.push_back(policy);
  }
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Required parameters are a set; Vault compares them lower-cased with request keys.
void add_required(Acl::Rule& rule, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    std::string lower = ascii_lower(name);
    auto& list = rule.required_parameters;
    if (std::find(list.begin(), list.end(), lower) == list.end()) list.push_back(std::move(lower));
  }
}

// Vault's merge of parameter constraints for the same pattern: an empty list (any value)
// wins; otherwise the new values go before the existing ones.
void merge_parameters(ParameterMap& existing, const ParameterMap& incoming) {
  for (const auto& [key, values] : incoming) {
    auto it = existing.find(key);
    if (values.empty() || (it != existing.end() && it->second.empty())) {
      existing[key].clear();
    } else if (it == existing.end()) {
      existing.emplace(key, values);
    } else {
      std::vector<nlohmann::json> merged = values;
      merged.insert(merged.end(), it->second.begin(), it->second.end());
      it->second = std::move(merged);
    }
  }
}

// What Vault's priority comparison looks at (vault/acl.go, CheckAllowedFromNonExactPaths).
struct PriorityKey {
  int first_wildcard = 0;
  bool is_prefix = false;
  int wildcards = 0;
  std::string_view pattern{};
};

PriorityKey priority_of(const Acl::Rule& rule) {
  if (rule.has_segment_wildcards) {
    return PriorityKey{.first_wildcard = rule.first_wildcard,
                       .is_prefix = rule.is_prefix,
                       .wildcards = rule.wildcard_count,
                       .pattern = rule.pattern};
  }
  // A plain glob: its first (only) wildcard is the '*' right after the prefix.
  return PriorityKey{.first_wildcard = static_cast<int>(rule.pattern.size()),
                     .is_prefix = true,
                     .wildcards = 0,
                     .pattern = rule.pattern};
}

// True when `a` has lower priority than `b`, by the documented rules in order: earlier
// first wildcard; ends in '*' when the other does not; more '+' segments; shorter;
// lexicographically smaller.
bool lower_priority(const PriorityKey& a, const PriorityKey& b) {
  if (a.first_wildcard != b.first_wildcard) return a.first_wildcard < b.first_wildcard;
  if (a.is_prefix != b.is_prefix) return a.is_prefix;
  if (a.wildcards != b.wildcards) return a.wildcards > b.wildcards;
  if (a.pattern.size() != b.pattern.size()) return a.pattern.size() < b.pattern.size();
  return a.pattern < b.pattern;
}

std::uint32_t capability_for(sdk::Operation op) {
  switch (op) {
    case sdk::Operation::kRead:
      return capability::kRead;
    case sdk::Operation::kList:
      return capability::kList;
    case sdk::Operation::kCreate:
      return capability::kCreate;
    case sdk::Operation::kUpdate:
      return capability::kUpdate;
    case sdk::Operation::kPatch:
      return capability::kPatch;
    case sdk::Operation::kDelete:
      return capability::kDelete;
  }
  return 0;
}

// Vault's value glob: a leading and/or trailing '*' in the policy value (a lone "*" is
// literal).
bool glob_match(std::string_view pattern, std::string_view value) {
  if (pattern.size() < 2) return value == pattern;
  bool leading = pattern.front() == '*';
  bool trailing = pattern.back() == '*';
  if (leading && trailing)
    return value.find(pattern.substr(1, pattern.size() - 2)) != std::string_view::npos;
  if (leading) return value.ends_with(pattern.substr(1));
  if (trailing) return value.starts_with(pattern.substr(0, pattern.size() - 1));
  return value == pattern;
}

bool value_in_list(const nlohmann::json& value, const std::vector<nlohmann::json>& list) {
  for (const nlohmann::json& element : list) {
    if (element.is_null() || value.is_null()) {
      if (element.is_null() && value.is_null()) return true;
    } else if (element.is_string() && value.is_string()) {
      if (glob_match(element.get_ref<const std::string&>(), value.get_ref<const std::string&>())) {
        return true;
      }
    } else if (element == value) {
      return true;
    }
  }
  return false;
}

// Vault's reading of a string parameter as a comma-separated list, each item trimmed.
template <class Fn>
void for_each_comma_item(std::string_view s, Fn&& fn) {
  while (true) {
    std::size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() &&
           (item.front() == ' ' || item.front() == '\t' || item.front() == '\n' ||
            item.front() == '\r' || item.front() == '\v' || item.front() == '\f')) {
      item.remove_prefix(1);
    }
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t' || item.back() == '\n' ||
                             item.back() == '\r' || item.back() == '\v' || item.back() == '\f')) {
      item.remove_suffix(1);
    }
    if (!fn(item)) return;
    if (comma == std::string_view::npos) return;
    s.remove_prefix(comma + 1);
  }
}

bool string_in_list(std::string_view s, const std::vector<nlohmann::json>& list) {
  for (const nlohmann::json& element : list) {
    if (element.is_string() && glob_match(element.get_ref<const std::string&>(), s)) return true;
  }
  return false;
}

// allowed_parameters: any value for an empty list; the value itself in the list; every
// element of an array value in the list; every item of a comma-separated string in the
// list. Unlike Vault, an empty string is not waved through by the comma reading (Vault
// splits "" into no items and so allows it whatever the list says).
bool value_allowed(const nlohmann::json& value, const std::vector<nlohmann::json>& list) {
  if (list.empty() || value_in_list(value, list)) return true;
  if (value.is_array()) {
    return std::all_of(value.begin(), value.end(),
                       [&](const nlohmann::json& v) { return value_in_list(v, list); });
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.empty()) return false;
    bool all = true;
    for_each_comma_item(s, [&](std::string_view item) {
      all = string_in_list(item, list);
      return all;
    });
    return all;
  }
  return false;
}

// denied_parameters: denied for an empty list; the value in the list; any element of an
// array value, or any item of a comma-separated string, in the list.
bool value_denied(const nlohmann::json& value, const std::vector<nlohmann::json>& list) {
  if (list.empty() || value_in_list(value, list)) return true;
  if (value.is_array()) {
    return std::any_of(value.begin(), value.end(),
                       [&](const nlohmann::json& v) { return value_in_list(v, list); });
  }
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.empty()) return false;
    bool any = false;
    for_each_comma_item(s, [&](std::string_view item) {
      any = string_in_list(item, list);
      return !any;
    });
    return any;
  }
  return false;
}

// Vault's parameter rules, for operations that carry parameters.
bool parameters_pass(const Acl::Rule& rule, const nlohmann::json& data) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json& body = data.is_object() ? data : kEmpty;
  for (const std::string& required : rule.required_parameters) {
    if (!body.contains(required)) return false;
  }
  if (body.empty()) return true;

  if (!rule.denied_parameters.empty()) {
    if (rule.denied_parameters.contains("*")) return false;
    for (const auto& [key, value] : body.items()) {
      auto it = rule.denied_parameters.find(ascii_lower(key));
      if (it != rule.denied_parameters.end() && value_denied(value, it->second)) return false;
    }
  }

  if (rule.allowed_parameters.empty()) return true;
  bool allow_all = rule.allowed_parameters.contains("*");
  if (allow_all && rule.allowed_parameters.size() == 1) return true;
  for (const auto& [key, value] : body.items()) {
    auto it = rule.allowed_parameters.find(ascii_lower(key));
    if (it == rule.allowed_parameters.end()) {
      if (!allow_all) return false;
    } else if (!value_allowed(value, it->second)) {
      return false;
    }
  }
  return true;
}

}  // namespace

sdk::Result<Acl> Acl::build(std::span<const Policy> policies) {
  Acl acl;
  for (const Policy& policy : policies) {
    if (policy.name == kRootPolicyName) {
      if (policies.size() != 1) {
        return sdk::invalid_argument("other policies present along with root");
      }
      acl.root_ = true;
      return acl;
    }
  }

  std::map<std::pair<std::string_view, bool>, std::size_t> by_pattern;
  for (const Policy& policy : policies) {
    for (const PathRule& incoming : policy.rules) {
      auto key = std::make_pair(std::string_view(incoming.pattern), incoming.is_prefix);
      auto found = by_pattern.find(key);
      if (found == by_pattern.end()) {
        Rule rule;
        rule.pattern = incoming.pattern;
        rule.is_prefix = incoming.is_prefix;
        rule.has_segment_wildcards = incoming.has_segment_wildcards;
        rule.capabilities = incoming.capabilities;
        rule.allowed_parameters = incoming.allowed_parameters;
        rule.denied_parameters = incoming.denied_parameters;
        add_required(rule, incoming.required_parameters);
        rule.min_wrapping_ttl = incoming.min_wrapping_ttl;
        rule.max_wrapping_ttl = incoming.max_wrapping_ttl;
        add_granting(rule, policy.name, incoming.capabilities);
        acl.rules_.push_back(std::move(rule));
        // The key views the policy's own pattern, which outlives this map.
        by_pattern.emplace(key, acl.rules_.size() - 1);
        continue;
      }

      Rule& rule = acl.rules_[found->second];
      if (rule.capabilities & capability::kDeny) continue;  // a deny already holds
      if (incoming.capabilities & capability::kDeny) {
        rule.capabilities = capability::kDeny;
        rule.allowed_parameters.clear();
        rule.denied_parameters.clear();
        continue;
      }
      rule.capabilities |= incoming.capabilities;
      add_granting(rule, policy.name, incoming.capabilities);
      // Wrapping TTLs: the smaller of two set values, to keep lifetimes short.
      if (incoming.max_wrapping_ttl.count() > 0 &&
          (rule.max_wrapping_ttl.count() == 0 ||
           incoming.max_wrapping_ttl < rule.max_wrapping_ttl)) {
        rule.max_wrapping_ttl = incoming.max_wrapping_ttl;
      }
      if (incoming.min_wrapping_ttl.count() > 0 &&
          (rule.min_wrapping_ttl.count() == 0 ||
           incoming.min_wrapping_ttl < rule.min_wrapping_ttl)) {
        rule.min_wrapping_ttl = incoming.min_wrapping_ttl;
      }
      merge_parameters(rule.allowed_parameters, incoming.allowed_parameters);
      merge_parameters(rule.denied_parameters, incoming.denied_parameters);
      add_required(rule, incoming.required_parameters);
    }
  }

  // Builds the `+` rules' trie; `children` finds a literal child while building. Its
  // keys view rule segments, which stay put: a rule's segments are complete before it is
  // added, and rules_ no longer grows.
  std::map<std::pair<std::uint32_t, std::string_view>, std::uint32_t> children;
  auto add_to_trie = [&](std::uint32_t index) {
    if (acl.segment_nodes_.empty()) acl.segment_nodes_.emplace_back();
    const Rule& rule = acl.rules_[index];
    const std::size_t walk = rule.is_prefix ? rule.segments.size() - 1 : rule.segments.size();
    std::uint32_t node = 0;
    for (std::size_t i = 0; i < walk; ++i) {
      const std::string& segment = rule.segments[i];
      const bool plus = segment == "+";
      std::uint32_t next = kNoNode;
      if (plus) {
        next = acl.segment_nodes_[node].plus;
      } else if (auto it = children.find({node, segment}); it != children.end()) {
        next = it->second;
      }
      if (next == kNoNode) {
        next = static_cast<std::uint32_t>(acl.segment_nodes_.size());
        acl.segment_nodes_.emplace_back();
        if (plus) {
          acl.segment_nodes_[node].plus = next;
        } else {
          acl.segment_nodes_[node].literal.emplace_back(segment, next);
          children.emplace(std::make_pair(node, std::string_view(segment)), next);
        }
      }
      node = next;
    }
    SegmentNode& end = acl.segment_nodes_[node];
    (rule.is_prefix ? end.glob_rules : end.exact_rules).push_back(index);
  };

  for (std::uint32_t i = 0; i < acl.rules_.size(); ++i) {
    Rule& rule = acl.rules_[i];
    if (rule.has_segment_wildcards) {
      // Vault takes the position of the first '+' character in the written path.
      rule.first_wildcard = static_cast<int>(rule.pattern.find('+'));
      std::string_view rest = rule.pattern;
      while (true) {
        std::size_t slash = rest.find('/');
        rule.segments.emplace_back(rest.substr(0, slash));
        if (rule.segments.back() == "+") ++rule.wildcard_count;
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
      }
      add_to_trie(i);
    } else if (rule.is_prefix) {
      acl.prefix_.push_back(i);
    } else {
      acl.exact_.push_back(i);
    }
  }
  auto by_pattern_text = [&](std::uint32_t a, std::uint32_t b) {
    return acl.rules_[a].pattern < acl.rules_[b].pattern;
  };
  std::sort(acl.exact_.begin(), acl.exact_.end(), by_pattern_text);
  std::sort(acl.prefix_.begin(), acl.prefix_.end(), by_pattern_text);
  for (SegmentNode& node : acl.segment_nodes_) {
    std::sort(node.literal.begin(), node.literal.end());
  }
  return acl;
}

const Acl::Rule* Acl::find_exact(std::string_view path) const {
  auto it = std::lower_bound(
      exact_.begin(), exact_.end(), path,
      [&](std::uint32_t i, std::string_view p) { return std::string_view(rules_[i].pattern) < p; });
  if (it != exact_.end() && rules_[*it].pattern == path) return &rules_[*it];
  return nullptr;
}

// The longest prefix rule that starts `path`. Let p be the greatest pattern <= q (q
// starts as the path). Any pattern that is a prefix of q lies between itself and q, so it
// is also a prefix of p; hence either p is the answer, or the answer is a prefix of the
// common prefix of p and q, which is shorter than q: repeat with that.
const Acl::Rule* Acl::find_longest_prefix(std::string_view path) const {
  std::string_view query = path;
  while (true) {
    auto it = std::upper_bound(prefix_.begin(), prefix_.end(), query,
                               [&](std::string_view q, std::uint32_t i) {
                                 return q < std::string_view(rules_[i].pattern);
                               });
    if (it == prefix_.begin()) return nullptr;
    const Rule& candidate = rules_[*(it - 1)];
    std::string_view pattern = candidate.pattern;
    if (query.starts_with(pattern)) return &candidate;
    std::size_t common = 0;
    while (common < pattern.size() && common < query.size() && pattern[common] == query[common]) {
      ++common;
    }
    query = query.substr(0, common);
  }
}

namespace {

// A short list of trie nodes, on the stack unless a path keeps many branches alive.
class NodeSet {
 public:
  void push_back(std::uint32_t v) {
    if (size_ < inline_.size()) {
      inline_[size_] = v;
    } else {
      if (size_ == inline_.size()) spill_.assign(inline_.begin(), inline_.end());
      spill_.push_back(v);
    }
    ++size_;
  }
  std::size_t size() const { return size_; }
  std::uint32_t operator[](std::size_t i) const {
    return size_ <= inline_.size() ? inline_[i] : spill_[i];
  }
  void clear() {
    size_ = 0;
    spill_.clear();
  }

 private:
  std::array<std::uint32_t, 16> inline_{};
  std::vector<std::uint32_t> spill_{};
  std::size_t size_ = 0;
};

}  // namespace

// The best `+` rule for the path (Vault compares every matching one by priority): walk
// the trie one path segment at a time, following the literal child with that text and
// the '+' child, testing glob rules against the segment about to be consumed, and exact
// rules once the path is used up.
const Acl::Rule* Acl::find_segment(std::string_view path) const {
  if (segment_nodes_.empty()) return nullptr;
  const Rule* best = nullptr;
  auto consider = [&](std::uint32_t index) {
    const Rule& r = rules_[index];
    if (best == nullptr || lower_priority(priority_of(*best), priority_of(r))) best = &r;
  };
  NodeSet active;
  NodeSet next;
  active.push_back(0);
  std::size_t cursor = 0;
  while (true) {
    std::size_t slash = path.find('/', cursor);
    std::string_view part = path.substr(
        cursor, slash == std::string_view::npos ? std::string_view::npos : slash - cursor);
    next.clear();
    for (std::size_t k = 0; k < active.size(); ++k) {
      const SegmentNode& node = segment_nodes_[active[k]];
      for (std::uint32_t index : node.glob_rules) {
        if (part.starts_with(rules_[index].segments.back())) consider(index);
      }
      auto it = std::lower_bound(node.literal.begin(), node.literal.end(), part,
                                 [](const std::pair<std::string, std::uint32_t>& e,
                                    std::string_view p) { return std::string_view(e.first) < p; });
      if (it != node.literal.end() && it->first == part) next.push_back(it->second);
      if (node.plus != kNoNode) next.push_back(node.plus);
    }
    std::swap(active, next);
    if (active.size() == 0) break;
    if (slash == std::string_view::npos) {
      for (std::size_t k = 0; k < active.size(); ++k) {
        for (std::uint32_t index : segment_nodes_[active[k]].exact_rules) consider(index);
      }
      break;
    }
    cursor = slash + 1;
  }
  return best;
}

const Acl::Rule* Acl::find_non_exact(std::string_view path) const {
  const Rule* prefix = find_longest_prefix(path);
  const Rule* segment = find_segment(path);
  if (prefix == nullptr) return segment;
  if (segment == nullptr) return prefix;
  return lower_priority(priority_of(*segment), priority_of(*prefix)) ? prefix : segment;
}

// Vault's lookup order (vault/acl.go, AllowOperation): the exact rule; for lists, the
// exact rule without the trailing '/'; for lists, the best glob for the path without the
// trailing '/'; the best glob for the path.
const Acl::Rule* Acl::find_rule(std::string_view path, bool is_list) const {
  while (path.starts_with('/')) path.remove_prefix(1);
  if (const Rule* r = find_exact(path)) return r;
  std::string_view trimmed = path.ends_with('/') ? path.substr(0, path.size() - 1) : path;
  if (is_list) {
    if (const Rule* r = find_exact(trimmed)) return r;
    if (trimmed.size() != path.size()) {
      if (const Rule* r = find_non_exact(trimmed)) return r;
    }
  }
  return find_non_exact(path);
}

Capabilities Acl::capabilities(std::string_view path) const {
  Capabilities out;
  if (root_) {
    out.bits = capability::kAllGrants;
    out.names = {"root"};
    return out;
  }
  const Rule* rule = find_rule(path, /*is_list=*/true);
  out.bits = rule ? rule->capabilities : 0;
  if (!(out.bits & capability::kDeny)) {
    for (std::uint32_t bit :
         {capability::kSudo, capability::kRead, capability::kList, capability::kUpdate,
          capability::kDelete, capability::kCreate, capability::kPatch}) {
      if (out.bits & bit) out.names.emplace_back(capability_name(bit));
    }
  }
  if (out.names.empty()) out.names = {"deny"};
  return out;
}

namespace {

// The operations whose parameters a rule's allowed, denied and required parameters
// check.
bool carries_parameters(sdk::Operation op) {
  return op == sdk::Operation::kRead || op == sdk::Operation::kCreate ||
         op == sdk::Operation::kUpdate || op == sdk::Operation::kPatch;
}

}  // namespace

bool Acl::reads_parameters(sdk::Operation op, std::string_view path) const {
  if (root_ || !carries_parameters(op)) return false;
  const Rule* rule = find_rule(path, /*is_list=*/false);
  return rule != nullptr &&
         (!rule->allowed_parameters.empty() || !rule->denied_parameters.empty() ||
          !rule->required_parameters.empty());
}

AclDecision Acl::allowed(sdk::Operation op, std::string_view path,
                         const nlohmann::json& request_data, bool path_needs_sudo,
                         std::optional<sdk::Duration> wrap_ttl) const {
  AclDecision decision;
  if (root_) {
    decision.allowed = true;
    decision.root_privs = true;
    decision.is_root = true;
    decision.granting_policies = {std::string(kRootPolicyName)};
    return decision;
  }
  const Rule* rule = find_rule(path, op == sdk::Operation::kList);
  if (rule == nullptr) return decision;
  decision.root_privs = (rule->capabilities & capability::kSudo) != 0;

  std::uint32_t needed = capability_for(op);
  if ((rule->capabilities & needed) == 0) return decision;
  decision.granting_policies = rule->granting[bit_index(needed)];

  if (rule->max_wrapping_ttl.count() > 0 && (!wrap_ttl || *wrap_ttl > rule->max_wrapping_ttl)) {
    return decision;
  }
  if (rule->min_wrapping_ttl.count() > 0 && (!wrap_ttl || *wrap_ttl < rule->min_wrapping_ttl)) {
    return decision;
  }
  // Merging can leave max below min even though each block was checked when parsed.
  if (rule->min_wrapping_ttl.count() != 0 && rule->max_wrapping_ttl.count() != 0 &&
      rule->max_wrapping_ttl < rule->min_wrapping_ttl) {
    return decision;
  }
  if (carries_parameters(op) && !parameters_pass(*rule, request_data)) return decision;
  if (path_needs_sudo && !decision.root_privs) return decision;
  decision.allowed = true;
  return decision;
}

}  // namespace leasefs::backend::auth
