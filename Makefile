# consort — the two commands that matter:
#   make run    build and start the one-validator dev chain (consort start --dev)
#   make test   vet, unit + integration + CLI tests, and a short fuzz run
# Everything here needs only Go; tests start real CometBFT nodes on loopback.

GO        ?= go
BIN       := bin/consort
HOME_DIR  ?= $(HOME)/.consort
FUZZTIME  ?= 5s

.PHONY: all build run test vet unit fuzz fuzz-long clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/consort

## run: start (creating if needed) the dev chain in $(HOME_DIR); Ctrl-C stops it
run: build
	$(BIN) start --dev --home $(HOME_DIR)

## test: what CI runs (.ci/run): vet, every package's tests, short fuzzing
test: vet unit fuzz monitoring manifests

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 12m ./...

# Each fuzz target runs briefly on top of its committed corpus (app/testdata/fuzz).
fuzz:
	$(GO) test ./app -run '^$$' -fuzz '^FuzzDecodeTx$$' -fuzztime $(FUZZTIME)
	$(GO) test ./app -run '^$$' -fuzz '^FuzzCheckTx$$' -fuzztime $(FUZZTIME)
	$(GO) test ./app -run '^$$' -fuzz '^FuzzQuery$$' -fuzztime $(FUZZTIME)

## fuzz-long: the same targets for longer (FUZZTIME=10m make fuzz-long)
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

## bench: consort against stock CometBFT kvstore on this machine (scripts/bench.sh;
## BENCH_DURATION, BENCH_RUNS, ... as documented there). Not part of test.
.PHONY: bench
bench:
	scripts/bench.sh
