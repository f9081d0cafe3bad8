// See mountinfo.h.
#include "fs/mountinfo.h"

#include <fstream>
#include <sstream>

namespace leasefs::fs {
namespace {

// /proc/self/mountinfo writes space, tab, newline and backslash as octal escapes.
std::string mountinfo_escape(const std::string& path) {
  std::string out;
  for (char c : path) {
    switch (c) {
      case ' ':
        out += "\\040";
        break;
      case '\t':
        out += "\\011";
        break;
      case '\n':
        out += "\\012";
        break;
      case '\\':
        out += "\\134";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

bool is_leasefs_mount(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string escaped = mountinfo_escape(dir);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point == escaped && line.find(" - fuse.leasefs ") != std::string::npos) return true;
  }
  return false;
}

}  // namespace leasefs::fs
