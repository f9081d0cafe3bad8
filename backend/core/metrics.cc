// Counters, histogram and their Prometheus rendering.
#include "backend/core/metrics.h"

#include <cstdio>

namespace leasefs::backend::core {

namespace {

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::observe(const std::string& path_class, const std::string& method, int status,
                      std::chrono::nanoseconds latency) {
  std::string key = "class=\"" + label_value(path_class) + "\",method=\"" + label_value(method) +
                    "\",code=\"" + std::to_string(status) + "\"";
  Counter* counter = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& slot = requests_[key];
    if (!slot) slot = std::make_unique<Counter>();
    counter = slot.get();
  }
  counter->value.fetch_add(1, std::memory_order_relaxed);
  double seconds = std::chrono::duration<double>(latency).count();
  std::size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<std::uint64_t>(latency.count()), std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::prometheus() const {
  std::string out;
  out += "# HELP leasefs_requests_total HTTP API requests by path class, method and status.\n";
  out += "# TYPE leasefs_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [labels, counter] : requests_) {
      out += "leasefs_requests_total{" + labels + "} " +
             std::to_string(counter->value.load(std::memory_order_relaxed)) + "\n";
    }
  }
  out += "# HELP leasefs_request_duration_seconds Time from request decoded to response ready.\n";
  out += "# TYPE leasefs_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  char buf[64];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof buf, "%g", kBuckets[i]);
    out += std::string("leasefs_request_duration_seconds_bucket{le=\"") + buf + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBuckets.size()].load(std::memory_order_relaxed);
  out += "leasefs_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  std::snprintf(buf, sizeof buf, "%.9f",
                static_cast<double>(latency_sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  out += std::string("leasefs_request_duration_seconds_sum ") + buf + "\n";
  out += "leasefs_request_duration_seconds_count " +
         std::to_string(latency_count_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP leasefs_sealed 1 when the server is sealed.\n# TYPE leasefs_sealed gauge\n";
  out += "leasefs_sealed " + std::to_string(sealed_.load(std::memory_order_relaxed)) + "\n";
  return out;
}

}  // namespace leasefs::backend::core
