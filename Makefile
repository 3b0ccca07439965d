# consort — the two commands that matter:
#   make run    build and start the one-validator dev chain (consort start --dev)
#   make test   vet, unit + integration + CLI tests, and a short fuzz run
# Everything here needs only Go; tests start real CometBFT nodes on loopback.

GO        ?= go
BIN       := bin/consort
HOME_DIR  ?= $(HOME)/.consort
# A count, not a duration: Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when a duration runs out (golang/go#75804).
FUZZTIME  ?= 50000x

.PHONY: all build run test vet unit fuzz fuzz-long clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/consort

## run: start (creating if needed) the dev chain in $(HOME_DIR); Ctrl-C stops it
run: build
	$(BIN) start --dev --home $(HOME_DIR)

## test: what CI runs (.ci/run): vet, every package's tests, short fuzzing
test: vet vaultdev-test unit fuzz monitoring manifests

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 12m ./...

# Each fuzz target runs briefly on top of its committed corpus (app/testdata/fuzz).
fuzz:
	$(GO) test ./app -run '^$$' -fuzz '^FuzzDecodeTx$$' -fuzztime $(FUZZTIME)
	$(GO) test ./app -run '^$$' -fuzz '^FuzzCheckTx$$' -fuzztime $(FUZZTIME)
	$(GO) test ./app -run '^$$' -fuzz '^FuzzQuery$$' -fuzztime $(FUZZTIME)
	$(GO) test ./app -run '^$$' -fuzz '^FuzzDecodeTxMatchesOracle$$' -fuzztime $(FUZZTIME)

## fuzz-long: the same targets for longer (FUZZTIME=10m make fuzz-long; a duration
## can end in a spurious "context deadline exceeded" on Go 1.26, golang/go#75804:
## a real finding always writes a reproducer under app/testdata/fuzz)
fuzz-long: FUZZTIME = 2m
fuzz-long: fuzz

clean:
	rm -rf bin

## manifests: check the Dockerfile, .dockerignore, scripts/docker/compose.yml and
## scripts/k8s without a Docker engine or a cluster (tools/manifests, its own
## module). Installs docker-compose from Debian if it is missing (CI runs as root).
.PHONY: manifests
manifests:
	@command -v docker-compose >/dev/null 2>&1 || { \
		echo "docker-compose not found: installing the Debian package docker-compose"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	cd tools/manifests && $(GO) test -count=1 -timeout 10m ./...

## monitoring: check scripts/monitoring's alert rules and run their unit tests
## with promtool, installing it (Debian package prometheus) if it is missing
PROMTOOL ?= promtool
.PHONY: monitoring
monitoring:
	@command -v $(PROMTOOL) >/dev/null 2>&1 || { \
		echo "$(PROMTOOL) not found: installing the Debian package prometheus"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }
	$(PROMTOOL) check rules scripts/monitoring/alerts.yml
	$(PROMTOOL) test rules scripts/monitoring/alerts_test.yml

## vaultdev: the Vault development server for tests and local runs
## (tools/vaultdev, its own module: Vault's transit, KV v2 and AppRole engines)
.PHONY: vaultdev vaultdev-test
vaultdev:
	cd tools/vaultdev && $(GO) build -o ../../bin/vaultdev .

## vaultdev-test: vaultdev's tests and the test of scripts/vault/setup.sh,
## which needs curl and jq (installed from Debian if missing). make test runs
## it before unit, so that vaultdev's modules are downloaded and compiled
## before the packages whose tests start it (internal/vaulttest builds it).
vaultdev-test:
	@command -v curl >/dev/null 2>&1 && command -v jq >/dev/null 2>&1 || { \
		echo "curl or jq not found: installing the Debian packages curl and jq"; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl jq >/dev/null; }
	cd tools/vaultdev && $(GO) test -count=1 -timeout 10m ./...

## e2e: the fault-injection suite's long form on four real validators:
## random faults for E2E_DURATION (default 3m), then the crash-point run;
## exits non-zero on any violated invariant. E2E_SEED=N replays a run;
## E2E_ARTIFACTS=DIR is where a failed run writes its history file. The
## short form (each fault once, fixed seed) runs in `make unit`.
E2E_DURATION ?= 3m
E2E_TIMEOUT  ?= 60m
.PHONY: e2e
e2e:
	E2E_DURATION=$(E2E_DURATION) $(GO) test -count=1 -timeout $(E2E_TIMEOUT) -v -run '^(TestFaults|TestCrashPoints)$$' ./e2e/faults/

## bench: consort against stock CometBFT kvstore on this machine (scripts/bench.sh;
## BENCH_DURATION, BENCH_RUNS, ... as documented there). Not part of test.
.PHONY: bench
bench:
	scripts/bench.sh
