#!/usr/bin/env bash
# Side-by-side reverse-proxy benchmark on loopback: ingress-proxy vs nginx vs HAProxy.
#
# One backend (bench-backend, pinned to CPU 1) and one proxy at a time (pinned to CPU 0, one
# worker/thread each) with the same routes: 10 hosts x 5 Prefix paths, upstream keep-alive.
# wrk (pinned to CPU 1 with the backend) drives each for a fixed time at fixed concurrency,
# cycling through the 50 host/path pairs, over plain HTTP and HTTPS (keep-alive, TLS 1.3).
# A last pair of runs swaps ingress-proxy's route table every 10 ms.
#
# Needs: Debian packages nginx-light (or nginx), haproxy, wrk; util-linux (taskset).
# Usage: benches/proxy/run.sh [duration_seconds=10] [connections=64] [rounds=4]
# Environment: PROXIES (default "ours nginx haproxy ours-swap"), SCHEMES (default "http https")
# narrow a run to some of the proxies or schemes; ratios need nginx in PROXIES.
# Prints a markdown table. Not a test: numbers depend on the machine.
set -euo pipefail

DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
ROUNDS="${3:-4}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/proxy-bench.XXXXXX)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in nginx haproxy wrk taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y nginx-light haproxy wrk)" >&2; exit 1; }
done
NCPU="$(nproc)"
if [ "$NCPU" -ge 2 ]; then PROXY_CPU=0; LOAD_CPU=1; else PROXY_CPU=0; LOAD_CPU=0; fi

BACKEND=127.0.0.1:19000
OURS_HTTP=19080; OURS_HTTPS=19443
NGINX_HTTP=19180; NGINX_HTTPS=19543
HAPROXY_HTTP=19280; HAPROXY_HTTPS=19643

echo "building the harness with the dist profile (what ships: release + LTO)..." >&2
(cd "$ROOT" && cargo build --profile dist -q -p ingress-benches --bin bench-backend --bin bench-proxy)
BIN="$ROOT/target/dist"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then BIN="$CARGO_TARGET_DIR/dist"; fi

"$BIN/bench-proxy" --write-cert "$WORK/cert"
cat "$WORK/cert/tls.crt" "$WORK/cert/tls.key" > "$WORK/cert/combined.pem"

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $1 did not open" >&2; return 1
}

# --- routes for nginx and HAProxy, equivalent to bench-proxy's table -------------------------
{
  echo "worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err warn;"
  echo "events { worker_connections 8192; }"
  echo "http {"
  echo "  access_log off; client_body_temp_path $WORK; proxy_temp_path $WORK;"
  echo "  fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;"
  for p in 0 1 2 3 4; do echo "  upstream svc-p$p { server $BACKEND; keepalive 64; }"; done
  echo "  server { listen 127.0.0.1:$NGINX_HTTP default_server; listen 127.0.0.1:$NGINX_HTTPS ssl default_server;"
  echo "    ssl_certificate $WORK/cert/tls.crt; ssl_certificate_key $WORK/cert/tls.key; return 404; }"
  for h in $(seq 0 9); do
    echo "  server { listen 127.0.0.1:$NGINX_HTTP; listen 127.0.0.1:$NGINX_HTTPS ssl; server_name host$h.bench.local;"
    echo "    ssl_certificate $WORK/cert/tls.crt; ssl_certificate_key $WORK/cert/tls.key;"
    for p in 0 1 2 3 4; do
      echo "    location /p$p { proxy_pass http://svc-p$p; proxy_http_version 1.1; proxy_set_header Connection \"\";"
      echo "      proxy_set_header Host \$host; proxy_set_header X-Real-IP \$remote_addr;"
      echo "      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme;"
      echo "      proxy_set_header X-Forwarded-Host \$host; proxy_set_header X-Forwarded-Port \$server_port; }"
    done
    echo "  }"
  done
  echo "}"
} > "$WORK/nginx.conf"

{
  echo "global"
  echo "  nbthread 1"
  echo "  maxconn 8192"
  echo "  tune.ssl.default-dh-param 2048"
  echo "defaults"
  echo "  mode http"
  echo "  timeout connect 5s"
  echo "  timeout client 60s"
  echo "  timeout server 60s"
  echo "  http-reuse always"
  echo "frontend main"
  echo "  bind 127.0.0.1:$HAPROXY_HTTP"
  echo "  bind 127.0.0.1:$HAPROXY_HTTPS ssl crt $WORK/cert/combined.pem"
  echo "  option forwardfor"
  echo "  http-request set-header X-Real-IP %[src]"
  echo "  http-request set-header X-Forwarded-Proto https if { ssl_fc }"
  echo "  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }"
  echo "  http-request set-header X-Forwarded-Host %[req.hdr(host)]"
  echo "  http-request set-header X-Forwarded-Port %[dst_port]"
  for h in $(seq 0 9); do
    echo "  acl host$h req.hdr(host),field(1,:) -i host$h.bench.local"
  done
  for p in 0 1 2 3 4; do echo "  acl path$p path_beg /p$p"; done
  for h in $(seq 0 9); do
    for p in 0 1 2 3 4; do echo "  use_backend svc-p$p if host$h path$p"; done
  done
  echo "  default_backend notfound"
  echo "backend notfound"
  echo "  http-request return status 404"
  for p in 0 1 2 3 4; do
    echo "backend svc-p$p"
    echo "  server s1 $BACKEND"
  done
} > "$WORK/haproxy.cfg"

cat > "$WORK/requests.lua" <<'LUA'
local counter = 0
request = function()
  counter = counter + 1
  local host = "host" .. (counter % 10) .. ".bench.local"
  local path = "/p" .. (math.floor(counter / 10) % 5) .. "/index.html"
  return wrk.format("GET", path, { ["Host"] = host })
end
LUA

# --- helpers ----------------------------------------------------------------------------------
RESULTS=()
peak_rss_mib() {  # sum of VmHWM over a pid and its children
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    local kib
    kib="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
    total=$((total + ${kib:-0}))
  done
  awk -v k="$total" 'BEGIN { printf "%.1f", k / 1024 }'
}
cpu_ticks() {  # user+system clock ticks of a pid and its children
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
drive() {  # name scheme port pid
  local name="$1" scheme="$2" port="$3" pid="$4" out
  # Warm-up: connections, pools and TLS sessions.
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/requests.lua" "$scheme://127.0.0.1:$port" >/dev/null
  local before after
  before="$(cpu_ticks "$pid")"
  out="$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/requests.lua" "$scheme://127.0.0.1:$port")"
  after="$(cpu_ticks "$pid")"
  echo "$out" > "$WORK/wrk-$name-$scheme.txt"
  local rps p50 p99 errors non2xx
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
  errors="$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")"
  local requests cpu_us
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  cpu_us="$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
    'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print 0 }')"
  RESULTS+=("$name|$scheme|$rps|$p50|$p99|$(peak_rss_mib "$pid")|$(( ${non2xx:-0} + ${errors:-0} ))|$cpu_us|$ROUND")
}

# --- run: rounds interleave the proxies, so background load hits them alike ----------------
taskset -c "$LOAD_CPU" "$BIN/bench-backend" "$BACKEND" & PIDS+=($!)
wait_port 19000

read -r -a SCHEMES <<<"${SCHEMES:-http https}"
SCHEME_ORDER=("${SCHEMES[@]}")
drive_both() {  # label http_port https_port pid: both schemes, in this round's order
  local label="$1" pid="$4" s
  for s in "${SCHEME_ORDER[@]}"; do
    if [ "$s" = http ]; then drive "$label" http "$2" "$pid"; else drive "$label" https "$3" "$pid"; fi
  done
}
run_ours() {  # label, extra args
  local label="$1"; shift
  taskset -c "$PROXY_CPU" "$BIN/bench-proxy" --http "127.0.0.1:$OURS_HTTP" --https "127.0.0.1:$OURS_HTTPS" \
    --backend "$BACKEND" --cert-dir "$WORK/cert" --threads 1 "$@" & local pid=$!
  PIDS+=("$pid")
  wait_port "$OURS_HTTP"; wait_port "$OURS_HTTPS"
  drive_both "$label" "$OURS_HTTP" "$OURS_HTTPS" "$pid"
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true
}
run_nginx() {
  taskset -c "$PROXY_CPU" nginx -c "$WORK/nginx.conf" & local pid=$!; PIDS+=("$pid")
  wait_port "$NGINX_HTTP"; wait_port "$NGINX_HTTPS"
  drive_both nginx "$NGINX_HTTP" "$NGINX_HTTPS" "$pid"
  kill -QUIT "$pid"; wait "$pid" 2>/dev/null || true
}
run_haproxy() {
  taskset -c "$PROXY_CPU" haproxy -q -db -f "$WORK/haproxy.cfg" & local pid=$!; PIDS+=("$pid")
  wait_port "$HAPROXY_HTTP"; wait_port "$HAPROXY_HTTPS"
  drive_both haproxy "$HAPROXY_HTTP" "$HAPROXY_HTTPS" "$pid"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
run_entry() {
  case "$1" in
    ours) run_ours ingress-proxy ;;
    nginx) run_nginx ;;
    haproxy) run_haproxy ;;
    ours-swap) run_ours "ingress-proxy (swap 10 ms)" --swap-ms 10 ;;
  esac
}

# The order of the proxies changes every round along a balanced (Williams) design: over the
# rounds each proxy runs in every slot and right after every other proxy equally often (for 4
# proxies: in every 4 rounds), so neither position nor the neighbour it follows favours one of
# them. (A plain rotation would keep the neighbours fixed: each proxy would always follow the
# same one.) http/https alternate first.
read -r -a ENTRIES <<<"${PROXIES:-ours nginx haproxy ours-swap}"
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
ROUND=0
for round in $(seq 1 "$ROUNDS"); do
  ROUND="$round"
  order=()
  for i in $(williams_order "$round"); do order+=("${ENTRIES[$i]}"); done
  SCHEME_ORDER=("${SCHEMES[@]}")
  if [ $((round % 2)) -eq 0 ] && [ "${#SCHEMES[@]}" -eq 2 ]; then SCHEME_ORDER=("${SCHEMES[1]}" "${SCHEMES[0]}"); fi
  echo "round $round/$ROUNDS: ${order[*]} (nginx $(nginx -v 2>&1 | sed 's/.*\///')); ${SCHEME_ORDER[*]}" >&2
  for entry in "${order[@]}"; do run_entry "$entry"; done
done

# --- report: medians over the rounds ----------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else print v[int((NR + 1) / 2)] }'; }
column() {  # name scheme field -> values of that field over the rounds
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r n s rest <<<"$row"
    if [ "$n" = "$1" ] && [ "$s" = "$2" ]; then cut -d'|' -f"$3" <<<"$row"; fi
  done
}
stat() { column "$1" "$2" "$3" | median; }
total() { column "$1" "$2" "$3" | awk '{ t += $1 } END { print t + 0 }'; }

echo
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s, 50 host/path pairs, median of $ROUNDS rounds (order balanced over the rounds);"
echo "proxy pinned to CPU $PROXY_CPU (1 worker/thread), backend + wrk pinned to CPU $LOAD_CPU"
echo
echo "| proxy | scheme | requests/s | p50 ms | p99 ms | peak RSS MiB | errors | proxy CPU µs/request | rps vs nginx | p99 vs nginx | CPU/request vs nginx |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in ingress-proxy nginx haproxy "ingress-proxy (swap 10 ms)"; do
  for s in "${SCHEMES[@]}"; do
    [ -n "$(column "$name" "$s" 3)" ] || continue
    rps="$(stat "$name" "$s" 3)"; p50="$(stat "$name" "$s" 4)"; p99="$(stat "$name" "$s" 5)"
    rss="$(column "$name" "$s" 6 | sort -g | tail -1)"; err="$(total "$name" "$s" 7)"
    cpu="$(stat "$name" "$s" 8)"; ncpu="$(stat nginx "$s" 8)"
    nrps="$(stat nginx "$s" 3)"; np99="$(stat nginx "$s" 5)"
    ratio="$(awk -v a="$rps" -v b="$nrps" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
    pratio="$(awk -v a="$p99" -v b="$np99" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
    cratio="$(awk -v a="$cpu" -v b="$ncpu" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
    echo "| $name | $s | $rps | $p50 | $p99 | $rss | $err | $cpu | $ratio | $pratio | $cratio |"
  done
done
echo
# Round by round (each round ran every proxy back to back): how often ingress-proxy's p99 was
# at or below nginx's, and the spread of that ratio, so one table's ratio can be read against it.
for s in "${SCHEMES[@]}"; do
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r n sc _ _ p99 _ _ _ round <<<"$row"
    if [ "$sc" = "$s" ] && { [ "$n" = ingress-proxy ] || [ "$n" = nginx ]; }; then echo "$round $n $p99"; fi
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
  base="$(stat ingress-proxy "$s" 3)"; swapped="$(stat "ingress-proxy (swap 10 ms)" "$s" 3)"
  awk -v a="$swapped" -v b="$base" -v s="$s" \
    'BEGIN { if (a > 0 && b > 0) printf "Swap cost (%s): %.1f%% requests/s lost with a rebuilt table published every 10 ms\n", s, (1 - a / b) * 100 }'
  base="$(stat ingress-proxy "$s" 8)"; swapped="$(stat "ingress-proxy (swap 10 ms)" "$s" 8)"
  awk -v a="$swapped" -v b="$base" -v s="$s" \
    'BEGIN { if (a > 0 && b > 0) printf "Swap cost (%s): %.1f%% more proxy CPU per request\n", s, (a / b - 1) * 100 }'
done
echo
echo "The machine may be shared: requests/s and latency move with background load; CPU µs/request"
echo "(from /proc/PID/stat over the measured run) is the steadier efficiency figure."
