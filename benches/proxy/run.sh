#!/usr/bin/env bash
# Side-by-side reverse-proxy benchmark on loopback: the shipped ingress-proxy vs nginx vs HAProxy.
#
# ingress-proxy is the real binary built with the shipped profile (target/dist/ingress-proxy),
# started with `--manifests DIR` and its default configuration; nginx and HAProxy get the same
# routes (10 hosts x 5 Prefix paths, one backend, upstream keep-alive) from configs written here
# (configs.sh). One backend (bench-backend) and one proxy at a time: the proxy pinned to CPU 0,
# the backend and wrk to CPU 1. wrk drives each proxy for a fixed time at fixed concurrency,
# cycling through the 50 host/path pairs, over plain HTTP and HTTPS (keep-alive, TLS 1.3).
#
# Two passes, in the same run, interleaved round by round:
#   on:  access logs on for every proxy. nginx: ingress-nginx's `upstreaminfo` format to a file
#        (access_log FILE upstreaminfo $NGINX_LOG_PARAMS, default buffer=64k); HAProxy:
#        `option httplog` to stdout (a file); ingress-proxy: its default (stdout, a file, as a
#        container runtime would take it).
#   off: access logs off for every proxy (ingress-proxy: `--access-log off`; on a binary without
#        that flag, the access-log target is turned off through RUST_LOG, and the output says so).
#
# Needs: Debian packages nginx (or nginx-light), haproxy, wrk, curl; util-linux (taskset).
# Usage: benches/proxy/run.sh [duration_seconds=10] [connections=64] [rounds=6]
# (rounds: a multiple of 6 balances the order of 3 proxies, of 4 with ours-swap added)
# Environment:
#   PROXIES  (default "ours nginx haproxy"; add "ours-swap" for ingress-proxy with a manifest
#            rewritten every 10 ms, which exercises the real reload path)
#   SCHEMES  (default "http https"), PASSES (default "on off") narrow a run;
#   NGINX_LOG_PARAMS (default "buffer=64k"; ingress-nginx's own default, access-log-params "",
#            is unbuffered); PROFILE (default dist, what ships).
# Prints a markdown table per pass. Not a test: numbers depend on the machine.
set -euo pipefail

DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
ROUNDS="${3:-6}"
WARMUP=2
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/proxy-bench.XXXXXX)"
NGINX_LOG_PARAMS="${NGINX_LOG_PARAMS-buffer=64k}"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in nginx haproxy wrk curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y nginx haproxy wrk curl)" >&2; exit 1; }
done
if [ "$(nproc)" -ge 2 ]; then PROXY_CPU=0; LOAD_CPU=1; else PROXY_CPU=0; LOAD_CPU=0; fi

BACKEND_HOST=127.0.0.1; BACKEND_PORT=19000
OURS_HTTP=19080; OURS_HTTPS=19443; OURS_ADMIN=19254
NGINX_HTTP=19180; NGINX_HTTPS=19543
HAPROXY_HTTP=19280; HAPROXY_HTTPS=19643
# shellcheck source=configs.sh
. "$ROOT/benches/proxy/configs.sh"

# What ships is the dist profile; PROFILE=release (or dev, to try the script) measures another.
PROFILE="${PROFILE:-dist}"
echo "building ingress-proxy and the bench backend with the $PROFILE profile..." >&2
(cd "$ROOT" && cargo build --profile "$PROFILE" -q -p ingress-k8s --bin ingress-proxy \
  -p ingress-benches --bin bench-backend --bin bench-proxy)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
if [ "$PROFILE" = dev ]; then BIN="${BIN%/dev}/debug"; fi
OURS="$BIN/ingress-proxy"

# How ingress-proxy's access log is turned off in the "off" pass.
OURS_OFF_ARGS=(); OURS_OFF_ENV=()
if "$OURS" --help | grep -q -- '--access-log'; then
  OURS_OFF_ARGS=(--access-log off)
  OURS_LOG_NOTE="access log off: --access-log off"
else
  OURS_OFF_ENV=("RUST_LOG=info,ingress_proxy::access=off")
  OURS_LOG_NOTE="access log off: this binary has no --access-log flag; RUST_LOG=info,ingress_proxy::access=off instead"
fi
echo "ingress-proxy: $OURS_LOG_NOTE" >&2

"$BIN/bench-proxy" --write-cert "$WORK/cert"   # a self-signed *.bench.local certificate
cat "$WORK/cert/tls.crt" "$WORK/cert/tls.key" > "$WORK/cert/combined.pem"
write_manifests "$WORK/manifests"
for pass in on off; do
  write_nginx_conf "$WORK/nginx-$pass.conf" "$pass"
  write_haproxy_cfg "$WORK/haproxy-$pass.cfg" "$pass"
done
write_wrk_script "$WORK/requests.lua"

# --- waiting and checking (bounded polls, never a fixed sleep) ---------------------------------
wait_until() {  # what, command...: up to 10 s
  local what="$1"; shift
  for _ in $(seq 1 200); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "$what: not ready after 10 s" >&2; return 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1"); }
# Every proxy must answer a routed request with the backend's 200 before it is measured (a
# redirect or 404 would otherwise be timed as if it were proxying).
check_routes() {  # name http_port https_port
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: host3.bench.local' "http://127.0.0.1:$2/p4/x")"
  [ "$code" = 200 ] || { echo "$1: plain HTTP answered $code, not 200" >&2; return 1; }
  code="$(curl -sk -o /dev/null -w '%{http_code}' --resolve "host3.bench.local:$3:127.0.0.1" \
    "https://host3.bench.local:$3/p4/x")"
  [ "$code" = 200 ] || { echo "$1: HTTPS answered $code, not 200" >&2; return 1; }
}

# --- measuring -----------------------------------------------------------------------------------
peak_rss_mib() {  # sum of VmHWM over a pid and its children
  local total=0 pid kib
  for pid in "$1" $(pgrep -P "$1" || true); do
    kib="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
    total=$((total + ${kib:-0}))
  done
  awk -v k="$total" 'BEGIN { printf "%.1f", k / 1024 }'
}
cpu_ticks() {  # user+system clock ticks of a pid (all threads) and its children
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
to_ms() {  # wrk latency ("850.00us", "1.20ms", "1.01s") -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "%s", v }'
}
requests_of() { awk '/requests in/ {print $1}' <<<"$1"; }

RESULTS=()   # name|pass|scheme|rps|p50|p99|rss|errors|cpu_us|round|log_bytes_per_request
SWAPS=()     # pass|reloads published|seconds under load, per ours-swap process
SERVED=0     # requests the running proxy served (warm-up included), for log bytes per request
PENDING=()   # this process's rows, completed with its log size when it stops
drive() {  # name scheme port pid
  local name="$1" scheme="$2" port="$3" pid="$4" out warm before after
  warm="$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$WORK/requests.lua" "$scheme://127.0.0.1:$port")"
  before="$(cpu_ticks "$pid")"
  out="$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/requests.lua" "$scheme://127.0.0.1:$port")"
  after="$(cpu_ticks "$pid")"
  local rps p50 p99 errors non2xx requests cpu_us
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
  errors="$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
  requests="$(requests_of "$out")"
  SERVED=$((SERVED + ${requests:-0} + $(requests_of "$warm")))
  cpu_us="$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0 }')"
  PENDING+=("$name|$PASS|$scheme|$rps|$p50|$p99|$(peak_rss_mib "$pid")|$(( ${non2xx:-0} + ${errors:-0} ))|$cpu_us|$ROUND")
}
# Runs both schemes against a started proxy, stops it, and records its rows with the access
# log's size per request (callers then remove the file: at ~50k requests/s it grows fast).
measure() {  # name http_port https_port pid stop_signal log_file
  local name="$1" pid="$4" s bytes per
  SERVED=0; PENDING=()
  check_routes "$name" "$2" "$3"
  for s in "${SCHEME_ORDER[@]}"; do
    if [ "$s" = http ]; then drive "$name" http "$2" "$pid"; else drive "$name" https "$3" "$pid"; fi
  done
  kill "-$5" "$pid"; wait "$pid" 2>/dev/null || true
  bytes="$(stat -c %s "$6" 2>/dev/null || echo 0)"
  per="$(awk -v b="$bytes" -v n="$SERVED" 'BEGIN { if (n > 0) printf "%.0f", b / n; else print 0 }')"
  for row in "${PENDING[@]}"; do RESULTS+=("$row|$per"); done
}

# --- the proxies -------------------------------------------------------------------------------
run_ours() {  # label, swap (yes|no)
  local label="$1" swap="$2" log="$WORK/ours-stdout.log" args env=() pid swapper="" published
  args=(--manifests "$WORK/manifests" --http-addr "127.0.0.1:$OURS_HTTP"
    --https-addr "127.0.0.1:$OURS_HTTPS" --admin-addr "127.0.0.1:$OURS_ADMIN"
    --default-ssl-certificate bench/bench-cert)
  if [ "$PASS" = off ]; then args+=("${OURS_OFF_ARGS[@]}"); env=("${OURS_OFF_ENV[@]}"); fi
  taskset -c "$PROXY_CPU" env "${env[@]}" "$OURS" "${args[@]}" >"$log" 2>"$WORK/ours-stderr.log" & pid=$!
  PIDS+=("$pid")
  wait_until "ingress-proxy /readyz" curl -sf "http://127.0.0.1:$OURS_ADMIN/readyz"
  if [ "$swap" = yes ]; then
    # An extra Ingress comes and goes every 10 ms: the directory watch re-reads and publishes
    # (coalesced by its 100 ms debounce). Pinned with the load; builtins only, bar sleep.
    # shellcheck disable=SC2016 # $1 and $2 are the inner script's arguments
    taskset -c "$LOAD_CPU" bash -c '
      while :; do
        printf "%s\n" "$1" > "$2"; sleep 0.01
        printf "# nothing here\n" > "$2"; sleep 0.01
      done' swap "$(ingress_manifest 99)" "$WORK/manifests/ingress-host99.yaml" & swapper=$!
    PIDS+=("$swapper")
  fi
  measure "$label" "$OURS_HTTP" "$OURS_HTTPS" "$pid" INT "$log"
  if [ -n "$swapper" ]; then
    kill "$swapper"; wait "$swapper" 2>/dev/null || true
    rm -f "$WORK/manifests/ingress-host99.yaml"
    # Every publish logs one line; the first is the initial read, not a swap.
    published="$(grep -c 'manifests published' "$log" || true)"
    SWAPS+=("$PASS|$(( ${published:-1} - 1 ))|$(( ${#SCHEME_ORDER[@]} * (WARMUP + DURATION) ))")
  fi
  rm -f "$log"
}
run_nginx() {
  local pid
  taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx-$PASS.conf" & pid=$!; PIDS+=("$pid")
  wait_until "nginx" port_open "$NGINX_HTTPS"
  measure nginx "$NGINX_HTTP" "$NGINX_HTTPS" "$pid" QUIT "$WORK/nginx-access.log"
  rm -f "$WORK/nginx-access.log"
}
run_haproxy() {
  local pid
  # Not -q: quiet mode also silences `log stdout`.
  taskset -c "$PROXY_CPU" haproxy -db -f "$WORK/haproxy-$PASS.cfg" \
    >"$WORK/haproxy-stdout.log" 2>>"$WORK/haproxy-stderr.log" & pid=$!
  PIDS+=("$pid")
  wait_until "haproxy" port_open "$HAPROXY_HTTPS"
  measure haproxy "$HAPROXY_HTTP" "$HAPROXY_HTTPS" "$pid" TERM "$WORK/haproxy-stdout.log"
  rm -f "$WORK/haproxy-stdout.log"
}
run_entry() {
  case "$1" in
    ours) run_ours ingress-proxy no ;;
    ours-swap) run_ours "ingress-proxy (swap 10 ms)" yes ;;
    nginx) run_nginx ;;
    haproxy) run_haproxy ;;
    *) echo "unknown proxy $1 (ours, ours-swap, nginx, haproxy)" >&2; exit 1 ;;
  esac
}

# --- run: rounds interleave proxies and passes, so background load hits them alike -----------
taskset -c "$LOAD_CPU" "$BIN/bench-backend" "$BACKEND_HOST:$BACKEND_PORT" & PIDS+=($!)
wait_until "bench-backend" port_open "$BACKEND_PORT"

read -r -a SCHEMES <<<"${SCHEMES:-http https}"
read -r -a PASSES <<<"${PASSES:-on off}"
read -r -a ENTRIES <<<"${PROXIES:-ours nginx haproxy}"
# The order of the proxies changes every round along a balanced (Williams) design: over the
# rounds each proxy runs in every slot and right after every other proxy equally often (n
# proxies: every n rounds for even n, every 2n for odd n), so neither position nor the neighbour
# it follows favours one of them. (A plain rotation keeps each proxy behind the same neighbour.)
# Schemes swap order every round, passes every second round.
williams_order() {  # round (1-based) -> indices into ENTRIES
  local n="${#ENTRIES[@]}" r="$(( $1 - 1 ))" base=() i lo=1 hi
  hi=$(( n - 1 ))
  base+=(0)
  for ((i = 1; i < n; i++)); do
    if ((i % 2 == 1)); then base+=("$lo"); lo=$((lo + 1)); else base+=("$hi"); hi=$((hi - 1)); fi
  done
  local shift=$(( r % n )) seq=()
  for i in "${base[@]}"; do seq+=($(( (i + shift) % n ))); done
  # Odd n needs the mirrored sequences too for every ordered pair to occur.
  if (( n % 2 == 1 && (r / n) % 2 == 1 )); then
    local mirrored=()
    for ((i = n - 1; i >= 0; i--)); do mirrored+=("${seq[$i]}"); done
    seq=("${mirrored[@]}")
  fi
  echo "${seq[@]}"
}
reversed() { local out=() i; for ((i = $# ; i >= 1; i--)); do out+=("${!i}"); done; echo "${out[@]}"; }
ROUND=0
for round in $(seq 1 "$ROUNDS"); do
  ROUND="$round"
  order=()
  for i in $(williams_order "$round"); do order+=("${ENTRIES[$i]}"); done
  SCHEME_ORDER=("${SCHEMES[@]}")
  if (( round % 2 == 0 )); then read -r -a SCHEME_ORDER <<<"$(reversed "${SCHEMES[@]}")"; fi
  PASS_ORDER=("${PASSES[@]}")
  if (( (round - 1) / 2 % 2 == 1 )); then read -r -a PASS_ORDER <<<"$(reversed "${PASSES[@]}")"; fi
  for PASS in "${PASS_ORDER[@]}"; do
    echo "round $round/$ROUNDS, access logs $PASS: ${order[*]}; ${SCHEME_ORDER[*]}" >&2
    for entry in "${order[@]}"; do run_entry "$entry"; done
  done
done

# --- report: medians over the rounds -----------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'; }
values_of() {  # name pass scheme field -> values of that field over the rounds
  local row n p s
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r n p s _ <<<"$row"
    if [ "$n" = "$1" ] && [ "$p" = "$2" ] && [ "$s" = "$3" ]; then cut -d'|' -f"$4" <<<"$row"; fi
  done
}
median_of() { values_of "$@" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
F_RPS=4; F_P50=5; F_P99=6; F_RSS=7; F_ERR=8; F_CPU=9; F_LOG=11

NAMES=()
for entry in "${ENTRIES[@]}"; do
  case "$entry" in
    ours) NAMES+=(ingress-proxy) ;; ours-swap) NAMES+=("ingress-proxy (swap 10 ms)") ;; *) NAMES+=("$entry") ;;
  esac
done
echo
echo "ingress-proxy: $OURS ($("$OURS" --version), profile $PROFILE), default configuration, --manifests; $OURS_LOG_NOTE"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(haproxy -v | head -1 | awk '{print "HAProxy " $3}')"
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s after a ${WARMUP}s warm-up, 50 host/path pairs, median of $ROUNDS rounds"
echo "(order balanced over the rounds); proxy pinned to CPU $PROXY_CPU (1 worker/thread), backend + wrk pinned to CPU $LOAD_CPU"
for pass in "${PASSES[@]}"; do
  echo
  if [ "$pass" = on ]; then
    echo "### Access logs on (nginx: upstreaminfo to a file, ${NGINX_LOG_PARAMS:-unbuffered}; HAProxy: httplog to stdout → file; ingress-proxy: its default, stdout → file)"
  else
    echo "### Access logs off"
  fi
  echo
  echo "| proxy | scheme | requests/s | p50 ms | p99 ms | peak RSS MiB | errors | CPU µs/request | log B/request | rps vs nginx | p99 vs nginx | CPU vs nginx | rps vs HAProxy | p99 vs HAProxy | CPU vs HAProxy |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in "${NAMES[@]}"; do
    for s in "${SCHEMES[@]}"; do
      [ -n "$(values_of "$name" "$pass" "$s" "$F_RPS")" ] || continue
      rps="$(median_of "$name" "$pass" "$s" "$F_RPS")"; p99="$(median_of "$name" "$pass" "$s" "$F_P99")"
      cpu="$(median_of "$name" "$pass" "$s" "$F_CPU")"
      rss="$(values_of "$name" "$pass" "$s" "$F_RSS" | sort -g | tail -1)"
      err="$(values_of "$name" "$pass" "$s" "$F_ERR" | awk '{ t += $1 } END { print t + 0 }')"
      row="| $name | $s | $rps | $(median_of "$name" "$pass" "$s" "$F_P50") | $p99 | $rss | $err | $cpu | $(median_of "$name" "$pass" "$s" "$F_LOG")"
      for other in nginx haproxy; do
        row+=" | $(ratio "$rps" "$(median_of "$other" "$pass" "$s" "$F_RPS")")"
        row+=" | $(ratio "$p99" "$(median_of "$other" "$pass" "$s" "$F_P99")")"
        row+=" | $(ratio "$cpu" "$(median_of "$other" "$pass" "$s" "$F_CPU")")"
      done
      echo "$row |"
    done
  done
  echo
  # Round by round (each round ran every proxy back to back): how often ingress-proxy's p99 was
  # at or below nginx's, and the spread of that ratio, so one table's ratio can be read against it.
  for s in "${SCHEMES[@]}"; do
    for row in "${RESULTS[@]}"; do
      IFS='|' read -r n p sc _ _ p99 _ _ _ round _ <<<"$row"
      if [ "$p" = "$pass" ] && [ "$sc" = "$s" ] && { [ "$n" = ingress-proxy ] || [ "$n" = nginx ]; }; then
        echo "$round $n $p99"
      fi
    done | awk -v s="$s" '
      $2 == "nginx" { nginx[$1] = $3; next } { ours[$1] = $3 }
      END {
        n = 0; at_or_below = 0; lo = ""; hi = ""
        for (r in ours) if ((r in nginx) && nginx[r] > 0) {
          ratio = ours[r] / nginx[r]; n++
          if (ratio <= 1) at_or_below++
          if (lo == "" || ratio < lo) lo = ratio
          if (hi == "" || ratio > hi) hi = ratio
        }
        if (n > 0) printf "p99 round by round (%s): ingress-proxy at or below nginx in %d of %d rounds; ratio %.2fx-%.2fx\n", s, at_or_below, n, lo, hi
      }'
  done
  for s in "${SCHEMES[@]}"; do
    plain="$(median_of ingress-proxy "$pass" "$s" "$F_CPU")"; swapped="$(median_of "ingress-proxy (swap 10 ms)" "$pass" "$s" "$F_CPU")"
    awk -v a="$swapped" -v b="$plain" -v s="$s" \
      'BEGIN { if (a > 0 && b > 0) printf "Swap cost (%s): %.1f%% more proxy CPU per request with a manifest rewritten every 10 ms\n", s, (a / b - 1) * 100 }'
  done
  for row in "${SWAPS[@]}"; do
    IFS='|' read -r p reloads seconds <<<"$row"
    if [ "$p" = "$pass" ]; then echo "$reloads $seconds"; fi
  done | awk '{ r += $1; t += $2 } END { if (t > 0) printf "Swap: %d tables re-read and published from the directory in %d s under load (%.1f/s)\n", r, t, r / t }'
done
echo
echo "The machine may be shared: requests/s and latency move with background load; CPU µs/request"
echo "(from /proc/PID/stat over the measured run) is the steadier efficiency figure."
