# latticepush — see README.md. `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
NATS_VERSION ?= v2.15.2
CACHE        ?= $(HOME)/.cache/latticepush
NATS_SERVER  := $(CACHE)/nats-server-$(NATS_VERSION)/nats-server
# Releases the upgrade tests and `lab up --nats-version` move between (internal/natsbin.Upgrades).
NATS_UPGRADES ?= v2.14.10 v2.15.3
NATS_UPGRADE_SERVERS := $(foreach v,$(NATS_UPGRADES),$(CACHE)/nats-server-$(v)/nats-server)
BIN          := bin/latticepush
GOTEST_FLAGS ?=
FUZZTIME     ?= 5m
FUZZJOBS     ?= 1
FUZZFLAGS    ?=

export LATTICEPUSH_NATS_SERVER := $(NATS_SERVER)
export LATTICEPUSH_SYSTEMD_BASE := $(CACHE)/systemd-base-bookworm
$(foreach v,$(NATS_UPGRADES),$(eval export LATTICEPUSH_NATS_SERVER_$(subst .,_,$(subst v,V,$(v))) := $(CACHE)/nats-server-$(v)/nats-server))

.PHONY: help build deps prereqs nats-server systemd-base test unit demo bench reliability fuzz vet fmt-check tidy-check clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/latticepush
	go build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/latticepush

prereqs: ## install Debian packages the lab and tests need (idempotent)
	./internal/tools/install-prereqs.sh

nats-server: $(NATS_SERVER) $(NATS_UPGRADE_SERVERS) ## build the pinned nats-server releases into the cache (once each)

$(CACHE)/nats-server-%/nats-server:
	mkdir -p $(dir $@)
	GOBIN=$(abspath $(dir $@)) go install github.com/nats-io/nats-server/v2@$*

systemd-base: prereqs ## build the Debian tree the lab's systemd hosts boot into the cache (once)
	./internal/tools/systemd-base.sh $(CACHE)

deps: prereqs nats-server systemd-base ## everything tests and the demo need

vet: ## go vet + gofmt check
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

fmt-check: build ## gofmt and `latticepush fmt -check` on the examples
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(BIN) fmt --check examples/*/inventory.hcl examples/fleet examples/fleet/sites

test: deps vet fmt-check ## install what is needed, then run every test (lab included; needs root)
	go test -count=1 -timeout 75m $(GOTEST_FLAGS) ./...
	go test -race -count=1 ./plan/ ./rollout/ ./wasmcloud/

unit: ## fast tests only (no lab, no root)
	go test -short -count=1 ./...

demo: deps build ## bring up the lab, plan, apply, verify, tear down (KEEP=1 keeps it; hosts run systemd, DEMO_INIT=runit: runit)
	./internal/tools/demo.sh

bench: deps build ## benchmarks against a 50-host lab and Ansible; writes BENCHMARKS.md
	WITH_ANSIBLE=1 ./internal/tools/install-prereqs.sh
	go test -run '^$$' -bench . -benchtime 1x -timeout 100m ./internal/bench/ | tee bench.out

reliability: deps build ## the reliability suite at full counts (tens of minutes; make test runs a subset); output in reliability.out
	LATTICEPUSH_RELIABILITY=full go test -count=1 -v -timeout 150m -run 'TestReliability' ./internal/e2e/ 2>&1 | tee reliability.out

fuzz: ## run every fuzz target for FUZZTIME each (FUZZJOBS at once, FUZZFLAGS to go test); a summary line per target
	FUZZTIME=$(FUZZTIME) FUZZJOBS=$(FUZZJOBS) FUZZFLAGS="$(FUZZFLAGS)" ./internal/tools/fuzz.sh

tidy-check: ## go.mod and go.sum are tidy
	go mod tidy && git diff --exit-code go.mod go.sum

clean:
	rm -rf bin bench.out reliability.out fuzz.out
