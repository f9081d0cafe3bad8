# Shared compile settings for every leasefs target: warnings as errors, hardening,
# and the optional sanitizer build. Targets call leasefs_library() or
# leasefs_executable() instead of the raw add_* commands so nothing escapes them.

set(LEASEFS_WARNINGS
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual -Wcast-align
  -Wmissing-declarations -Wimplicit-fallthrough -Wformat=2)

set(LEASEFS_HARDENING -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fno-omit-frame-pointer)

if(LEASEFS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(_leasefs_common target)
  target_compile_options(${target} PRIVATE ${LEASEFS_WARNINGS})
  if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT LEASEFS_SANITIZE)
    target_compile_options(${target} PRIVATE ${LEASEFS_HARDENING})
  endif()
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# leasefs_library(NAME SOURCES ... DEPS ...): a static library named leasefs_NAME with
# the alias leasefs::NAME. Headers are included as "backend/sdk/status.h".
function(leasefs_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(leasefs_${name} STATIC ${ARG_SOURCES})
  add_library(leasefs::${name} ALIAS leasefs_${name})
  _leasefs_common(leasefs_${name})
  target_link_libraries(leasefs_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(leasefs_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  _leasefs_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# leasefs_test(NAME SOURCES ... DEPS ... LABELS ...): one GoogleTest binary; every test
# in it is registered with ctest under the given labels.
function(leasefs_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  _leasefs_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  # Where tests find committed fixtures and built binaries; the environment variables
  # of the same names override these.
  target_compile_definitions(${name} PRIVATE
    LEASEFS_SOURCE_DIR_DEFAULT="${PROJECT_SOURCE_DIR}"
    LEASEFS_BINARY_DIR_DEFAULT="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
  # The sanitizer pass of the test command builds and runs only the unit tests (and
  # fuzz targets): target `sanitizer_tests` (top-level CMakeLists.txt).
  if("unit" IN_LIST ARG_LABELS)
    set_property(GLOBAL APPEND PROPERTY LEASEFS_SANITIZER_TESTS ${name})
  endif()
endfunction()
