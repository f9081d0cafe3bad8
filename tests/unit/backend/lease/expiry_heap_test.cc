// The indexed heap: order, updates in place and removal from the middle, checked
// against a sorted model with random operations.
#include "backend/lease/expiry_heap.h"

#include <algorithm>
#include <list>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace leasefs::backend::lease {
namespace {

struct Item {
  std::int64_t due = 0;
  std::uint32_t pos = kNotInHeap;
  int id = 0;
};
struct Traits {
  static std::int64_t due(const Item* i) { return i->due; }
  static std::uint32_t& position(Item* i) { return i->pos; }
};

TEST(ExpiryHeapTest, PopsInDueOrder) {
  std::vector<Item> items(100);
  ExpiryHeap<Item, Traits> heap;
  for (int i = 0; i < 100; ++i) {
    items[i].due = (i * 37) % 100;
    items[i].id = i;
    heap.push(&items[i]);
  }
  std::int64_t last = -1;
  while (!heap.empty()) {
    Item* top = heap.pop();
    EXPECT_GE(top->due, last);
    EXPECT_EQ(top->pos, kNotInHeap);
    last = top->due;
  }
}

TEST(ExpiryHeapTest, RandomOperationsMatchAModel) {
  std::mt19937 gen(7);
  std::list<Item> storage;
  std::vector<Item*> live;
  std::multiset<std::pair<std::int64_t, Item*>> model;
  ExpiryHeap<Item, Traits> heap;
  for (int step = 0; step < 20000; ++step) {
    int op = static_cast<int>(gen() % 4);
    if (op == 0 || live.empty()) {
      storage.push_back(Item{static_cast<std::int64_t>(gen() % 1000), kNotInHeap, step});
      Item* it = &storage.back();
      heap.push(it);
      live.push_back(it);
      model.insert({it->due, it});
    } else if (op == 1) {
      std::size_t k = gen() % live.size();
      Item* it = live[k];
      model.erase(model.find({it->due, it}));
      it->due = static_cast<std::int64_t>(gen() % 1000);
      heap.update(it);
      model.insert({it->due, it});
    } else if (op == 2) {
      std::size_t k = gen() % live.size();
      Item* it = live[k];
      heap.erase(it);
      EXPECT_EQ(it->pos, kNotInHeap);
      model.erase(model.find({it->due, it}));
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
    } else {
      Item* top = heap.pop();
      EXPECT_EQ(top->due, model.begin()->first);
      model.erase(model.find({top->due, top}));
      live.erase(std::find(live.begin(), live.end(), top));
    }
    ASSERT_EQ(heap.size(), model.size());
    if (!heap.empty()) {
      ASSERT_EQ(heap.top()->due, model.begin()->first);
    }
  }
}

}  // namespace
}  // namespace leasefs::backend::lease
