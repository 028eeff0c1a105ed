# framewire: the two commands a new user needs are `make demo` and `make test`.
BUILD_DIR ?= build
PYTHON    := /usr/bin/python3
JOBS      ?= $(shell nproc)

.PHONY: all deps build test test-cpp test-python demo bench bench-quick proto-python clean

all: build

deps:
	scripts/install-deps

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j$(JOBS)

# Every test: GoogleTest under ctest, then pytest against the same binaries.
test: build
	$(MAKE) --no-print-directory test-cpp test-python

test-cpp:
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2

test-python:
	FRAMEWIRE_BUILD_DIR=$(abspath $(BUILD_DIR)) PYTHONPATH=$(abspath client/python) \
	  $(PYTHON) -m pytest tests/python -q

demo: build
	scripts/demo

bench: build
	$(PYTHON) bench/run

bench-quick: build
	$(PYTHON) bench/run --quick

# Regenerates the committed Python FlatBuffers code after a schema change.
proto-python:
	client/python/regenerate-proto.sh

clean:
	rm -rf $(BUILD_DIR) demo-output
