# ranpipe - the two commands that set everything up on a fresh Debian machine:
#
#   make demo    install dependencies, build, run ranpipe on examples/docs/ -> out/
#                (MODEL=path/to/model.gguf for a real model; otherwise the tiny
#                random-weight fixture model, whose text is noise)
#   make check   install dependencies, build, run the whole test suite
#                (dev build, then ASan+UBSan, then ThreadSanitizer on the
#                threaded parts, then a 60-second run of every fuzz target)
#
# Other targets: build, deps, llama, llama-tools, bench, bench-ingest, bench-ipc, bench-dedup,
# bench-metrics, bench-monitor, bench-quality, bench-embed, bench-llm, format, clean.
# Variables: PRESET (dev), JOBS (nproc), MODEL, RANPIPE_CUDA=1 (llama.cpp with CUDA).

PRESET ?= dev
JOBS   ?= $(shell nproc)
BUILD  := build/$(PRESET)
MODEL  ?=
OUT    ?= out
# With RANPIPE_CUDA=1, llama.cpp is built with GGML_CUDA=ON (needs nvcc) and used.
CMAKE_FLAGS := $(if $(filter 1,$(RANPIPE_CUDA)),-DRANPIPE_LLAMA_CUDA=ON,-DRANPIPE_LLAMA_CUDA=OFF)

.PHONY: all deps llama llama-tools build demo check check-dev check-asan check-tsan check-fuzz bench bench-ingest \
        bench-ipc bench-dedup bench-metrics bench-monitor bench-llm bench-quality bench-embed format clean

all: build

deps:
	scripts/install-deps.sh
	scripts/build-llama.sh libs >/dev/null

llama: deps

llama-tools: deps
	scripts/build-llama.sh tools >/dev/null

build: deps
	cmake --preset $(PRESET) $(CMAKE_FLAGS) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)

demo: build
	@if [ -n "$(MODEL)" ]; then \
	  echo "ranpipe: running on examples/docs/ with $(MODEL)"; \
	  $(BUILD)/bin/ranpipe run examples/docs/ -o $(OUT) --model "$(MODEL)"; \
	else \
	  echo "ranpipe: no MODEL given; using the tiny fixture model (random weights: its text is noise)."; \
	  echo "ranpipe: for real pairs: make demo MODEL=~/models/Qwen3-1.7B-Q4_K_M.gguf"; \
	  $(BUILD)/bin/ranpipe run examples/docs/ -o $(OUT) --model $(BUILD)/models/tiny-qwen3-f16.gguf; \
	fi
	@echo "ranpipe: see $(OUT)/report.html (the run at a glance), $(OUT)/dataset.jsonl, $(OUT)/rejects.jsonl and $(OUT)/chunks.jsonl"

check: check-dev check-asan check-tsan check-fuzz

check-dev: llama-tools
	$(MAKE) --no-print-directory build PRESET=dev
	ctest --preset dev -j $(JOBS)

check-asan: llama-tools
	$(MAKE) --no-print-directory build PRESET=asan-ubsan
	ctest --preset asan-ubsan -j $(JOBS)

check-tsan: llama-tools
	$(MAKE) --no-print-directory build PRESET=tsan
	ctest --preset tsan -j $(JOBS)

check-fuzz: deps
	$(MAKE) --no-print-directory build PRESET=fuzz
	ctest --preset fuzz -j $(JOBS)

bench-ingest: deps
	$(MAKE) --no-print-directory build PRESET=release
	bench/bench_ingest.sh build/release

bench-ipc: deps
	$(MAKE) --no-print-directory build PRESET=release
	build/release/bin/ranpipe-bench-ipc build/release/bin/ranpipe

bench-monitor: deps
	$(MAKE) --no-print-directory build PRESET=release
	bench/bench_monitor.sh build/release

bench-quality: deps
	$(MAKE) --no-print-directory build PRESET=release
	build/release/bin/ranpipe-bench-quality tests/data/quality/labeled.jsonl
	bench/bench_assess.sh build/release

bench-dedup: deps
	$(MAKE) --no-print-directory build PRESET=release
	build/release/bin/ranpipe-bench-dedup 1000000

bench-metrics: deps
	$(MAKE) --no-print-directory build PRESET=release
	build/release/bin/ranpipe-bench-metrics

# Embedding throughput on the tiny embedding fixture and the 0.6B-shaped model.
bench-embed: deps
	$(MAKE) --no-print-directory build PRESET=release
	cmake --build --preset release --target bench-models -j $(JOBS)
	build/release/bin/ranpipe-bench-embed build/release/models/tiny-embed.gguf
	build/release/bin/ranpipe-bench-embed -n 32 -r 1 build/release/models/qwen3-0.6b-shape-q8_0.gguf

bench-llm: llama-tools
	$(MAKE) --no-print-directory build PRESET=release
	cmake --build --preset release --target bench-models -j $(JOBS)
	bench/bench_llm.sh build/release

bench: llama-tools
	$(MAKE) --no-print-directory build PRESET=release
	cmake --build --preset release --target bench-models -j $(JOBS)
	bench/bench_slice.sh build/release

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
