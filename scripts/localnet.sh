#!/usr/bin/env bash
# localnet.sh: a 4-validator consort network on loopback, in one command.
#
#   scripts/localnet.sh up [TESTNET FLAGS]   build bin/consort if missing or stale, write the
#                                            network into ./localnet if missing, start the
#                                            nodes and return once every node is past height 2
#   scripts/localnet.sh status               height, peers and signing of each node
#   scripts/localnet.sh down                 stop the nodes (SIGTERM, then SIGKILL)
#
# Node i serves RPC on 127.0.0.1:(26657+100*i), P2P on 26656+100*i and
# Prometheus metrics on 26660+100*i. Its home is localnet/node$i, its log
# localnet/node$i.log. Each node's organisation admin (admin0 … admin3) has
# its key in that node's keyring; admin0 holds 1,000,000.00 USD. Try:
#
#   bin/consort tx send --home localnet/node0 --from admin0 --to admin3 --asset USD --amount 10.00
#   bin/consort query balance admin3 --asset USD --home localnet/node3
#
# TESTNET FLAGS go to `consort testnet` when the network is first written
# (e.g. --timeout-commit 200ms); remove the folder to write it anew.
#
# Environment:
#   LOCALNET_DIR         network folder (default: ./localnet in the repository)
#   LOCALNET_VALIDATORS  validators when the network is first written (default 4)
#   LOCALNET_BASE_PORT   P2P port of node0 when first written (default 26656)
#   LOCALNET_TIMEOUT     seconds `up` waits for blocks (default 60)
#   CONSORT_BIN          consort binary to use (default: bin/consort, built with go)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${LOCALNET_DIR:-$ROOT/localnet}"
VALIDATORS="${LOCALNET_VALIDATORS:-4}"
BASE_PORT="${LOCALNET_BASE_PORT:-26656}"
TIMEOUT="${LOCALNET_TIMEOUT:-60}"
STOP_TIMEOUT=10
BIN="${CONSORT_BIN:-$ROOT/bin/consort}"
# The nodes' command lines name their homes; an absolute folder keeps them
# recognisable from any working directory.
mkdir -p "$(dirname "$DIR")"
DIR="$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")"

die() {
	echo "localnet: $*" >&2
	exit 1
}
trap 'echo "localnet: command failed at line $LINENO" >&2' ERR

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# ensure_bin builds bin/consort when it is missing or older than a Go file.
# A binary given in CONSORT_BIN is used as it is.
ensure_bin() {
	if [[ -n "${CONSORT_BIN:-}" ]]; then
		[[ -x "$BIN" ]] || die "CONSORT_BIN=$BIN is not an executable file"
		return
	fi
	if [[ -x "$BIN" ]] && [[ -z "$(find "$ROOT" \( -path "$ROOT/.git" -o -path "$ROOT/localnet" \) -prune -o \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$BIN" -print -quit)" ]]; then
		return
	fi
	command -v go >/dev/null || die "$BIN is missing or stale and go is not installed to build it"
	echo "localnet: building $BIN"
	(cd "$ROOT" && go build -o "$BIN" ./cmd/consort)
}

# nodes prints the node numbers of the network in $DIR on one line, in order.
nodes() {
	local i=0 list=""
	while [[ -f "$DIR/node$i/config/genesis.json" ]]; do
		list="$list $i"
		i=$((i + 1))
	done
	echo "$list"
}

# rpc_url prints node $1's RPC address, read from its config.toml.
rpc_url() {
	local laddr
	laddr="$(awk '/^\[/ { section = $0 } section == "[rpc]" && $1 == "laddr" { gsub(/"/, "", $3); print $3; exit }' "$DIR/node$1/config/config.toml")"
	laddr="${laddr#tcp://}"
	echo "http://${laddr/#0.0.0.0:/127.0.0.1:}"
}

# running reports whether node $1's pid file names a live `consort start`
# of its home. A zombie (exited, not yet reaped) is not running.
running() {
	local pidfile="$DIR/node$1.pid" pid state
	[[ -f "$pidfile" ]] || return 1
	pid="$(cat "$pidfile")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	state="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
	[[ "$state" != Z* ]] || return 1
	[[ "$(ps -ww -o args= -p "$pid" 2>/dev/null)" == *" start --home $DIR/node$1" ]]
}

# rpc GETs path $2 of node $1's RPC and prints the JSON with all white space
# removed, so that fields can be matched without jq. It prints nothing if the
# node does not answer.
rpc() {
	{ curl -fsS --max-time 2 "$(rpc_url "$1")$2" 2>/dev/null || true; } | tr -d ' \t\r\n'
}

# field prints the first value of JSON string or number field $1 on stdin.
field() {
	sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
}

# height prints node $1's latest block height, or nothing if it does not answer.
height() {
	if command -v curl >/dev/null; then
		rpc "$1" /status | field latest_block_height
	else
		{ "$BIN" status --node "$(rpc_url "$1")" --output json 2>/dev/null || true; } | tr -d ' \t\r\n' | field latest_block_height
	fi
}

cmd_up() {
	ensure_bin
	if [[ ! -f "$DIR/node0/config/genesis.json" ]]; then
		[[ ! -e "$DIR/node0" ]] || die "$DIR/node0 exists but is not a finished node home; remove $DIR and run up again"
		"$BIN" testnet --validators "$VALIDATORS" --output "$DIR" --base-port "$BASE_PORT" \
			--asset USD:2 --fund admin0=USD:1000000.00 "$@"
	elif [[ $# -gt 0 ]]; then
		echo "localnet: $DIR exists; ignoring testnet flags $*" >&2
	fi
	local -a all
	read -r -a all <<<"$(nodes)"
	[[ ${#all[@]} -gt 0 ]] || die "no node homes in $DIR"
	local i
	for i in "${all[@]}"; do
		if running "$i"; then
			echo "localnet: node$i is already running (pid $(cat "$DIR/node$i.pid"))"
			continue
		fi
		"$BIN" start --home "$DIR/node$i" >>"$DIR/node$i.log" 2>&1 </dev/null &
		echo "$!" >"$DIR/node$i.pid"
	done
	echo "localnet: waiting up to ${TIMEOUT}s for ${#all[@]} validators to pass height 2"
	local deadline=$((SECONDS + TIMEOUT)) ready h
	while :; do
		ready=0
		for i in "${all[@]}"; do
			if ! running "$i"; then
				echo "localnet: node$i exited; the end of $DIR/node$i.log:" >&2
				tail -n 20 "$DIR/node$i.log" >&2 || true
				cmd_down >&2
				die "node$i did not start"
			fi
			h="$(height "$i")"
			if [[ -n "$h" ]] && ((h >= 2)); then
				ready=$((ready + 1))
			fi
		done
		((ready == ${#all[@]})) && break
		if ((SECONDS >= deadline)); then
			cmd_status >&2 || true
			cmd_down >&2
			die "only $ready of ${#all[@]} nodes reached height 2 within ${TIMEOUT}s; logs are in $DIR/node*.log"
		fi
		sleep 0.5
	done
	cmd_status
}

# signing prints yes when the node that gave /status $2 has voting power and
# its signature is in the commit of its latest block (from node $1), else no.
signing() {
	local addr power h
	addr="$(sed -n 's/.*"validator_info":{"address":"\([0-9A-F]*\)".*/\1/p' <<<"$2")"
	power="$(field voting_power <<<"$2")"
	h="$(field latest_block_height <<<"$2")"
	if [[ -n "$addr" && -n "$h" && "${power:-0}" != 0 ]] &&
		rpc "$1" "/commit?height=$h" | grep -q "\"block_id_flag\":2,\"validator_address\":\"$addr\""; then
		echo yes
	else
		echo no
	fi
}

# cmd_status prints one line per node and fails unless every node answers.
cmd_status() {
	local -a all
	read -r -a all <<<"$(nodes)"
	[[ ${#all[@]} -gt 0 ]] || die "no node homes in $DIR: run $0 up"
	local i pid st h peers power sign answered=0
	printf '%-6s %-8s %-24s %-7s %-6s %-6s %s\n' node pid rpc height peers power signing
	for i in "${all[@]}"; do
		pid=-
		if running "$i"; then
			pid="$(cat "$DIR/node$i.pid")"
		fi
		peers='?' power='?' sign='?'
		if command -v curl >/dev/null; then
			st="$(rpc "$i" /status)"
			h="$(field latest_block_height <<<"$st")"
			if [[ -n "$h" ]]; then
				peers="$(rpc "$i" /net_info | field n_peers)"
				power="$(field voting_power <<<"$st")"
				sign="$(signing "$i" "$st")"
			fi
		else
			h="$(height "$i")"
		fi
		if [[ -n "$h" ]]; then
			answered=$((answered + 1))
		fi
		printf '%-6s %-8s %-24s %-7s %-6s %-6s %s\n' "node$i" "$pid" "$(rpc_url "$i")" "${h:--}" "${peers:-?}" "${power:-?}" "$sign"
	done
	((answered == ${#all[@]}))
}

cmd_down() {
	local -a all
	read -r -a all <<<"$(nodes)"
	local i stopped=0
	for i in "${all[@]}"; do
		if running "$i"; then
			kill -TERM "$(cat "$DIR/node$i.pid")" 2>/dev/null || true
			stopped=$((stopped + 1))
		fi
	done
	local deadline=$((SECONDS + STOP_TIMEOUT)) left
	while :; do
		left=0
		for i in "${all[@]}"; do
			running "$i" && left=$((left + 1))
		done
		((left == 0)) && break
		if ((SECONDS >= deadline)); then
			for i in "${all[@]}"; do
				if running "$i"; then
					echo "localnet: node$i did not stop within ${STOP_TIMEOUT}s; killing it" >&2
					kill -KILL "$(cat "$DIR/node$i.pid")" 2>/dev/null || true
				fi
			done
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	for i in "${all[@]}"; do
		running "$i" && die "node$i (pid $(cat "$DIR/node$i.pid")) is still running"
		rm -f "$DIR/node$i.pid"
	done
	echo "localnet: stopped $stopped node(s)"
}

[[ $# -ge 1 ]] || usage
command="$1"
shift
case "$command" in
up) cmd_up "$@" ;;
status) cmd_status || exit 1 ;;
down) cmd_down ;;
*) usage ;;
esac
