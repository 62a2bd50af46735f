# Thin wrapper around CMake. The two commands a newcomer needs:
#   make run    install missing Debian packages, build, run the flagship simulation
#   make test   install, build, run every test (SAN=1: under ASan + UBSan)
# Others: make build, make bench, make fuzz, make install PREFIX=/usr/local, make clean

SAN    ?= 0
PREFIX ?= /usr/local
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SAN),1)
BUILD_DIR ?= build-san
CMAKE_FLAGS += -DUSIM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else
BUILD_DIR ?= build
endif

.PHONY: all deps build run test bench fuzz install clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The flagship simulation; until training exists, the Trn2 UltraServer itself.
FLAGSHIP = hw show trn2u.48xlarge

run: build
	./$(BUILD_DIR)/ultrasim $(FLAGSHIP)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	cmake --build $(BUILD_DIR) --target benchmarks -j $(JOBS)
	sh bench/run.sh $(BUILD_DIR)

fuzz: deps
	sh fuzz/run.sh $(or $(SECONDS),60)

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf build build-san build-fuzz
