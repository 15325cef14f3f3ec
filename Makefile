# artifactfs — `make help` lists the targets.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
BIN := bin
# Debian packages the tests, the demo and the fuzzer need.
APT_PACKAGES := fuse3 e2fsprogs util-linux runc qemu-system-x86 busybox-static
# containerd v2.4.2 (daemon, ctr, runc shim) for the e2e tests and the demo,
# built from the Go module proxy once and kept here.
CONTAINERD_VERSION := v2.4.2
export ARTIFACTFS_CACHE ?= /var/cache/artifactfs-ci
CONTAINERD_BIN := $(ARTIFACTFS_CACHE)/bin
# make test-compat: the containerd releases it runs on (each built once into
# $(ARTIFACTFS_CACHE)/containerd/<version>/bin by scripts/containerd.sh;
# $(CONTAINERD_VERSION) is make deps's) and where it writes its table.
COMPAT_VERSIONS ?= v1.7.35 v2.0.14 v2.1.9 v2.2.10 v2.3.7 $(CONTAINERD_VERSION)
COMPAT_TABLE ?= .cache/compat-table.md
FUZZTIME ?= 60s
# Time the fuzzer may spend minimizing each new input (Go's default, 60s, left
# a 15 s run fuzzing for 3 s of it).
FUZZMINIMIZETIME ?= 2s
# make soak: create/delete cycles under faults with a new seed each run (SOAK_SEED
# replays one); make test's short soak replays a fixed plan of 20 cycles.
SOAK_CYCLES ?= 300
SOAK_TEST_SEED := 1795986071648697480
# As root (CI) every test must run: testcount fails on a skipped one.
NOSKIPS := $(if $(filter 0,$(shell id -u)),-no-skips)
# go test -json of both modules through testcount: output of failed and skipped
# tests, "N passed, N failed, N skipped" per package and in total.
GOTEST_COUNTED = set -o pipefail; ( $(GO) test -json -count=1 $(1) ./...; a=$$?; \
	cd artifactbind && $(GO) test -json -count=1 ./...; b=$$?; exit $$((a | b)) ) | $(GO) run ./internal/testcount $(NOSKIPS)

.DEFAULT_GOAL := build
.PHONY: help deps build test test-unit test-compat compat-daemons soak fuzz demo demo-k8s demo-mount bench vet clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install what builds and tests need, when it is missing (apt packages, Go modules)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "Go not found: install Go 1.26 in /usr/local/go" >&2; exit 1; }
	@$(GO) mod download
	@if [ ! -x $(CONTAINERD_BIN)/containerd ] || [ ! -x $(CONTAINERD_BIN)/ctr ] || [ ! -x $(CONTAINERD_BIN)/containerd-shim-runc-v2 ]; then \
		echo "building containerd $(CONTAINERD_VERSION) into $(CONTAINERD_BIN) (once; several minutes)"; \
		mkdir -p $(CONTAINERD_BIN) && GOBIN=$(CONTAINERD_BIN) $(GO) install \
			github.com/containerd/containerd/v2/cmd/containerd@$(CONTAINERD_VERSION) \
			github.com/containerd/containerd/v2/cmd/ctr@$(CONTAINERD_VERSION) \
			github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$(CONTAINERD_VERSION); \
	fi
	@./scripts/boot-kernel.sh # a Debian kernel the boot tests run under qemu (tests/urunc), once

build: ## build bin/artifactfs and bin/containerd-shim-artifactfs-v2
	$(GO) build -o $(BIN)/artifactfs ./cmd/artifactfs
	$(GO) build -o $(BIN)/containerd-shim-artifactfs-v2 ./cmd/containerd-shim-artifactfs-v2

vet: ## go vet and gofmt (the product, artifactbind and the bench module)
	$(GO) vet ./...
	cd artifactbind && $(GO) vet ./...
	cd bench && $(GO) vet ./...
	$(GO) vet -tags compat ./tests/compat
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed" >&2; exit 1; }

test-unit: ## every test that needs no root (as any user): go test -short; tests that need root skip, saying why
	$(GO) test -short -count=1 ./...
	cd artifactbind && $(GO) test -short -count=1 ./...

test: deps vet build ## every test (as root: FUSE, loop devices, a 20-cycle soak), counted: fails on a skip as root; plus a short fuzz run
	@export SOAK_CYCLES=20 SOAK_SEED=$(SOAK_TEST_SEED); $(call GOTEST_COUNTED,-race -timeout 30m)
	$(GO) test -run='^$$' -fuzz=FuzzImage -fuzztime=15s -fuzzminimizetime=$(FUZZMINIMIZETIME) ./blockreader

compat-daemons: ## build containerd and ctr of every COMPAT_VERSIONS release into the cache, once (about 4 minutes each cold)
	./scripts/containerd.sh $(filter-out $(CONTAINERD_VERSION),$(COMPAT_VERSIONS))

test-compat: deps compat-daemons ## the containerd compatibility suite on every COMPAT_VERSIONS release: a table case x version (pass/FAIL, time), also in COMPAT_TABLE
	@mkdir -p $(dir $(COMPAT_TABLE))
	@set -o pipefail; ARTIFACTFS_COMPAT_VERSIONS="$(COMPAT_VERSIONS)" ARTIFACTFS_COMPAT_TABLE=$(abspath $(COMPAT_TABLE)) \
		$(GO) test -json -count=1 -timeout 60m -tags compat ./tests/compat | $(GO) run ./internal/testcount $(NOSKIPS); \
		rc=$$?; cat $(COMPAT_TABLE) 2>/dev/null; exit $$rc

soak: deps ## chaos soak: SOAK_CYCLES (300) create/delete cycles with shim kills, containerd restarts and downtime, ENOSPC, reboots; gc must leave nothing (SOAK_SEED=n replays)
	set -o pipefail; SOAK_CYCLES=$(SOAK_CYCLES) $(GO) test -count=1 -timeout 120m -v -run '^TestSoak$$' ./tests/soak | grep -vE '^ {8}(time=|\{)' # all but containerd's log

fuzz: deps ## fuzz blockreader for FUZZTIME (default 60s); crashers land in blockreader/testdata/fuzz
	$(GO) test -run='^$$' -fuzz=FuzzImage -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) ./blockreader

demo: deps build ## the whole flow: containerd, the artifactfs shim, a unikernel container, its per-container path, cleanup
	$(GO) run ./demo $(BIN)

demo-k8s: deps build ## Kubernetes' path: containerd with CRI, a pod's unikernel container getting its artifacts through the artifactfs handler, then the pod's cleanup
	$(GO) run ./demo/k8s $(BIN)

demo-mount: deps build ## the core alone: a sample ext4 image mounted, listed and read with artifactfs, unmounted
	./scripts/demo.sh $(BIN)/artifactfs

bench: deps ## benchmarks (root): time to artifacts, read throughput, memory, scale, consumer view, pod, density -> bench/results.md, bench/results.png (RUNS=5, ONLY=section,...)
	@command -v fuse2fs >/dev/null && command -v e2cp >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse2fs e2tools >/dev/null; }
	cd bench && $(GO) run ./cmd/bench -runs $(or $(RUNS),5) $(if $(ONLY),-only $(ONLY)) -out .

clean: ## remove built binaries
	rm -rf $(BIN)
