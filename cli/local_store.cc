// Opening a storage file with its barrier and seal, and reading key shares.
#include "cli/local_store.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "backend/sdk/secure_buffer.h"

namespace leasefs::cli {

namespace sdk = backend::sdk;

sdk::Result<std::unique_ptr<LocalStore>> LocalStore::open(const std::filesystem::path& file,
                                                         bool create) {
  backend::storage::SqliteOptions options;
  options.create_if_missing = create;
  auto physical = backend::storage::SqliteStorage::open(file, options);
  if (!physical) return sdk::error(physical.error());
  std::unique_ptr<LocalStore> store(new LocalStore());
  store->physical_ = std::move(*physical);
  store->barrier_ = std::make_unique<backend::barrier::Barrier>(
      *store->physical_, sdk::SystemClock::instance(), sdk::SystemRandom::instance(),
      backend::barrier::SealManager::barrier_options());
  store->seal_ = std::make_unique<backend::barrier::SealManager>(
      *store->barrier_, *store->physical_, sdk::SystemClock::instance(),
      sdk::SystemRandom::instance());
  return store;
}

LocalStore::~LocalStore() {
  if (seal_) seal_->seal();
}

std::optional<std::string> read_secret_line(const std::string& prompt) {
  const bool tty = isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt.c_str());
    std::fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::fprintf(stderr, "\n");
  }
  if (!got) return std::nullopt;
  return line;
}

sdk::Result<backend::barrier::SealStatus> LocalStore::unseal(
    const std::vector<std::string>& given) {
  auto status = seal_->status();
  if (!status) return status;
  if (!status->initialized) {
    return sdk::error(sdk::Code::kFailedPrecondition,
                      "the store is not initialized (run: leasefs operator init -storage FILE)");
  }
  for (const auto& key : given) {
    status = seal_->submit_key(key);
    if (!status || !status->sealed) return status;
  }
  if (!given.empty()) {
    return sdk::error(sdk::Code::kInvalidArgument,
                      std::to_string(status->progress) + " of " +
                          std::to_string(status->threshold) + " key shares given; need " +
                          std::to_string(status->threshold));
  }
  while (status->sealed) {
    auto line = read_secret_line("Unseal Key (will be hidden): ");
    if (!line) {
      return sdk::error(sdk::Code::kInvalidArgument,
                        "input ended after " + std::to_string(status->progress) + " of " +
                            std::to_string(status->threshold) + " key shares");
    }
    if (line->find_first_not_of(" \t\r") == std::string::npos) continue;
    status = seal_->submit_key(*line);
    sdk::wipe(line->data(), line->size());
    if (!status) return status;
  }
  return status;
}

}  // namespace leasefs::cli
