// StorageView: a Storage that sees only the keys under a fixed prefix of another one.
// Engines get a view prefixed by their mount's UUID, already behind the barrier, so
// they can neither see nor touch anything else.
#pragma once

#include <string>

#include "backend/sdk/storage.h"

namespace leasefs::backend::sdk {

class StorageView final : public Storage {
 public:
  // `prefix` must be "" or end in '/'. `inner` must outlive the view.
  StorageView(Storage& inner, std::string prefix);

  const std::string& prefix() const { return prefix_; }
  // A view of a sub-folder of this view.
  StorageView sub_view(std::string_view folder) const;

  Result<std::optional<std::string>> get(std::string_view key) override;
  Result<void> put(std::string_view key, std::string_view value) override;
  Result<void> remove(std::string_view key) override;
  Result<std::vector<std::string>> list(std::string_view prefix) override;
  Result<std::vector<std::string>> list_page(std::string_view prefix, std::string_view after,
                                             std::size_t limit) override;
  Result<void> apply(std::span<const StorageOp> ops) override;

 private:
  std::string full(std::string_view key) const;

  Storage* inner_;
  std::string prefix_;
};

}  // namespace leasefs::backend::sdk
