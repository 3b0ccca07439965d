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
test: vet unit fuzz

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
