// Injectable time. Everything in leasefs that decides by time (lease expiry, renewal,
// retries, key install times) asks a Clock, so tests move time by hand instead of
// sleeping. Wall time is used for anything persisted; steady time for timeouts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace leasefs::backend::sdk {

using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time. Thread-safe.
  virtual WallTime now() const = 0;
  // Monotonic time for deadlines. Thread-safe.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

// The real clocks. Stateless; one shared instance.
class SystemClock final : public Clock {
 public:
  WallTime now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
  static SystemClock& instance();
};

// A clock that moves only when told to; both of its timelines move together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime(std::chrono::seconds(1'700'000'000)))
      : wall_ns_(start.time_since_epoch().count()) {}

  WallTime now() const override {
    return WallTime(WallTime::duration(wall_ns_.load()));
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(steady_ns_.load()));
  }
  void advance(Duration d) {
    wall_ns_ += std::chrono::duration_cast<WallTime::duration>(d).count();
    steady_ns_ += d.count();
  }
  void set(WallTime t) { wall_ns_ = t.time_since_epoch().count(); }

 private:
  std::atomic<WallTime::rep> wall_ns_;
  std::atomic<std::int64_t> steady_ns_{1'000'000'000};
};

// Seconds since the Unix epoch, and RFC 3339 with nanoseconds in UTC
// ("2026-11-28T13:24:54.123456789Z"), the form Vault's JSON uses.
std::int64_t unix_seconds(WallTime t);
std::string rfc3339(WallTime t);

}  // namespace leasefs::backend::sdk
