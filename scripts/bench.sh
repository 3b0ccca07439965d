#!/usr/bin/env bash
# bench.sh: consort against stock CometBFT's kvstore, on this machine, in one command.
#
#   scripts/bench.sh            (or: make bench)
#
# Builds bin/consort and bin/cometbft (github.com/cometbft/cometbft/cmd/cometbft at the
# version go.mod pins, v0.40.0), then for each validator count (1, then 4 on loopback) and
# each run: starts a fresh kvstore network (cometbft start --proxy_app=kvstore), loads it
# with `consort bench --app kvstore`, stops it; starts a fresh consort network of the same
# size, loads it with `consort bench` (transfers), stops it. kvstore and consort run back
# to back so that both see the same machine. Then, on one validator, each app is loaded at
# half of its median saturation rate to measure latency there.
#
# Both networks use CometBFT's default config and consensus params, unchanged:
# timeout_commit 1s, mempool size 5000 txs (cache 10000, recheck on), block max_bytes
# 4 MiB, flood mempool, kv tx indexer. Defaults because that is what the reference figures
# of the issue were measured with and what a user gets; at these rates a block holds at
# most a few thousand ~215-byte transactions, far below max_bytes, so the mempool size and
# the 1 s commit pause are what bound both apps alike. consort's testnet has a governance
# threshold of 1 (bench registers its accounts with one admin) and the node's default
# per-account mempool rate limit (100 tx/s): bench spreads its load over 128 accounts.
#
# It prints a markdown table (each run, then medians and the consort/kvstore ratio) to
# standard output; node logs and every run's JSON report stay in $BENCH_DIR.
#
# Environment:
#   BENCH_DURATION    load duration of each run (default 30s)
#   BENCH_RUNS        runs per app and validator count; medians over them (default 1)
#   BENCH_VALIDATORS  validator counts to run (default "1 4")
#   BENCH_LATENCY     1 to also measure latency at 50% of saturation (default 1)
#   BENCH_FLAGS       flags for every `consort bench` (default: --transport ws --connections 4:
#                     pipelined websockets saturate the node; HTTP sync requests wait for each
#                     answer and leave a node idle between them)
#   BENCH_DIR         work folder, emptied first (default ./benchnet in the repository)
#   BENCH_BASE_PORT   P2P port of node0; RPC is +1, node i adds 100*i (default 46656)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${BENCH_DURATION:-30s}"
RUNS="${BENCH_RUNS:-1}"
VALIDATORS="${BENCH_VALIDATORS:-1 4}"
LATENCY="${BENCH_LATENCY:-1}"
FLAGS="${BENCH_FLAGS:---transport ws --connections 4}"
DIR="${BENCH_DIR:-$ROOT/benchnet}"
BASE_PORT="${BENCH_BASE_PORT:-46656}"
CONSORT="$ROOT/bin/consort"
COMETBFT="$ROOT/bin/cometbft"
PIDS=()

die() {
	echo "bench: $*" >&2
	exit 1
}
log() { echo "bench: $*" >&2; }

stop_nodes() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	PIDS=()
}
trap stop_nodes EXIT
trap 'echo "bench: command failed at line $LINENO" >&2' ERR

rpc_port() { echo $((BASE_PORT + 1 + 100 * $1)); }
p2p_port() { echo $((BASE_PORT + 100 * $1)); }

# wait_height URL H waits until the node at URL has committed height H.
wait_height() {
	local url=$1 want=$2 h
	for _ in $(seq 600); do
		h="$(curl -fsS "$url/status" 2>/dev/null | sed -n 's/.*"latest_block_height": *"\([0-9]*\)".*/\1/p')" || true
		if [[ -n "$h" && "$h" -ge "$want" ]]; then
			return 0
		fi
		sleep 0.1
	done
	die "$url did not reach height $want in 60s"
}

# start_kvstore N: a fresh N-validator kvstore network in $DIR/kv$N.
start_kvstore() {
	local n=$1 net="$DIR/kv$1" i peers=""
	"$COMETBFT" testnet --v "$n" --o "$net" --starting-ip-address 127.0.0.1 >/dev/null
	for ((i = 0; i < n; i++)); do
		peers="$peers,$("$COMETBFT" show-node-id --home "$net/node$i")@127.0.0.1:$(p2p_port "$i")"
		# All nodes share one IP, as consort testnet sets up for loopback.
		sed -i -e 's/^allow_duplicate_ip = .*/allow_duplicate_ip = true/' \
			-e 's/^addr_book_strict = .*/addr_book_strict = false/' "$net/node$i/config/config.toml"
	done
	for ((i = 0; i < n; i++)); do
		"$COMETBFT" start --home "$net/node$i" --proxy_app=kvstore \
			--rpc.laddr "tcp://127.0.0.1:$(rpc_port "$i")" --p2p.laddr "tcp://127.0.0.1:$(p2p_port "$i")" \
			--p2p.persistent_peers "$(echo "${peers#,}" | tr ',' '\n' | { grep -v "127.0.0.1:$(p2p_port "$i")$" || true; } | paste -sd, -)" >"$net/node$i.log" 2>&1 &
		PIDS+=($!)
	done
}

# start_consort N: a fresh N-validator consort network in $DIR/consort$N.
start_consort() {
	local n=$1 net="$DIR/consort$1" i
	"$CONSORT" testnet --validators "$n" --output "$net" --base-port "$BASE_PORT" --gov-threshold 1 \
		--asset USD:2 --fund admin0=USD:1000000.00 >/dev/null
	for ((i = 0; i < n; i++)); do
		"$CONSORT" start --home "$net/node$i" >"$net/node$i.log" 2>&1 &
		PIDS+=($!)
	done
}

# json_field FILE SECTION KEY prints a number from a bench JSON report: a top-level
# KEY when SECTION is "-", else KEY inside the object SECTION.
json_field() {
	awk -v sec="$2" -v key="$3" '
		/^  "[a-z_]+": / { cur = $1; gsub(/[":]/, "", cur) }
		(sec == "-" && $0 ~ "^  \"" key "\": ") || (sec != "-" && cur == sec && $0 ~ "^    \"" key "\": ") {
			v = $2; gsub(/,/, "", v); print v; exit
		}' "$1"
}

# bench_run APP N RUN [FLAGS...]: one load run against node0, report in $DIR.
bench_run() {
	local app=$1 n=$2 run=$3 out
	shift 3
	out="$DIR/$app-$n-$run.json"
	local url="http://127.0.0.1:$(rpc_port 0)"
	wait_height "$url" 2
	if [[ "$app" == kvstore ]]; then
		# shellcheck disable=SC2086
		"$CONSORT" bench --app kvstore --node "$url" --duration "$DURATION" $FLAGS "$@" --output json >"$out" 2>"$out.log"
	else
		# shellcheck disable=SC2086
		"$CONSORT" bench --home "$DIR/consort$n/node0" --node "$url" --duration "$DURATION" $FLAGS "$@" --output json >"$out" 2>"$out.log"
	fi
	log "$app, $n validator(s), run $run: $(json_field "$out" - committed_tx_per_s) committed tx/s"
	echo "$out"
}

one_run() {
	local app=$1 n=$2 run=$3
	shift 3
	rm -rf "$DIR/kv$n" "$DIR/consort$n"
	if [[ "$app" == kvstore ]]; then start_kvstore "$n"; else start_consort "$n"; fi
	bench_run "$app" "$n" "$run" "$@" >/dev/null
	stop_nodes
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

row() {
	local f=$1 label=$2
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
		"$(json_field "$f" - committed_tx_per_s | xargs printf '%.0f')" \
		"$(json_field "$f" latency_ms p50 | xargs printf '%.0f')" \
		"$(json_field "$f" latency_ms p99 | xargs printf '%.0f')" \
		"$(json_field "$f" block_interval_ms mean | xargs printf '%.0f')" \
		"$(json_field "$f" block_txs mean | xargs printf '%.0f')" \
		"$(json_field "$f" - rejected)" "$(json_field "$f" - dropped)"
}

main() {
	command -v curl >/dev/null || die "curl is needed to wait for the nodes"
	command -v go >/dev/null || die "go is needed to build bin/consort and bin/cometbft"
	log "building bin/consort and bin/cometbft (v0.40.0, from go.mod)"
	(cd "$ROOT" && go build -o "$CONSORT" ./cmd/consort && go build -o "$COMETBFT" github.com/cometbft/cometbft/cmd/cometbft)
	rm -rf "$DIR"
	mkdir -p "$DIR"

	local n run app
	for n in $VALIDATORS; do
		for ((run = 1; run <= RUNS; run++)); do
			for app in kvstore consort; do
				one_run "$app" "$n" "$run"
			done
		done
	done

	if [[ "$LATENCY" == 1 ]]; then
		for app in kvstore consort; do
			local sat rate
			sat="$(for f in "$DIR/$app-1-"[0-9]*.json; do json_field "$f" - committed_tx_per_s; done | median)"
			rate="$(awk -v s="$sat" 'BEGIN { printf "%d", s / 2 }')"
			[[ "$rate" -gt 0 ]] || continue
			log "$app: latency at half of saturation, $rate tx/s"
			one_run "$app" 1 half --rate "$rate"
		done
	fi

	echo
	echo "consort bench, $DURATION per run, flags: $FLAGS; $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(go env GOVERSION)"
	echo
	echo "| run | committed tx/s | latency p50 ms | latency p99 ms | block interval ms | txs/block | rejected | dropped |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for n in $VALIDATORS; do
		for ((run = 1; run <= RUNS; run++)); do
			for app in kvstore consort; do
				row "$DIR/$app-$n-$run.json" "$app, $n val, run $run"
			done
		done
	done
	if [[ "$LATENCY" == 1 ]]; then
		for app in kvstore consort; do
			[[ -f "$DIR/$app-1-half.json" ]] && row "$DIR/$app-1-half.json" "$app, 1 val, 50% of saturation ($(json_field "$DIR/$app-1-half.json" - target_rate | xargs printf '%.0f') tx/s)"
		done
	fi
	echo
	echo "| validators | kvstore tx/s (median) | consort tx/s (median) | consort/kvstore |"
	echo "|---:|---:|---:|---:|"
	for n in $VALIDATORS; do
		local kv co
		kv="$(for f in "$DIR/kvstore-$n-"[0-9]*.json; do json_field "$f" - committed_tx_per_s; done | median)"
		co="$(for f in "$DIR/consort-$n-"[0-9]*.json; do json_field "$f" - committed_tx_per_s; done | median)"
		awk -v n="$n" -v kv="$kv" -v co="$co" 'BEGIN { printf "| %d | %.0f | %.0f | %.0f%% |\n", n, kv, co, (kv > 0 ? 100 * co / kv : 0) }'
	done
}

main "$@"
