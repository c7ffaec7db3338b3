#!/usr/bin/env bash
# Build llama.cpp (tag v0.4.0, from the source bundle shipped inside the npm package
# node-llama-cpp@3.21.1) into a versioned cache directory outside the work tree.
#
# usage: scripts/build-llama.sh [source|libs|tools|all]      (default: libs)
#
#   source the llama.cpp source tree only (prints its path); it holds
#          models/ggml-vocab-qwen2.gguf, the tokenizer the fixture models copy.
#   libs   shared libraries (libllama, libggml*) + headers + CMake package, installed
#          into $RANPIPE_LLAMA_PREFIX (default: $cache/llama.cpp-v0.4.0-<variant>).
#   tools  llama-server and llama-batched-bench from the same source, into $prefix/bin.
#
# Environment:
#   RANPIPE_CACHE       cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/ranpipe)
#   RANPIPE_CUDA=1      build ggml with CUDA (GGML_CUDA=ON); the variant becomes "cuda"
#   RANPIPE_JOBS        parallel build jobs (default: nproc)
#
# Each step is skipped when its stamp file exists, so a second call costs nothing.
# The script prints the install prefix on its last line of stdout.
set -euo pipefail

what=${1:-libs}
case $what in source|libs|tools|all) ;; *) echo "build-llama.sh: unknown target '$what' (source, libs, tools, all)" >&2; exit 2;; esac

NLC_VERSION=3.21.1
LLAMA_TAG=v0.4.0
cache=${RANPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ranpipe}
variant=cpu
cuda_flags=()
if [ "${RANPIPE_CUDA:-0}" = 1 ]; then
  variant=cuda
  cuda_flags=(-DGGML_CUDA=ON)
fi
prefix=${RANPIPE_LLAMA_PREFIX:-$cache/llama.cpp-$LLAMA_TAG-$variant}
src=$cache/src/llama.cpp-$LLAMA_TAG
jobs=${RANPIPE_JOBS:-$(nproc)}
log() { echo "build-llama: $*" >&2; }

mkdir -p "$cache/src" "$cache/build"

# 1. Source: npm pack the package, clone the bundle it carries, check out the tag.
if [ ! -f "$src/.ranpipe-src-ok" ]; then
  command -v npm >/dev/null || { log "npm is required (apt-get install npm)"; exit 1; }
  command -v git >/dev/null || { log "git is required (apt-get install git)"; exit 1; }
  tmp=$(mktemp -d "$cache/src/.tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  log "fetching node-llama-cpp@$NLC_VERSION from the npm registry"
  (cd "$tmp" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null)
  tar -xzf "$tmp/node-llama-cpp-$NLC_VERSION.tgz" -C "$tmp" package/llama/gitRelease.bundle
  rm -rf "$src"
  # The bundle holds one squashed commit of llama.cpp at $LLAMA_TAG (no tag object);
  # check the tag out when a future bundle carries it, otherwise its HEAD is that tag.
  git -c advice.detachedHead=false clone --quiet "$tmp/package/llama/gitRelease.bundle" "$src"
  if git -C "$src" rev-parse -q --verify "refs/tags/$LLAMA_TAG" >/dev/null; then
    git -C "$src" -c advice.detachedHead=false checkout --quiet "$LLAMA_TAG"
  fi
  touch "$src/.ranpipe-src-ok"
  rm -rf "$tmp"; trap - EXIT
fi

if [ "$what" = source ]; then
  echo "$src"
  exit 0
fi

common=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF
        -DCMAKE_INSTALL_RPATH='$ORIGIN' -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON "${cuda_flags[@]}")

# 2. Libraries.
if [ "$what" != tools ] && [ ! -f "$prefix/.ranpipe-libs-ok" ]; then
  log "building llama.cpp $LLAMA_TAG libraries ($variant) into $prefix"
  b=$cache/build/llama-libs-$LLAMA_TAG-$variant
  cmake -S "$src" -B "$b" "${common[@]}" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_COMMON=OFF >"$b.configure.log" 2>&1 || { cat "$b.configure.log" >&2; exit 1; }
  cmake --build "$b" -j "$jobs" >"$b.build.log" 2>&1 || { tail -50 "$b.build.log" >&2; exit 1; }
  cmake --install "$b" >/dev/null
  # The Qwen2 tokenizer vocabulary the fixture models copy from.
  mkdir -p "$prefix/share/ranpipe"
  cp "$src/models/ggml-vocab-qwen2.gguf" "$prefix/share/ranpipe/"
  touch "$prefix/.ranpipe-libs-ok"
fi

# 3. Tools: llama-server and llama-batched-bench.
if [ "$what" != libs ] && [ ! -f "$prefix/.ranpipe-tools-ok" ]; then
  log "building llama-server and llama-batched-bench ($variant)"
  b=$cache/build/llama-tools-$LLAMA_TAG-$variant
  cmake -S "$src" -B "$b" "${common[@]}" -DCMAKE_INSTALL_PREFIX="$prefix/tools" \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_USE_PREBUILT_UI=OFF >"$b.configure.log" 2>&1 || { cat "$b.configure.log" >&2; exit 1; }
  cmake --build "$b" -j "$jobs" --target llama-server llama-batched-bench >"$b.build.log" 2>&1 ||
    { tail -50 "$b.build.log" >&2; exit 1; }
  # The tools find their shared libraries next to them ($ORIGIN rpath).
  mkdir -p "$prefix/tools/bin"
  cp "$b"/bin/llama-server "$b"/bin/llama-batched-bench "$prefix/tools/bin/"
  find "$b" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$prefix/tools/bin/" \;
  touch "$prefix/.ranpipe-tools-ok"
fi

echo "$prefix"
