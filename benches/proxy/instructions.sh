#!/usr/bin/env bash
# User-space instructions per proxied request of the shipped ingress-proxy, under callgrind.
#
# Same binary, routes and default configuration as run.sh (target/dist/ingress-proxy
# --manifests DIR). Instrumentation is switched on only after the table is ready and a warm-up
# ran, and off before shutdown, so startup, manifest parsing and certificate loading are not
# counted; the total is divided by the requests wrk completed in the counted window.
# Instruction counts barely move with background load, unlike timings: use them to compare
# builds on a shared machine.
#
# Needs: valgrind (callgrind_control), wrk, curl, taskset.
# Usage: benches/proxy/instructions.sh [scheme=http] [seconds=10] [connections=16] [access_log=on|off]
# KEEP=1 keeps the work directory (callgrind.out: `callgrind_annotate` shows where the time goes).
set -euo pipefail

SCHEME="${1:-http}"
SECONDS_COUNTED="${2:-10}"
CONNECTIONS="${3:-16}"
ACCESS_LOG="${4:-on}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/proxy-instructions.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
for tool in valgrind callgrind_control wrk curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y valgrind wrk curl)" >&2; exit 1; }
done
if [ "$(nproc)" -ge 2 ]; then PROXY_CPU=0; LOAD_CPU=1; else PROXY_CPU=0; LOAD_CPU=0; fi

BACKEND_HOST=127.0.0.1; BACKEND_PORT=19000
OURS_HTTP=19080; OURS_HTTPS=19443; OURS_ADMIN=19254
# shellcheck source=configs.sh
. "$ROOT/benches/proxy/configs.sh"

(cd "$ROOT" && cargo build --profile dist -q -p ingress-k8s --bin ingress-proxy \
  -p ingress-benches --bin bench-backend --bin bench-proxy)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/dist"
"$BIN/bench-proxy" --write-cert "$WORK/cert"
write_manifests "$WORK/manifests"
write_wrk_script "$WORK/requests.lua"

wait_until() {  # what, command...: up to 60 s (valgrind starts slowly)
  local what="$1"; shift
  for _ in $(seq 1 1200); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "$what: not ready after 60 s" >&2; return 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1"); }

taskset -c "$LOAD_CPU" "$BIN/bench-backend" "$BACKEND_HOST:$BACKEND_PORT" & PIDS+=($!)
wait_until bench-backend port_open "$BACKEND_PORT"

args=(--manifests "$WORK/manifests" --http-addr "127.0.0.1:$OURS_HTTP"
  --https-addr "127.0.0.1:$OURS_HTTPS" --admin-addr "127.0.0.1:$OURS_ADMIN"
  --default-ssl-certificate bench/bench-cert)
env=()
if [ "$ACCESS_LOG" = off ]; then
  if "$BIN/ingress-proxy" --help | grep -q -- '--access-log'; then args+=(--access-log off)
  else env=("RUST_LOG=info,ingress_proxy::access=off"); fi
fi
taskset -c "$PROXY_CPU" env "${env[@]}" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$WORK/callgrind.out" "$BIN/ingress-proxy" "${args[@]}" \
  >"$WORK/stdout.log" 2>"$WORK/stderr.log" & proxy=$!
PIDS+=("$proxy")
wait_until "ingress-proxy /readyz" curl -sf "http://127.0.0.1:$OURS_ADMIN/readyz"
port=$OURS_HTTP; [ "$SCHEME" = https ] && port=$OURS_HTTPS
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/requests.lua" "$SCHEME://127.0.0.1:$port" >/dev/null
callgrind_control -i on "$proxy" >/dev/null
out="$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_COUNTED}s" -s "$WORK/requests.lua" "$SCHEME://127.0.0.1:$port")"
callgrind_control -i off "$proxy" >/dev/null
kill -INT "$proxy"; wait "$proxy" 2>/dev/null || true
requests="$(awk '/requests in/ {print $1}' <<<"$out")"
non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
total="$(awk '/^totals:/ {print $2}' "$WORK/callgrind.out" | tail -1)"
echo "ingress-proxy ($("$BIN/ingress-proxy" --version)), $SCHEME, access log $ACCESS_LOG, wrk -c$CONNECTIONS"
echo "requests: $requests (non-2xx: ${non2xx:-0}); instructions: $total"
awk -v t="$total" -v n="$requests" 'BEGIN { if (n > 0) printf "instructions per request: %.1fk\n", t / n / 1000 }'
