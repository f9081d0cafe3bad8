// Request metrics in Prometheus text format (sys/metrics?format=prometheus): requests by
// path class, method and status; a latency histogram; seal state. Counting is one map
// lookup under a mutex and a few relaxed atomic increments per request.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace leasefs::backend::core {

class Metrics {
 public:
  // Records one request. `path_class` is coarse ("sys", "auth/token", "secret" (the
  // mount), "unrouted"), never a full path, so the label set stays small.
  void observe(const std::string& path_class, const std::string& method, int status,
               std::chrono::nanoseconds latency);
  void set_sealed(bool sealed) { sealed_.store(sealed ? 1 : 0, std::memory_order_relaxed); }
  // The whole set, in the Prometheus text exposition format.
  std::string prometheus() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  5.0};
  struct Counter {
    std::atomic<std::uint64_t> value{0};
  };
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Counter>> requests_;  // guarded by mu_ (the map)
  std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets_{};
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::atomic<std::uint64_t> latency_count_{0};
  std::atomic<int> sealed_{1};
};

}  // namespace leasefs::backend::core
