// The system clock and time formatting.
#include "backend/sdk/clock.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace leasefs::backend::sdk {

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

std::int64_t unix_seconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string rfc3339(WallTime t) {
  using namespace std::chrono;
  auto ns = duration_cast<nanoseconds>(t.time_since_epoch()).count();
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  // Digits written by hand: snprintf's format parsing cost more than the rest of an
  // audit entry's time (two per request). Years outside 0..9999 keep the snprintf form.
  const int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", year, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
    return buf;
  }
  std::string out(30, '0');  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ
  auto put = [&](std::size_t at, std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, year, 4);
  out[4] = '-';
  put(5, tm.tm_mon + 1, 2);
  out[7] = '-';
  put(8, tm.tm_mday, 2);
  out[10] = 'T';
  put(11, tm.tm_hour, 2);
  out[13] = ':';
  put(14, tm.tm_min, 2);
  out[16] = ':';
  put(17, tm.tm_sec, 2);
  out[19] = '.';
  put(20, frac, 9);
  out[29] = 'Z';
  return out;
}

}  // namespace leasefs::backend::sdk
