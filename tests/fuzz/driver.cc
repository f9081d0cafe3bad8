// A standalone driver for libFuzzer-style targets, for builds with GCC (which has no
// libFuzzer). It is not coverage-guided: it replays the seed corpus, then feeds random
// mutations of the seeds (bit flips, byte edits, chunk copies, splices, dictionary
// tokens, long repeats) to LLVMFuzzerTestOneInput until the time is up. The sanitizers
// do the detecting; on the first crash, sanitizer report or per-input timeout the
// driver saves the input as <artifact-prefix>crash-<hash> (or timeout-<hash>) and dies.
//
//   NAME [--seconds N] [--seed N] [--runs N] [--max-len N] [--timeout N]
//        [--dict FILE] [--artifact-prefix P] [FILE_OR_DIR ...]
//
// FILE_OR_DIR: seed files, or directories whose files are seeds. --seconds (default 5)
// bounds the mutation phase, 0 only replays (how to reproduce a crash file); --runs
// bounds it by count instead. --seed makes the mutations repeatable (default: random,
// printed). --max-len caps mutated inputs (default 4096 bytes). --timeout (default 10 s)
// fails an input that runs longer. --dict: libFuzzer dictionary format.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "tests/fuzz/fuzz_target.h"

// Targets need not define it.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

#if defined(__SANITIZE_ADDRESS__)
extern "C" void __sanitizer_set_death_callback(void (*callback)());
#endif

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Options {
  double seconds = 5;
  std::optional<std::uint64_t> seed{};
  std::optional<long long> runs{};
  std::size_t max_len = 4096;
  unsigned timeout = 10;
  std::string dict{};
  std::string artifact_prefix = "./";
  std::vector<std::string> inputs{};
};

// The input being run, for the crash handlers. Set before each run.
const std::uint8_t* g_data = nullptr;
std::size_t g_size = 0;
char g_prefix[4096] = "./";
volatile sig_atomic_t g_saved = 0;

// Writes the current input to <prefix><kind>-<fnv1a64 hex>. Async-signal-safe.
void save_current_input(const char* kind) {
  if (g_saved || g_data == nullptr) return;
  g_saved = 1;
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < g_size; ++i) {
    h ^= g_data[i];
    h *= 0x100000001b3ULL;
  }
  char path[4200];
  std::size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n + 1 < sizeof(path)) path[n++] = *s++;
  };
  put(g_prefix);
  put(kind);
  put("-");
  constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) {
    if (n + 1 < sizeof(path)) path[n++] = kHex[(h >> shift) & 0xf];
  }
  path[n] = '\0';
  int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    std::size_t off = 0;
    while (off < g_size) {
      ssize_t w = ::write(fd, g_data + off, g_size - off);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    ::close(fd);
  }
  const char msg[] = "\n==fuzz driver== input saved to ";
  ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
  ignored = ::write(2, path, n);
  ignored = ::write(2, "\n", 1);
  (void)ignored;
}

void on_fatal_signal(int sig) {
  save_current_input("crash");
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void on_alarm(int) {
  const char msg[] = "\n==fuzz driver== an input ran past --timeout\n";
  ssize_t ignored = ::write(2, msg, sizeof(msg) - 1);
  (void)ignored;
  save_current_input("timeout");
  ::signal(SIGABRT, SIG_DFL);
  std::abort();
}

#if defined(__SANITIZE_ADDRESS__)
void on_sanitizer_death() {
  save_current_input("crash");
}
#endif

void install_handlers() {
#if defined(__SANITIZE_ADDRESS__)
  // ASan owns SIGSEGV/SIGBUS/SIGFPE and reports them; it calls this before dying.
  __sanitizer_set_death_callback(on_sanitizer_death);
#else
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(sig, on_fatal_signal);
#endif
  ::signal(SIGABRT, on_fatal_signal);
  ::signal(SIGALRM, on_alarm);
}

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "fuzz driver: %s\n(see the top of tests/fuzz/driver.cc for options)\n",
               message.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (arg.starts_with("--")) {
      if (auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
        has_value = true;
      }
    } else {
      o.inputs.push_back(arg);
      continue;
    }
    auto take = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& text) -> unsigned long long {
      char* end = nullptr;
      unsigned long long v = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0') usage_error(arg + ": not a number: " + text);
      return v;
    };
    if (arg == "--seconds") {
      char* end = nullptr;
      std::string text = take();
      o.seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || o.seconds < 0) usage_error("--seconds: bad value");
    } else if (arg == "--seed") {
      o.seed = number(take());
    } else if (arg == "--runs") {
      o.runs = static_cast<long long>(number(take()));
    } else if (arg == "--max-len") {
      o.max_len = std::max<std::size_t>(1, number(take()));
    } else if (arg == "--timeout") {
      o.timeout = static_cast<unsigned>(number(take()));
    } else if (arg == "--dict") {
      o.dict = take();
    } else if (arg == "--artifact-prefix") {
      o.artifact_prefix = take();
    } else if (arg == "--help") {
      usage_error("usage");
    } else {
      usage_error("unknown option " + arg);
    }
  }
  return o;
}

Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error("cannot read " + path.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<Bytes> load_seeds(const std::vector<std::string>& inputs) {
  std::vector<Bytes> seeds;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(input)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) seeds.push_back(read_file(f));
    } else {
      seeds.push_back(read_file(input));
    }
  }
  return seeds;
}

// libFuzzer dictionary lines: `"token"` or `name="token"`, with \\, \" and \xHH escapes;
// '#' starts a comment line.
std::vector<Bytes> load_dictionary(const std::string& path) {
  std::vector<Bytes> tokens;
  if (path.empty()) return tokens;
  std::ifstream in(path);
  if (!in) usage_error("cannot read dictionary " + path);
  std::string line;
  while (std::getline(in, line)) {
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::size_t open = line.find('"');
    std::size_t close = line.rfind('"');
    if (open == std::string::npos || close <= open) continue;
    auto hex = [](char c) {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    Bytes token;
    for (std::size_t i = open + 1; i < close; ++i) {
      if (line[i] == '\\' && i + 1 < close) {
        char e = line[++i];
        if (e == 'x' && i + 2 < close && hex(line[i + 1]) >= 0 && hex(line[i + 2]) >= 0) {
          token.push_back(static_cast<std::uint8_t>(hex(line[i + 1]) * 16 + hex(line[i + 2])));
          i += 2;
        } else {
          token.push_back(static_cast<std::uint8_t>(e));
        }
      } else {
        token.push_back(static_cast<std::uint8_t>(line[i]));
      }
    }
    if (!token.empty()) tokens.push_back(std::move(token));
  }
  return tokens;
}

// Runs one input from an allocation of exactly its size, so reads past the end trip ASan.
void run_one(const Bytes& input, unsigned timeout) {
  std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[input.size() == 0 ? 1 : input.size()]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  g_data = copy.get();
  g_size = input.size();
  if (timeout > 0) ::alarm(timeout);
  LLVMFuzzerTestOneInput(copy.get(), input.size());
  if (timeout > 0) ::alarm(0);
  g_data = nullptr;
  g_size = 0;
}

class Mutator {
 public:
  Mutator(std::uint64_t seed, std::vector<Bytes> dictionary, std::size_t max_len)
      : rng_(seed), dictionary_(std::move(dictionary)), max_len_(max_len) {}

  Bytes mutate(const std::vector<Bytes>& pool) {
    Bytes data = pool.empty() ? Bytes{} : pool[below(pool.size())];
    std::size_t edits = 1 + below(8);
    for (std::size_t e = 0; e < edits; ++e) edit(data, pool);
    if (data.size() > max_len_) data.resize(max_len_);
    return data;
  }

 private:
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
  std::uint8_t byte() {
    static constexpr std::uint8_t kInteresting[] = {
        0,   1,   0x7f, 0x80, 0xff, '"', '\\', '{', '}', '[', ']', '=',  ',',
        '*', '+', '/',  '#',  '\n', ' ', '\t', '<', 'x', 'u', '0', 0xc3, 0xa9};
    if (below(2) == 0) return kInteresting[below(std::size(kInteresting))];
    return static_cast<std::uint8_t>(rng_());
  }

  void insert(Bytes& data, std::size_t at, const Bytes& what) {
    if (data.size() + what.size() > max_len_) return;
    data.insert(data.begin() + static_cast<std::ptrdiff_t>(at), what.begin(), what.end());
  }

  void edit(Bytes& data, const std::vector<Bytes>& pool) {
    std::size_t size = data.size();
    switch (below(10)) {
      case 0:  // flip a bit
        if (size) data[below(size)] ^= static_cast<std::uint8_t>(1u << below(8));
        break;
      case 1:  // overwrite a byte
        if (size) data[below(size)] = byte();
        break;
      case 2:  // insert a byte
        insert(data, below(size + 1), Bytes{byte()});
        break;
      case 3: {  // erase a range
        if (!size) break;
        std::size_t at = below(size);
        std::size_t n = 1 + below(std::min<std::size_t>(size - at, 16));
        data.erase(data.begin() + static_cast<std::ptrdiff_t>(at),
                   data.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 4: {  // copy a chunk of itself elsewhere
        if (!size) break;
        std::size_t from = below(size);
        std::size_t n = 1 + below(std::min<std::size_t>(size - from, 64));
        Bytes chunk(data.begin() + static_cast<std::ptrdiff_t>(from),
                    data.begin() + static_cast<std::ptrdiff_t>(from + n));
        insert(data, below(size + 1), chunk);
        break;
      }
      case 5:
      case 6:  // insert a dictionary token
        if (!dictionary_.empty())
          insert(data, below(size + 1), dictionary_[below(dictionary_.size())]);
        break;
      case 7: {  // splice with another pool entry
        if (pool.empty()) break;
        const Bytes& other = pool[below(pool.size())];
        if (other.empty()) break;
        std::size_t from = below(other.size());
        Bytes tail(other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        data.resize(below(size + 1));
        insert(data, data.size(), tail);
        break;
      }
      case 8: {  // a long run of one token or byte: nesting and length limits
        Bytes unit = (!dictionary_.empty() && below(2)) ? dictionary_[below(dictionary_.size())]
                                                        : Bytes{byte()};
        std::size_t times = 1 + below(200);
        Bytes run;
        for (std::size_t t = 0; t < times && run.size() + unit.size() <= max_len_; ++t) {
          run.insert(run.end(), unit.begin(), unit.end());
        }
        insert(data, below(size + 1), run);
        break;
      }
      default:  // truncate
        if (size) data.resize(below(size));
        break;
    }
  }

  std::mt19937_64 rng_;
  std::vector<Bytes> dictionary_;
  std::size_t max_len_;
};

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  Options options = parse_options(argc, argv);
  std::snprintf(g_prefix, sizeof(g_prefix), "%s", options.artifact_prefix.c_str());
  install_handlers();
  const char* name = argc > 0 ? argv[0] : "fuzzer";

  std::vector<Bytes> pool = load_seeds(options.inputs);
  for (const Bytes& seed : pool) run_one(seed, options.timeout);
  std::fprintf(stderr, "%s: replayed %zu seed inputs\n", name, pool.size());

  bool mutate = options.runs ? *options.runs > 0 : options.seconds > 0;
  if (!mutate) return 0;
  std::uint64_t seed = options.seed ? *options.seed : std::random_device{}();
  if (options.runs) {
    std::fprintf(stderr, "%s: mutating for %lld runs with --seed %llu\n", name, *options.runs,
                 static_cast<unsigned long long>(seed));
  } else {
    std::fprintf(stderr, "%s: mutating for %g s with --seed %llu\n", name, options.seconds,
                 static_cast<unsigned long long>(seed));
  }
  Mutator mutator(seed, load_dictionary(options.dict), options.max_len);
  const std::size_t seed_count = pool.size();
  constexpr std::size_t kMaxPool = 1024;
  std::mt19937_64 keep_rng(seed ^ 0x9e3779b97f4a7c15ULL);

  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(options.seconds));
  long long done = 0;
  while (options.runs ? done < *options.runs : std::chrono::steady_clock::now() < deadline) {
    Bytes input = mutator.mutate(pool);
    run_one(input, options.timeout);
    ++done;
    // Without coverage feedback, keep a few mutants at random so edits can pile up.
    if (keep_rng() % 64 == 0) {
      if (pool.size() < kMaxPool) {
        pool.push_back(std::move(input));
      } else if (pool.size() > seed_count) {
        pool[seed_count + keep_rng() % (pool.size() - seed_count)] = std::move(input);
      }
    }
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%s: %lld inputs in %.1f s, no failure\n", name, done, elapsed);
  return 0;
}
