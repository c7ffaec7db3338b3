# Finds ranpipe's dependencies and defines:
#   ranpipe::llama        libllama + ggml (system, or built into the cache)
#   RANPIPE_QWEN_VOCAB    path to llama.cpp's models/ggml-vocab-qwen2.gguf
#   RANPIPE_LLAMA_PREFIX  install prefix of the llama.cpp in use (may be empty)
#   RANPIPE_LLAMA_TOOLS   directory with llama-server / llama-batched-bench (may be empty)
#   PkgConfig::<X>        for the Debian libraries
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# cmark-gfm ships no .pc file in Debian; find it by hand.
find_path(CMARK_INCLUDE_DIR cmark-gfm.h REQUIRED)
find_library(CMARK_LIB cmark-gfm REQUIRED)
find_library(CMARK_EXT_LIB cmark-gfm-extensions REQUIRED)
add_library(PkgConfig::CMARK INTERFACE IMPORTED)
target_include_directories(PkgConfig::CMARK INTERFACE ${CMARK_INCLUDE_DIR})
target_link_libraries(PkgConfig::CMARK INTERFACE ${CMARK_EXT_LIB} ${CMARK_LIB})

# ---- llama.cpp ----
set(_rp_cache "$ENV{RANPIPE_CACHE}")
if(NOT _rp_cache)
  if(DEFINED ENV{XDG_CACHE_HOME})
    set(_rp_cache "$ENV{XDG_CACHE_HOME}/ranpipe")
  else()
    set(_rp_cache "$ENV{HOME}/.cache/ranpipe")
  endif()
endif()
set(_llama_variant cpu)
if(RANPIPE_LLAMA_CUDA)
  set(_llama_variant cuda)
endif()
set(_cache_prefix "${_rp_cache}/llama.cpp-v0.4.0-${_llama_variant}")
# Switching between the CPU and CUDA builds of the cache: forget the other one.
if(llama_DIR MATCHES "/llama.cpp-v0.4.0-" AND NOT llama_DIR MATCHES "/llama.cpp-v0.4.0-${_llama_variant}/")
  unset(llama_DIR CACHE)
  unset(ggml_DIR CACHE)
endif()
if(EXISTS "${_cache_prefix}/.ranpipe-libs-ok")
  list(PREPEND CMAKE_PREFIX_PATH "${_cache_prefix}")
endif()

set(RANPIPE_LLAMA_PREFIX "")
find_package(llama CONFIG QUIET)
if(NOT llama_FOUND)
  pkg_check_modules(LLAMA_PC QUIET IMPORTED_TARGET llama)
endif()
if(NOT llama_FOUND AND NOT LLAMA_PC_FOUND)
  if(NOT RANPIPE_BUILD_LLAMA)
    message(FATAL_ERROR "llama.cpp not found (find_package(llama) and pkg-config llama both failed) "
      "and RANPIPE_BUILD_LLAMA is OFF; install llama.cpp or run scripts/build-llama.sh")
  endif()
  message(STATUS "llama.cpp not found; building it into ${_cache_prefix} (a few minutes, once)")
  set(_env)
  if(RANPIPE_LLAMA_CUDA)
    set(_env ${CMAKE_COMMAND} -E env RANPIPE_CUDA=1)
  endif()
  execute_process(COMMAND ${_env} ${CMAKE_CURRENT_SOURCE_DIR}/scripts/build-llama.sh libs
    OUTPUT_VARIABLE _prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "building llama.cpp failed (scripts/build-llama.sh libs)")
  endif()
  list(PREPEND CMAKE_PREFIX_PATH "${_prefix}")
  find_package(llama CONFIG REQUIRED)
endif()

add_library(ranpipe::llama INTERFACE IMPORTED)
if(llama_FOUND)
  target_link_libraries(ranpipe::llama INTERFACE llama ggml::ggml ggml::ggml-base)
  get_filename_component(RANPIPE_LLAMA_PREFIX "${llama_DIR}/../../.." ABSOLUTE)
  set(RANPIPE_LLAMA_DESC "llama.cpp ${llama_VERSION} (${RANPIPE_LLAMA_PREFIX})")
else()
  target_link_libraries(ranpipe::llama INTERFACE PkgConfig::LLAMA_PC)
  set(RANPIPE_LLAMA_PREFIX "${LLAMA_PC_PREFIX}")
  set(RANPIPE_LLAMA_DESC "llama.cpp ${LLAMA_PC_VERSION} (pkg-config)")
endif()
message(STATUS "Using ${RANPIPE_LLAMA_DESC}")

set(RANPIPE_LLAMA_TOOLS "")
if(EXISTS "${RANPIPE_LLAMA_PREFIX}/tools/bin/llama-server")
  set(RANPIPE_LLAMA_TOOLS "${RANPIPE_LLAMA_PREFIX}/tools/bin")
endif()

# The Qwen tokenizer the fixture models copy: next to our cache build, or in
# the llama.cpp source tree the script fetches (also for a system llama.cpp).
find_file(RANPIPE_QWEN_VOCAB ggml-vocab-qwen2.gguf
  PATHS "${RANPIPE_LLAMA_PREFIX}/share/ranpipe" "${_rp_cache}/src/llama.cpp-v0.4.0/models"
  NO_DEFAULT_PATH)
if(NOT RANPIPE_QWEN_VOCAB)
  execute_process(COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/build-llama.sh source
    OUTPUT_VARIABLE _src OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0 OR NOT EXISTS "${_src}/models/ggml-vocab-qwen2.gguf")
    message(FATAL_ERROR "cannot find llama.cpp's models/ggml-vocab-qwen2.gguf (scripts/build-llama.sh source)")
  endif()
  set(RANPIPE_QWEN_VOCAB "${_src}/models/ggml-vocab-qwen2.gguf" CACHE FILEPATH "" FORCE)
endif()
