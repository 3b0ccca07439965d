#!/usr/bin/env bash
# setup.sh: prepare a Vault for consort's Vault-held keys.
#
#   VAULT_ADDR=https://vault.example:8200 VAULT_TOKEN=... \
#     scripts/vault/setup.sh [options] VALIDATOR
#
# With a token allowed to manage mounts, auth methods and policies (a root or
# admin token), it makes sure of, creating only what is missing:
#   - the transit/ secrets engine, the secret/ KV version 2 engine and the
#     approle auth method (an existing secret/ that is KV version 1 is an
#     error: it is never changed behind its owner's back);
#   - the transit key VALIDATOR: ed25519, not exportable (an existing key of
#     another type, or exportable, is an error; a key is never replaced);
#   - the policies consort-signer-VALIDATOR and consort-operator-VALIDATOR,
#     from consort-signer.hcl and consort-operator.hcl beside this script;
#   - the AppRole consort-signer-VALIDATOR, whose tokens carry only the
#     signer policy (and Vault's default one).
# It prints the role_id and writes a new secret_id to a file of mode 0600
# (never to standard output). Give both to the validator's signer.
#
# Options:
#   --secret-id-file FILE   where the secret_id goes (default: ./VALIDATOR.secret-id)
#   --token-ttl DUR         TTL of the signer's tokens (default 1h); renewable
#   --token-max-ttl DUR     how long renewals can extend them (default 24h);
#                           after that the signer logs in again
#   --account NAME[:TYPE]   also create account key NAME (TYPE ed25519, the
#                           default, or p256) and its policy
#                           consort-account-NAME; repeatable
#
# Environment: VAULT_ADDR, VAULT_TOKEN (required); VAULT_CACERT,
# VAULT_SKIP_VERIFY, VAULT_NAMESPACE as the vault CLI reads them.
# Needs curl and jq. The token never appears on a command line.
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "setup.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed -e '/^set -E/d' -e 's/^# \{0,1\}//'; }

SECRET_ID_FILE=""
TOKEN_TTL="1h"
TOKEN_MAX_TTL="24h"
ACCOUNTS=()
VALIDATOR=""
while [ $# -gt 0 ]; do
	case "$1" in
	-h | --help) usage; exit 0 ;;
	--secret-id-file) [ $# -ge 2 ] || die "$1 needs a value"; SECRET_ID_FILE="$2"; shift 2 ;;
	--token-ttl) [ $# -ge 2 ] || die "$1 needs a value"; TOKEN_TTL="$2"; shift 2 ;;
	--token-max-ttl) [ $# -ge 2 ] || die "$1 needs a value"; TOKEN_MAX_TTL="$2"; shift 2 ;;
	--account) [ $# -ge 2 ] || die "$1 needs a value"; ACCOUNTS+=("$2"); shift 2 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) [ -z "$VALIDATOR" ] || die "one VALIDATOR only (got $VALIDATOR and $1)"; VALIDATOR="$1"; shift ;;
	esac
done
[ -n "$VALIDATOR" ] || { usage >&2; exit 2; }

# Key names go into URL paths and policy path patterns: no slashes, no glob
# characters, nothing a policy could widen.
valid_name() { [[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ ]]; }
valid_name "$VALIDATOR" || die "invalid validator key name '$VALIDATOR' (letters, digits, '.', '_', '-')"
for a in "${ACCOUNTS[@]}"; do
	valid_name "${a%%:*}" || die "invalid account key name '${a%%:*}'"
	case "$a" in *:*) case "${a#*:}" in ed25519 | p256) ;; *) die "account key type must be ed25519 or p256, not '${a#*:}'" ;; esac ;; esac
done
[[ "$TOKEN_TTL" =~ ^[0-9]+[smhd]?$ ]] || die "invalid --token-ttl '$TOKEN_TTL'"
[[ "$TOKEN_MAX_TTL" =~ ^[0-9]+[smhd]?$ ]] || die "invalid --token-max-ttl '$TOKEN_MAX_TTL'"

command -v curl >/dev/null 2>&1 || die "curl is required (Debian: apt-get install curl)"
command -v jq >/dev/null 2>&1 || die "jq is required (Debian: apt-get install jq)"
[ -n "${VAULT_ADDR:-}" ] || die "VAULT_ADDR is not set"
[ -n "${VAULT_TOKEN:-}" ] || die "VAULT_TOKEN is not set"
ADDR="${VAULT_ADDR%/}"
SECRET_ID_FILE="${SECRET_ID_FILE:-./$VALIDATOR.secret-id}"

WORK="$(mktemp -d)"
chmod 700 "$WORK"
trap 'rm -rf "$WORK"' EXIT
# Headers (the token among them) go to curl from a private file, so the token
# is never in a process's arguments.
{
	printf 'X-Vault-Token: %s\n' "$VAULT_TOKEN"
	printf 'X-Vault-Request: true\n'
	[ -z "${VAULT_NAMESPACE:-}" ] || printf 'X-Vault-Namespace: %s\n' "$VAULT_NAMESPACE"
} >"$WORK/headers"
CURL_TLS=()
[ -z "${VAULT_CACERT:-}" ] || CURL_TLS+=(--cacert "$VAULT_CACERT")
case "${VAULT_SKIP_VERIFY:-}" in 1 | true | TRUE | True) CURL_TLS+=(--insecure) ;; esac

# api METHOD PATH [JSON]: one Vault API call. The answer goes to $WORK/body
# (it may hold a secret: it stays in the private directory) and the status to
# STATUS.
STATUS=0
api() {
	local method="$1" path="$2" data="${3:-}"
	local args=(-sS -o "$WORK/body" -w '%{http_code}' -X "$method" -H "@$WORK/headers" "${CURL_TLS[@]}")
	if [ -n "$data" ]; then
		printf '%s' "$data" >"$WORK/request"
		args+=(-H 'Content-Type: application/json' --data-binary "@$WORK/request")
	fi
	STATUS="$(curl "${args[@]}" "$ADDR/v1/$path")" || die "cannot reach Vault at $ADDR ($method $path)"
}
errors() { jq -r '(.errors // []) | join("; ")' "$WORK/body" 2>/dev/null || true; }
# must METHOD PATH [JSON]: an API call that has to succeed.
must() {
	api "$@"
	case "$STATUS" in 2??) ;; *) die "$1 $2: HTTP $STATUS: $(errors)" ;; esac
}

api GET sys/health
case "$STATUS" in 200 | 429 | 472 | 473) ;; *) die "Vault at $ADDR is not ready (sys/health: HTTP $STATUS)" ;; esac
must GET auth/token/lookup-self

# Mounts.
must GET sys/mounts
mounts="$(jq -c '.data // .' "$WORK/body")"
if [ "$(jq -r '.["transit/"].type // empty' <<<"$mounts")" = "" ]; then
	must POST sys/mounts/transit '{"type":"transit","description":"consort keys"}'
	echo "enabled transit/ (transit)"
elif [ "$(jq -r '.["transit/"].type' <<<"$mounts")" != "transit" ]; then
	die "transit/ is mounted as $(jq -r '.["transit/"].type' <<<"$mounts"), not transit"
fi
secret_type="$(jq -r '.["secret/"].type // empty' <<<"$mounts")"
if [ -z "$secret_type" ]; then
	must POST sys/mounts/secret '{"type":"kv","options":{"version":"2"},"description":"consort watermarks and key schedules"}'
	echo "enabled secret/ (kv version 2)"
elif [ "$secret_type" != "kv" ]; then
	die "secret/ is mounted as $secret_type, not kv"
elif [ "$(jq -r '.["secret/"].options.version // "1"' <<<"$mounts")" != "2" ]; then
	die "secret/ is KV version 1; consort needs version 2 (vault kv enable-versioning secret/)"
fi
must GET sys/auth
if [ "$(jq -r '(.data // .)["approle/"].type // empty' "$WORK/body")" = "" ]; then
	must POST sys/auth/approle '{"type":"approle"}'
	echo "enabled auth/approle/"
fi

# ensure_key NAME TYPE: create a non-exportable transit key, or check the
# existing one is of TYPE and not exportable. A key is never replaced.
ensure_key() {
	local name="$1" type="$2"
	api GET "transit/keys/$name"
	case "$STATUS" in
	200)
		local have exportable
		have="$(jq -r '.data.type' "$WORK/body")"
		exportable="$(jq -r '.data.exportable' "$WORK/body")"
		[ "$have" = "$type" ] || die "transit key $name exists with type $have, not $type"
		[ "$exportable" = "false" ] || die "transit key $name is exportable; consort keys must not be"
		echo "transit key $name exists ($type, latest version $(jq -r '.data.latest_version' "$WORK/body"))"
		;;
	404)
		must POST "transit/keys/$name" "$(jq -nc --arg t "$type" '{type:$t, exportable:false, allow_plaintext_backup:false}')"
		echo "created transit key $name ($type, not exportable)"
		;;
	*) die "GET transit/keys/$name: HTTP $STATUS: $(errors)" ;;
	esac
}

# write_policy FILE KEY: store FILE as policy <basename>-KEY, __KEY__ replaced.
write_policy() {
	local file="$1" key="$2" name
	name="$(basename "$file" .hcl)-$key"
	[ -r "$file" ] || die "missing policy file $file"
	must PUT "sys/policies/acl/$name" "$(sed "s/__KEY__/$key/g" "$file" | jq -Rsc '{policy: .}')"
	echo "wrote policy $name"
}

ensure_key "$VALIDATOR" ed25519
write_policy "$HERE/consort-signer.hcl" "$VALIDATOR"
write_policy "$HERE/consort-operator.hcl" "$VALIDATOR"

for a in "${ACCOUNTS[@]}"; do
	name="${a%%:*}" type=ed25519
	case "$a" in *:p256) type=ecdsa-p256 ;; esac
	ensure_key "$name" "$type"
	write_policy "$HERE/consort-account.hcl" "$name"
done

# The signer's AppRole.
role="consort-signer-$VALIDATOR"
must POST "auth/approle/role/$role" "$(jq -nc --arg p "$role" --arg ttl "$TOKEN_TTL" --arg max "$TOKEN_MAX_TTL" \
	'{token_policies: [$p], token_ttl: $ttl, token_max_ttl: $max, token_type: "service", bind_secret_id: true}')"
must GET "auth/approle/role/$role/role-id"
role_id="$(jq -r '.data.role_id' "$WORK/body")"
must POST "auth/approle/role/$role/secret-id" '{}'
# The secret_id goes from the private answer file straight into a new file
# of mode 0600 beside the target, renamed into place.
dir="$(dirname "$SECRET_ID_FILE")"
mkdir -p "$dir"
tmp="$(umask 077 && mktemp "$dir/.secret-id.XXXXXX")"
jq -r '.data.secret_id' "$WORK/body" >"$tmp"
if [ ! -s "$tmp" ] || [ "$(cat "$tmp")" = "null" ]; then
	rm -f "$tmp"
	die "Vault returned no secret_id"
fi
chmod 600 "$tmp"
mv -f "$tmp" "$SECRET_ID_FILE"

echo "approle role: $role (policy $role)"
echo "role_id: $role_id"
echo "secret_id written to $SECRET_ID_FILE (mode 0600)"
