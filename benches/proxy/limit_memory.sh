#!/usr/bin/env bash
# Memory of the `limit-rps` state under many distinct clients, measured on the shipped binary.
#
# ingress-proxy (dist profile, default configuration, --manifests) serves one Ingress with
# `limit-rps: "1000"`; its ConfigMap sets `use-forwarded-headers: "true"` (loopback is inside
# ingress-nginx's default `proxy-real-ip-cidr`), so each request's `X-Forwarded-For` is the
# client the limiter counts. wrk runs for DURATION seconds, each request naming a new address
# (a wrk Lua script walks up from 10.0.0.0, one range per thread; only the header changes, every
# connection is on loopback), so the distinct clients are the requests sent. Printed: requests, 503s, the
# proxy's resident memory (VmRSS, VmHWM) before and after, and the evictions counter; then the
# same run with one client (answered mostly by the limiter itself), and the distinct-client run
# again without the annotation (the same proxying work, no limiter state): the baselines the
# difference is read against.
#
# Needs: wrk, curl; Usage: benches/proxy/limit_memory.sh [duration_seconds=40]
set -euo pipefail

DURATION="${1:-40}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/limit-memory.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk curl)" >&2; exit 1; }
done

PROFILE="${PROFILE:-dist}"
(cd "$ROOT" && cargo build --profile "$PROFILE" -q -p ingress-k8s --bin ingress-proxy \
  -p ingress-benches --bin bench-backend)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
BACKEND=19300; HTTP=19380; ADMIN=19354

mkdir -p "$WORK/manifests"
cat > "$WORK/manifests/all.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: ingress-engine }
spec: { controller: ingress-engine.dev/controller }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: ingress-engine-controller, namespace: ingress-engine }
data:
  use-forwarded-headers: "true"
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: bench }
spec:
  ports: [{ name: http, port: 80, targetPort: $BACKEND }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: bench
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports: [{ name: http, port: $BACKEND, protocol: TCP }]
endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: limited
  namespace: bench
  annotations:
    nginx.ingress.kubernetes.io/limit-rps: "1000"
spec:
  ingressClassName: ingress-engine
  rules:
  - host: limited.bench.local
    http:
      paths:
      - { path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }
YAML

# Each request names the next address; `step` spreads the wrk threads apart.
cat > "$WORK/clients.lua" <<'LUA'
local counter = 0
local thread_index = 0
local threads = {}
function setup(thread)
  thread:set("id", thread_index)
  thread_index = thread_index + 1
  table.insert(threads, thread)
end
function init(args)
  distinct = args[1] == "distinct"
  counter = id * 16777216
end
-- LuaJIT (wrk's Lua) has no integer operators: split with floor and modulo.
function request()
  local n = distinct and counter or 0
  counter = counter + 1
  local address = string.format("%d.%d.%d.%d", 10 + math.floor(n / 16777216),
    math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", "/", { ["Host"] = "limited.bench.local", ["X-Forwarded-For"] = address })
end
LUA

"$BIN/bench-backend" "127.0.0.1:$BACKEND" & PIDS+=($!)

rss() { awk '/^VmRSS|^VmHWM/ { printf "%s %d KiB  ", $1, $2 }' "/proc/$1/status"; }
metric() { curl -sf "http://127.0.0.1:$ADMIN/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

measure() {  # distinct|same, manifests directory
  "$BIN/ingress-proxy" --manifests "$2" --configmap ingress-engine/ingress-engine-controller \
    --http-addr "127.0.0.1:$HTTP" --https-addr "127.0.0.1:19343" --admin-addr "127.0.0.1:$ADMIN" \
    >"$WORK/proxy.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ADMIN/readyz" >/dev/null && break; sleep 0.1; done
  curl -s -o /dev/null -w "first request: %{http_code}\n" -H "Host: limited.bench.local" "http://127.0.0.1:$HTTP/"
  grep -iE "warn|error" "$WORK/proxy.log" | head -5 || true
  echo "clients=$1 ($(basename "$2")) before: $(rss "$pid")"
  wrk -t2 -c32 -d"${DURATION}s" -s "$WORK/clients.lua" "http://127.0.0.1:$HTTP/" -- "$1" > "$WORK/wrk.txt" 2>&1 || true
  grep -E 'requests in|Non-2xx' "$WORK/wrk.txt" | sed 's/^ */  /'
  echo "clients=$1 ($(basename "$2")) after:  $(rss "$pid") evictions=$(metric ingress_rate_limit_evictions_total)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

mkdir -p "$WORK/unlimited"
grep -v 'limit-rps' "$WORK/manifests/all.yaml" | sed 's/^  annotations:$/  annotations: {}/' > "$WORK/unlimited/all.yaml"
measure distinct "$WORK/manifests"
measure same "$WORK/manifests"
measure distinct "$WORK/unlimited"
