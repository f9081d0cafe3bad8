// What every fuzz target expects of a refusal: the input's fault (invalid_argument), said
// in a message, never an internal error or an empty one.
#pragma once

#include "backend/sdk/status.h"
#include "tests/fuzz/fuzz_target.h"

inline void check_refusal(const leasefs::backend::sdk::Status& status) {
  FUZZ_CHECK(status.code() == leasefs::backend::sdk::Code::kInvalidArgument);
  FUZZ_CHECK(!status.message().empty());
}
