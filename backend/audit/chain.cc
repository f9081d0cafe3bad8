// Sealing lines into the chain, verifying a log in bounded memory, and reading the tail
// of an existing log to continue its chain. The canonical form is defined in chain.h.
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 but kept (hasher.cc says why):
// EVP_Digest allocates and frees a digest context per call, which cost a third of a
// microsecond for every line sealed. (OpenSSL 3's one-shot SHA256() goes through EVP.)
#define OPENSSL_SUPPRESS_DEPRECATED
#include "backend/audit/chain.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

namespace leasefs::backend::audit {
namespace {

using sdk::Code;

// `,"prev_hash":"` P `","hash":"` H `"}`
constexpr std::string_view kPrevOpen = ",\"prev_hash\":\"";
constexpr std::string_view kHashOpen = "\",\"hash\":\"";
constexpr std::string_view kClose = "\"}";
constexpr std::size_t kSuffixSize =
    kPrevOpen.size() + kHashHexSize + kHashOpen.size() + kHashHexSize + kClose.size();  // 154
// Bytes at the end of a line that the canonical form drops and replaces by "}":
// `,"hash":"` H `"}` — the quote closing P stays in C.
constexpr std::size_t kCutSize = kHashOpen.size() - 1 + kHashHexSize + kClose.size();  // 75

constexpr char kHexDigits[] = "0123456789abcdef";

const EVP_MD* sha256() {
  // Fetched once: implicit fetches on every digest cost more than the digest itself.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

void to_hex(const unsigned char* bytes, std::size_t n, std::string& out) {
  out.resize(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  bool valid() const { return ctx_ != nullptr && sha256() != nullptr; }
  void reset() { EVP_DigestInit_ex(ctx_, sha256(), nullptr); }
  void update(std::string_view data) {
    if (!data.empty()) EVP_DigestUpdate(ctx_, data.data(), data.size());
  }
  std::string hex_final() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_, digest, &size);
    std::string out;
    to_hex(digest, size, out);
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// What one line of a log says about itself.
struct LineInfo {
  std::uint64_t number = 0;
  bool complete = false;     // terminated by '\n'
  bool well_formed = false;  // ends with the prev_hash/hash members
  bool hash_ok = false;      // H matches SHA-256(C)
  std::string prev{};
  std::string hash{};
};

// Hashes a line as it streams by, holding back its last bytes (where P and H are) so a
// line of any length needs only this fixed window.
class LineHasher {
 public:
  static constexpr std::size_t kKeep = 256;
  static_assert(kKeep >= kSuffixSize);

  void begin() {
    sha_.reset();
    tail_.clear();
    length_ = 0;
  }
  void feed(const char* data, std::size_t n) {
    length_ += n;
    tail_.append(data, n);
    if (tail_.size() > 4 * kKeep) {
      std::size_t flush = tail_.size() - kKeep;
      sha_.update(std::string_view(tail_).substr(0, flush));
      tail_.erase(0, flush);
    }
  }
  std::uint64_t length() const { return length_; }

  LineInfo finish(std::uint64_t number, bool complete) {
    LineInfo info;
    info.number = number;
    info.complete = complete;
    if (length_ <= kSuffixSize) return info;
    std::string_view t(tail_);
    std::string_view suffix = t.substr(t.size() - kSuffixSize);
    std::string_view prev = suffix.substr(kPrevOpen.size(), kHashHexSize);
    std::string_view rest = suffix.substr(kPrevOpen.size() + kHashHexSize);
    std::string_view hash = rest.substr(kHashOpen.size(), kHashHexSize);
    if (!suffix.starts_with(kPrevOpen) || !rest.starts_with(kHashOpen) ||
        !suffix.ends_with(kClose) || !is_chain_hash(prev) || !is_chain_hash(hash)) {
      return info;
    }
    info.well_formed = true;
    info.prev.assign(prev);
    info.hash.assign(hash);
    sha_.update(t.substr(0, t.size() - kCutSize));
    sha_.update("}");
    info.hash_ok = sha_.hex_final() == info.hash;
    return info;
  }

 private:
  Sha256 sha_;
  std::string tail_;
  std::uint64_t length_ = 0;
};

// Remembers the hashes of the last lines seen, to tell a reordered line from a missing
// one. Bounded: the oldest are forgotten.
class RecentHashes {
 public:
  static constexpr std::size_t kMax = 4096;
  void add(const std::string& hash, std::uint64_t line) {
    if (order_.size() == kMax) {
      auto it = lines_.find(order_.front());
      if (it != lines_.end() && it->second == order_line_.front()) lines_.erase(it);
      order_.pop_front();
      order_line_.pop_front();
    }
    order_.push_back(hash);
    order_line_.push_back(line);
    lines_[hash] = line;
  }
  std::optional<std::uint64_t> find(const std::string& hash) const {
    auto it = lines_.find(hash);
    if (it == lines_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::deque<std::string> order_;
  std::deque<std::uint64_t> order_line_;
  std::unordered_map<std::string, std::uint64_t> lines_;
};

// Consumes LineInfos in order and stops at the first fault. A line that does not link
// to its predecessor is judged only once the next line is known (one line of
// look-ahead), so a swap of two lines is told apart from a missing entry.
class Checker {
 public:
  explicit Checker(const VerifyOptions& options) : expected_first_(options.expected_prev_hash) {}

  // False once a fault is found.
  bool on_line(LineInfo info) {
    if (pending_) {
      judge_link(&info);
      return false;
    }
    if (!info.complete) {
      return fail(FaultKind::kTruncated, info.number,
                  "the last line is incomplete (no line end): the log was cut off or a "
                  "write was torn");
    }
    if (!info.well_formed) {
      return fail(FaultKind::kMalformed, info.number,
                  "not a sealed audit entry (it does not end with the prev_hash and hash "
                  "members)");
    }
    if (!info.hash_ok) {
      return fail(FaultKind::kAltered, info.number,
                  "its content does not match its hash " + info.hash);
    }
    if (report_.entries == 0) {
      report_.first_prev_hash = info.prev;
      report_.starts_at_genesis = info.prev == kGenesisHash;
      if (!expected_first_.empty() && info.prev != expected_first_) {
        return fail(FaultKind::kBrokenLink, info.number,
                    "the first entry links to " + info.prev + ", not to " + expected_first_ +
                        " (the end of the previous log): entries are missing between them");
      }
    } else if (info.prev != report_.last_hash) {
      pending_ = std::move(info);
      return true;
    }
    accept(info);
    return true;
  }

  void on_end(std::uint64_t lines, const std::string& expected_last) {
    if (pending_) {
      judge_link(nullptr);
      return;
    }
    if (!expected_last.empty() && report_.last_hash != expected_last) {
      std::string where =
          report_.entries == 0 ? "the log is empty" : "the log ends with " + report_.last_hash;
      if (auto k = recent_.find(expected_last)) {
        where +=
            "; the expected entry is line " + std::to_string(*k) + ", so the log continues past it";
      }
      fail(FaultKind::kEndMismatch, lines + 1,
           "expected the last entry to be " + expected_last + " but " + where +
               ": entries at the end are missing, or the expected hash is not this log's");
    }
  }

  VerifyReport& report() { return report_; }

 private:
  void accept(const LineInfo& info) {
    recent_.add(info.hash, info.number);
    report_.last_hash = info.hash;
    ++report_.entries;
  }

  bool fail(FaultKind kind, std::uint64_t line, std::string detail) {
    report_.fault = kind;
    report_.fault_line = line;
    report_.fault_detail = std::move(detail);
    return false;
  }

  // pending_ (line N) does not link to line N-1; `next` is line N+1 or null at the end.
  void judge_link(const LineInfo* next) {
    const LineInfo& n = *pending_;
    const std::uint64_t before = n.number - 1;
    const bool next_ok = next != nullptr && next->complete && next->well_formed && next->hash_ok;
    if (next_ok && next->prev == report_.last_hash && n.prev == next->hash) {
      fail(FaultKind::kReordered, n.number,
           "lines " + std::to_string(n.number) + " and " + std::to_string(next->number) +
               " are swapped: line " + std::to_string(n.number) + " links to line " +
               std::to_string(next->number) + ", which links to line " + std::to_string(before));
      return;
    }
    if (auto k = recent_.find(n.prev)) {
      fail(FaultKind::kReordered, n.number,
           "the entry links to line " + std::to_string(*k) + ", not to line " +
               std::to_string(before) + ": lines were reordered or duplicated");
      return;
    }
    if (next_ok && next->prev == report_.last_hash) {
      fail(FaultKind::kReordered, n.number,
           "the entry does not belong here: line " + std::to_string(next->number) +
               " links to line " + std::to_string(before) +
               ", so this line was inserted or moved from elsewhere");
      return;
    }
    fail(FaultKind::kDropped, n.number,
         "the entry does not link to line " + std::to_string(before) + " (its prev_hash is " +
             n.prev + "): the entry or entries between them are missing");
  }

  std::string expected_first_;
  VerifyReport report_;
  RecentHashes recent_;
  std::optional<LineInfo> pending_;
};

sdk::Status io_status(int err, const std::string& what) {
  Code code = Code::kUnavailable;
  if (err == ENOENT || err == ENOTDIR) code = Code::kNotFound;
  if (err == EACCES || err == EPERM) code = Code::kPermissionDenied;
  return sdk::Status(code, what + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

bool is_chain_hash(std::string_view text) {
  if (text.size() != kHashHexSize) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string_view fault_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kMalformed:
      return "malformed";
    case FaultKind::kTruncated:
      return "truncated";
    case FaultKind::kAltered:
      return "altered";
    case FaultKind::kDropped:
      return "dropped";
    case FaultKind::kReordered:
      return "reordered";
    case FaultKind::kBrokenLink:
      return "broken link";
    case FaultKind::kEndMismatch:
      return "end mismatch";
  }
  return "unknown";
}

static_assert(sizeof(SHA256_CTX) <= sizeof(LineHead::state));

LineHead hash_line_head(std::string_view body) {
  // body = PREFIX {...}: C starts with it, less its '}', then the prev_hash member.
  const std::string_view open = body.substr(0, body.empty() ? 0 : body.size() - 1);
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, open.data(), open.size());
  SHA256_Update(&ctx, kPrevOpen.data(), kPrevOpen.size());
  LineHead head{};
  std::memcpy(head.state, &ctx, sizeof ctx);
  return head;
}

void append_sealed_line(std::string_view body, const LineHead& head, std::string_view prev_hash,
                        std::string& out, std::string& hash) {
  // The line: C (the body less its '}', the prev_hash member, "}") with the final "}"
  // replaced by `,"hash":"H"}`, and a newline. Only the last bytes of C are hashed here.
  const std::string_view open = body.substr(0, body.empty() ? 0 : body.size() - 1);
  SHA256_CTX ctx;
  std::memcpy(&ctx, head.state, sizeof ctx);
  SHA256_Update(&ctx, prev_hash.data(), prev_hash.size());
  SHA256_Update(&ctx, "\"}", 2);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_Final(digest, &ctx);
  to_hex(digest, sizeof digest, hash);
  out.append(open);
  out.append(kPrevOpen);
  out.append(prev_hash);
  out.append(kHashOpen);
  out.append(hash);
  out.append(kClose);
  out.push_back('\n');
}

void append_sealed_line(std::string_view body, std::string_view prev_hash, std::string& out,
                        std::string& hash) {
  append_sealed_line(body, hash_line_head(body), prev_hash, out, hash);
}

sdk::Result<VerifyReport> verify_log(const std::filesystem::path& path,
                                     const VerifyOptions& options, VerifyReport* report) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return sdk::error(io_status(errno, "cannot open " + path.string()));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return sdk::error(io_status(errno, "cannot stat " + path.string()));
  if (S_ISDIR(st.st_mode)) return sdk::invalid_argument(path.string() + " is a directory");

  Checker checker(options);
  LineHasher line;
  line.begin();
  std::uint64_t number = 1;
  bool going = true;
  std::array<char, 1 << 16> buffer{};
  while (going) {
    ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sdk::error(io_status(errno, "cannot read " + path.string()));
    }
    if (n == 0) break;
    const char* p = buffer.data();
    const char* end = p + n;
    while (going && p < end) {
      const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      if (nl == nullptr) {
        line.feed(p, static_cast<std::size_t>(end - p));
        break;
      }
      const char* e = static_cast<const char*>(nl);
      line.feed(p, static_cast<std::size_t>(e - p));
      going = checker.on_line(line.finish(number++, true));
      line.begin();
      p = e + 1;
    }
  }
  if (going && line.length() > 0) going = checker.on_line(line.finish(number++, false));
  if (going) checker.on_end(number - 1, options.expected_last_hash);

  VerifyReport& result = checker.report();
  if (result.fault != FaultKind::kNone) result.fault_file = path;
  if (report != nullptr) *report = result;
  if (result.fault != FaultKind::kNone) {
    return sdk::error(Code::kDataLoss,
                      path.string() + ": line " + std::to_string(result.fault_line) + ": " +
                          std::string(fault_name(result.fault)) + ": " + result.fault_detail);
  }
  return result;
}

sdk::Result<VerifyReport> verify_logs(std::span<const std::filesystem::path> paths,
                                      const VerifyOptions& options, VerifyReport* report) {
  VerifyReport total;
  std::string previous_last = options.expected_prev_hash;
  bool first = true;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    VerifyOptions one_options;
    one_options.expected_prev_hash = previous_last;
    if (i + 1 == paths.size()) one_options.expected_last_hash = options.expected_last_hash;
    VerifyReport one;
    auto verified = verify_log(paths[i], one_options, &one);
    if (!verified) {
      if (report != nullptr) {
        *report = one;
        report->entries += total.entries;
      }
      return verified;
    }
    if (first) {
      total.first_prev_hash = one.first_prev_hash;
      total.starts_at_genesis = one.starts_at_genesis;
    }
    total.entries += one.entries;
    if (!one.last_hash.empty()) {
      previous_last = one.last_hash;
      total.last_hash = one.last_hash;
      first = false;
    }
  }
  if (report != nullptr) *report = total;
  return total;
}

sdk::Result<LogTail> read_log_tail(int fd) {
  LogTail tail;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sdk::error(io_status(errno, "cannot stat the audit log"));
  if (!S_ISREG(st.st_mode) || st.st_size == 0) return tail;
  tail.empty = false;
  const off_t size = st.st_size;
  char last = 0;
  if (::pread(fd, &last, 1, size - 1) != 1) {
    return sdk::error(io_status(errno, "cannot read the audit log"));
  }
  tail.torn = last != '\n';
  // Position of the '\n' that ends the last complete line.
  off_t end = size - 1;
  if (tail.torn) {
    end = -1;
    std::array<char, 1 << 16> buffer{};
    off_t hi = size;
    while (hi > 0 && end < 0) {
      off_t lo =
          hi > static_cast<off_t>(buffer.size()) ? hi - static_cast<off_t>(buffer.size()) : 0;
      ssize_t n = ::pread(fd, buffer.data(), static_cast<std::size_t>(hi - lo), lo);
      if (n != hi - lo)
        return sdk::error(io_status(errno ? errno : EIO, "cannot read the audit log"));
      for (off_t i = n - 1; i >= 0; --i) {
        if (buffer[static_cast<std::size_t>(i)] == '\n') {
          end = lo + i;
          break;
        }
      }
      hi = lo;
    }
    if (end < 0) return tail;
  }
  if (end < static_cast<off_t>(kSuffixSize) + 1) return tail;
  std::string suffix(kSuffixSize, '\0');
  if (::pread(fd, suffix.data(), kSuffixSize, end - static_cast<off_t>(kSuffixSize)) !=
      static_cast<ssize_t>(kSuffixSize)) {
    return sdk::error(io_status(errno ? errno : EIO, "cannot read the audit log"));
  }
  std::string_view s(suffix);
  std::string_view prev = s.substr(kPrevOpen.size(), kHashHexSize);
  std::string_view rest = s.substr(kPrevOpen.size() + kHashHexSize);
  std::string_view hash = rest.substr(kHashOpen.size(), kHashHexSize);
  if (s.starts_with(kPrevOpen) && rest.starts_with(kHashOpen) && s.ends_with(kClose) &&
      is_chain_hash(prev) && is_chain_hash(hash)) {
    tail.last_hash.assign(hash);
  }
  return tail;
}

}  // namespace leasefs::backend::audit
