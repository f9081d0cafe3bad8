// An indexed binary min-heap of node pointers ordered by a due time. Each node keeps
// its own position in the heap, so a lease whose expiry moves (renewal, revoke now)
// or that leaves (revoked) is re-placed or removed in O(log n) without stale entries
// piling up: the heap holds exactly one 8-byte pointer per scheduled lease.
//
// Traits must provide:
//   static std::int64_t due(const Node*);      the ordering key
//   static std::uint32_t& position(Node*);     where the node sits; kNotInHeap if absent
// Not thread-safe: the owner's lock guards it.
#pragma once

#include <utility>

#include <cstdint>
#include <limits>
#include <vector>

namespace leasefs::backend::lease {

inline constexpr std::uint32_t kNotInHeap = std::numeric_limits<std::uint32_t>::max();

template <class Node, class Traits>
class ExpiryHeap {
 public:
  bool empty() const { return nodes_.empty(); }
  std::size_t size() const { return nodes_.size(); }
  // The earliest node; the heap must not be empty.
  Node* top() const { return nodes_.front(); }

  // Adds a node that is not in the heap.
  void push(Node* node) {
    Traits::position(node) = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back(node);
    sift_up(nodes_.size() - 1);
  }

  // Removes a node if it is in the heap.
  void erase(Node* node) {
    std::uint32_t at = Traits::position(node);
    if (at == kNotInHeap) return;
    std::size_t last = nodes_.size() - 1;
    if (at != last) {
      place(at, nodes_[last]);
      nodes_.pop_back();
      restore(at);
    } else {
      nodes_.pop_back();
    }
    Traits::position(node) = kNotInHeap;
  }

  // Re-places a node after its due time changed (pushes it if it was absent).
  void update(Node* node) {
    std::uint32_t at = Traits::position(node);
    if (at == kNotInHeap) {
      push(node);
      return;
    }
    restore(at);
  }

  Node* pop() {
    Node* node = nodes_.front();
    erase(node);
    return node;
  }

  // Forgets every node (their positions are left as they were) and frees the memory.
  void clear() { std::vector<Node*>().swap(nodes_); }

 private:
  void place(std::size_t at, Node* node) {
    nodes_[at] = node;
    Traits::position(node) = static_cast<std::uint32_t>(at);
  }

  void restore(std::size_t at) {
    if (at > 0 && Traits::due(nodes_[at]) < Traits::due(nodes_[(at - 1) / 2])) {
      sift_up(at);
    } else {
      sift_down(at);
    }
  }

  void sift_up(std::size_t at) {
    Node* node = nodes_[at];
    while (at > 0) {
      std::size_t parent = (at - 1) / 2;
      if (!(Traits::due(node) < Traits::due(nodes_[parent]))) break;
      place(at, nodes_[parent]);
      at = parent;
    }
    place(at, node);
  }

  void sift_down(std::size_t at) {
    Node* node = nodes_[at];
    const std::size_t n = nodes_.size();
    while (true) {
      std::size_t child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && Traits::due(nodes_[child + 1]) < Traits::due(nodes_[child])) ++child;
      if (!(Traits::due(nodes_[child]) < Traits::due(node))) break;
      place(at, nodes_[child]);
      at = child;
    }
    place(at, node);
  }

  std::vector<Node*> nodes_;
};

}  // namespace leasefs::backend::lease
