// The libFuzzer entry points. Every fuzz target includes this and defines
// LLVMFuzzerTestOneInput (LLVMFuzzerInitialize only if it needs setup); driver.cc, or
// libFuzzer under Clang, calls them. See tests/fuzz/CMakeLists.txt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

// Checks an invariant of the code under test; a broken one names the target's file and
// line and aborts, which the driver (or libFuzzer) reports with the input.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

// Runs the code under test on one input. Must return 0 and must not crash, leak or
// hang for any bytes; called many times in one process.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

// Optional one-time setup, before any input; may consume its own arguments.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
