#!/usr/bin/env bash
# Side-by-side L4 benchmark on loopback: ingress-lb (release) vs nginx `stream` vs HAProxy
# `mode tcp`, in front of the same backends, in one run.
#
#   benches/lb/run.sh            # needs: nginx libnginx-mod-stream haproxy iperf3 (Debian)
#
# Measures bulk throughput over 1 and 32 connections (iperf3 through the proxy) and new
# connections per second with short connections (lb-load: 32 workers connect, read 3 bytes,
# close). Each proxy runs one worker/thread pinned to CPU 0 (`taskset`); clients and backends
# are pinned to the other CPUs. The three proxies run at once on different ports and the tests
# are interleaved over ROUNDS rounds (median reported), so background load on a shared machine
# hits all three alike. Every step is bounded by `timeout`. Prints a markdown table with ratios
# ours/nginx and ours/HAProxy.
set -euo pipefail
cd "$(dirname "$0")/../.."

SECONDS_PER_TEST="${SECONDS_PER_TEST:-3}"
ROUNDS="${ROUNDS:-3}"
PROXY_CPU="${PROXY_CPU:-0}"
LOAD_CPUS="${LOAD_CPUS:-1}"
WORK="$(mktemp -d /tmp/ingress-lb-bench.XXXXXX)"
IPERF_PORT=39201; SHORT_PORT=39202
declare -A BULK=([ingress-lb]=39211 [nginx]=39221 [haproxy]=39231)
declare -A SHORT=([ingress-lb]=39212 [nginx]=39222 [haproxy]=39232)

for tool in nginx haproxy iperf3 taskset timeout python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y nginx libnginx-mod-stream haproxy iperf3)" >&2; exit 1; }
done

timeout 900 cargo build --release -q -p ingress-lb -p ingress-benches --bin ingress-lb --bin lb-load
LB=target/release/ingress-lb
LOAD=target/release/lb-load

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { # wait up to 5 s for a listening port
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $1 did not open" >&2; return 1
}

# Backends, shared by every proxy.
taskset -c "$LOAD_CPUS" iperf3 -s -p "$IPERF_PORT" >/dev/null 2>&1 & PIDS+=($!)
taskset -c "$LOAD_CPUS" "$LOAD" backend "127.0.0.1:$SHORT_PORT" & PIDS+=($!)
wait_port "$IPERF_PORT"; wait_port "$SHORT_PORT"

cat > "$WORK/lb.toml" <<TOML
[upstreams.bulk]
servers = [{ address = "127.0.0.1:$IPERF_PORT", weight = 5, max_fails = 3, fail_timeout = "30s" }]
[upstreams.short]
servers = [{ address = "127.0.0.1:$SHORT_PORT", weight = 5, max_fails = 3, fail_timeout = "30s" }]
[[listeners]]
address = "127.0.0.1:${BULK[ingress-lb]}"
upstream = "bulk"
[[listeners]]
address = "127.0.0.1:${SHORT[ingress-lb]}"
upstream = "short"
TOML

cat > "$WORK/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
stream {
  access_log off;
  upstream bulk { server 127.0.0.1:$IPERF_PORT weight=5 max_fails=3 fail_timeout=30s; }
  upstream short { server 127.0.0.1:$SHORT_PORT weight=5 max_fails=3 fail_timeout=30s; }
  server { listen 127.0.0.1:${BULK[nginx]}; proxy_pass bulk; }
  server { listen 127.0.0.1:${SHORT[nginx]}; proxy_pass short; }
}
NGINX

cat > "$WORK/haproxy.cfg" <<HAPROXY
global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 60s
  timeout client 10m
  timeout server 10m
frontend bulk
  bind 127.0.0.1:${BULK[haproxy]}
  default_backend bulk
backend bulk
  server s1 127.0.0.1:$IPERF_PORT weight 5
frontend short
  bind 127.0.0.1:${SHORT[haproxy]}
  default_backend short
backend short
  server s1 127.0.0.1:$SHORT_PORT weight 5
HAPROXY

for proxy in ingress-lb nginx haproxy; do
  case "$proxy" in
    ingress-lb) RUST_LOG=warn TOKIO_WORKER_THREADS=1 taskset -c "$PROXY_CPU" "$LB" --config "$WORK/lb.toml" & ;;
    nginx) taskset -c "$PROXY_CPU" nginx -e "$WORK/nginx-error.log" -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' & ;;
    haproxy) taskset -c "$PROXY_CPU" haproxy -q -f "$WORK/haproxy.cfg" & ;;
  esac
  PIDS+=($!)
  wait_port "${BULK[$proxy]}"; wait_port "${SHORT[$proxy]}"
done

gbits() { # iperf3 through port $1 with $2 parallel streams -> Gbit/s received
  timeout $((SECONDS_PER_TEST + 20)) taskset -c "$LOAD_CPUS" iperf3 -c 127.0.0.1 -p "$1" \
    -t "$SECONDS_PER_TEST" -P "$2" -J > "$WORK/iperf.json"
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$WORK/iperf.json"
}

conns() { # short connections per second through port $1 (32 workers)
  local out
  out="$(timeout $((SECONDS_PER_TEST + 20)) taskset -c "$LOAD_CPUS" "$LOAD" connect "127.0.0.1:$1" 32 "$SECONDS_PER_TEST")"
  set -- $out
  [ "$2" = "0" ] || echo "warning: $2 failed short connections" >&2
  echo "$1"
}

declare -A SAMPLES
for round in $(seq 1 "$ROUNDS"); do
  for proxy in ingress-lb nginx haproxy; do
    SAMPLES[$proxy,1]+="$(gbits "${BULK[$proxy]}" 1) "
    SAMPLES[$proxy,32]+="$(gbits "${BULK[$proxy]}" 32) "
    SAMPLES[$proxy,cps]+="$(conns "${SHORT[$proxy]}") "
  done
  echo "round $round/$ROUNDS done" >&2
done

median() { python3 -c 'import statistics,sys; print("%g" % statistics.median(map(float, sys.argv[1:])))' $1; }
declare -A RESULT
for key in "${!SAMPLES[@]}"; do RESULT[$key]="$(median "${SAMPLES[$key]}")"; done

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo
echo "| test | ingress-lb | nginx stream | HAProxy tcp | ours/nginx | ours/HAProxy |"
echo "|---|---|---|---|---|---|"
for row in "1:bulk, 1 connection (Gbit/s)" "32:bulk, 32 connections (Gbit/s)" "cps:short connections (conn/s, 32 workers)"; do
  key="${row%%:*}"; label="${row#*:}"
  ours="${RESULT[ingress-lb,$key]}"; ng="${RESULT[nginx,$key]}"; ha="${RESULT[haproxy,$key]}"
  echo "| $label | $ours | $ng | $ha | $(ratio "$ours" "$ng") | $(ratio "$ours" "$ha") |"
done
echo
echo "(median of $ROUNDS interleaved rounds; samples: 1 conn [${SAMPLES[ingress-lb,1]}/ ${SAMPLES[nginx,1]}/ ${SAMPLES[haproxy,1]}], 32 conns [${SAMPLES[ingress-lb,32]}/ ${SAMPLES[nginx,32]}/ ${SAMPLES[haproxy,32]}], conn/s [${SAMPLES[ingress-lb,cps]}/ ${SAMPLES[nginx,cps]}/ ${SAMPLES[haproxy,cps]}] for ingress-lb / nginx / HAProxy)"
echo "($(nproc) CPUs; proxy on CPU $PROXY_CPU, load and backends on CPU $LOAD_CPUS; ${SECONDS_PER_TEST}s per test; $(nginx -v 2>&1); $(haproxy -v | head -1))"
