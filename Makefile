# The two entry points README.md documents. Both install what they need first.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: run test build setup clean bench image

run: ## install, build, and build examples/hello with kiln
	scripts/setup.sh --test
	cmake -S . -B $(BUILD) -DKILN_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	scripts/run-example.sh $(BUILD)/kiln examples/hello

test: ## install, build with sanitizers, run every test
	scripts/setup.sh --test
	cmake -S . -B build-test -DKILN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" >/dev/null
	cmake --build build-test -j $(JOBS)
	cd build-test && ctest --output-on-failure -j $(JOBS) --timeout 900

build:
	scripts/setup.sh
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

image: build ## the kiln image, built by kiln: an OCI layout in $(BUILD)/kiln-image (needs root once, for debootstrap)
	scripts/build-kiln-image.sh $(BUILD)/kiln $(BUILD)/kiln-image kiln:latest

bench:
	bench/run

clean:
	rm -rf $(BUILD) build-test
