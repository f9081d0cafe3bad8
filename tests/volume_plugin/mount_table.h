// Test helper for the volume plugin tests: which mount points lie at or below a
// directory (per /proc/self/mountinfo), to assert that nothing was left mounted.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace leasefs::testing {

inline std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> found;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == dir || point.starts_with(dir + "/")) found.push_back(point);
  }
  return found;
}

}  // namespace leasefs::testing
