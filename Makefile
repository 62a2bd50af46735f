# Thin wrapper around CMake. The two commands a newcomer needs:
#   make run    install missing Debian packages, build, run the flagship simulation
#   make test   install, build, run every test (SAN=1: under ASan + UBSan)
# Others: make build, make bench, make fuzz, make docs-check, make install
# PREFIX=/usr/local, make clean.
# Developers and CI add WERROR=1 (warnings are errors); CC=clang builds with clang
# in its own folder (build-clang).

SAN    ?= 0
WERROR ?= 0
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SAN),1)
BUILD_DIR ?= build-san
CMAKE_FLAGS += -DUSIM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else ifeq ($(origin CC),command line)
BUILD_DIR ?= build-$(notdir $(CC))
else
BUILD_DIR ?= build
endif
ifeq ($(origin CC),command line)
CMAKE_FLAGS += -DCMAKE_C_COMPILER=$(CC)
endif
CMAKE_FLAGS += -DUSIM_WERROR=$(if $(filter 1,$(WERROR)),ON,OFF)

.PHONY: all deps configure build run test docs-check bench fuzz install clean

all: build

deps:
	@sh scripts/install-deps.sh

# Configured on every build (about a second) so that WERROR, CC and PREFIX
# given on the command line always take effect.
configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The flagship simulation: one training step of Llama 3.1 405B on 32 Trn2
# UltraServers (2,048 chips) with a plan 'ultrasim plan' ranks among its best,
# and the time, energy and cost of its 15.6T-token run.
FLAGSHIP = train --model llama3.1-405b --hw trn2u.48xlarge --chips 2048 --tp 8 --pp 1 \
           --zero 3 --gbs 1024 --seq 8192 --tokens 15.6e12

run: build
	./$(BUILD_DIR)/ultrasim $(FLAGSHIP)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Every command the docs show is run and its printed figures compared.
docs-check: build
	python3 scripts/check-docs.py $(BUILD_DIR)/ultrasim README.md docs/*.md docs/studies/*.md

bench: build
	cmake --build $(BUILD_DIR) --target benchmarks -j $(JOBS)
	sh bench/run.sh $(BUILD_DIR)

fuzz: deps
	sh fuzz/run.sh $(or $(SECONDS),60)

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf build build-san build-fuzz build-clang
