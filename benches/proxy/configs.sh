# shellcheck shell=bash
# Sourced by run.sh: writes the same routes for the three proxies.
#
# 10 hosts (host0.bench.local … host9.bench.local) × 5 Prefix paths (/p0 … /p4); path index N
# goes to Service bench/svc-pN (port 80, named http), whose one endpoint is the bench backend.
# Every proxy serves one certificate (*.bench.local) on HTTPS and proxies plain HTTP too (no
# redirect), and sends the same X-Forwarded-* / X-Real-IP headers upstream.
#
# Needs from run.sh: WORK, BACKEND_HOST, BACKEND_PORT, the *_HTTP/*_HTTPS ports, NGINX_LOG_PARAMS.

BENCH_HOSTS=10
BENCH_PATHS=5

# --- ingress-proxy: a manifest directory, as `kubectl get -o yaml` would give ------------------
# The certificate is a kubernetes.io/tls Secret named by --default-ssl-certificate (run.sh), not
# an Ingress `tls` entry: a tls entry turns on the HTTP→HTTPS redirect for its hosts (as
# ingress-nginx's ssl-redirect default does), and the plain-HTTP rows must measure proxying.
# That is also how ingress-nginx serves HTTPS for hosts without a tls entry.
write_manifests() {  # dir
  local dir="$1" h p
  mkdir -p "$dir"
  cat > "$dir/ingressclass.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: ingress-engine
spec:
  controller: ingress-engine.dev/controller
YAML
  {
    echo "apiVersion: v1"
    echo "kind: Secret"
    echo "type: kubernetes.io/tls"
    echo "metadata:"
    echo "  name: bench-cert"
    echo "  namespace: bench"
    echo "stringData:"
    echo "  tls.crt: |"
    sed 's/^/    /' "$WORK/cert/tls.crt"
    echo "  tls.key: |"
    sed 's/^/    /' "$WORK/cert/tls.key"
  } > "$dir/secret-bench-cert.yaml"
  for p in $(seq 0 $((BENCH_PATHS - 1))); do
    cat > "$dir/service-svc-p$p.yaml" <<YAML
apiVersion: v1
kind: Service
metadata:
  name: svc-p$p
  namespace: bench
spec:
  ports:
  - name: http
    port: 80
    targetPort: $BACKEND_PORT
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc-p$p-bench
  namespace: bench
  labels:
    kubernetes.io/service-name: svc-p$p
addressType: IPv4
ports:
- name: http
  port: $BACKEND_PORT
  protocol: TCP
endpoints:
- addresses: ["$BACKEND_HOST"]
  conditions:
    ready: true
YAML
  done
  for h in $(seq 0 $((BENCH_HOSTS - 1))); do
    ingress_manifest "$h" > "$dir/ingress-host$h.yaml"
  done
}

ingress_manifest() {  # host index
  local h="$1" p
  echo "apiVersion: networking.k8s.io/v1"
  echo "kind: Ingress"
  echo "metadata:"
  echo "  name: host$h"
  echo "  namespace: bench"
  echo "spec:"
  echo "  ingressClassName: ingress-engine"
  echo "  rules:"
  echo "  - host: host$h.bench.local"
  echo "    http:"
  echo "      paths:"
  for p in $(seq 0 $((BENCH_PATHS - 1))); do
    echo "      - path: /p$p"
    echo "        pathType: Prefix"
    echo "        backend:"
    echo "          service:"
    echo "            name: svc-p$p"
    echo "            port:"
    echo "              number: 80"
  done
}

# --- nginx: what ingress-nginx would render for these routes, trimmed to what they use ---------
write_nginx_conf() {  # file, log (on|off)
  local file="$1" log="$2" h p
  {
    echo "worker_processes 1; daemon off; pid $WORK/nginx.pid; error_log $WORK/nginx.err warn;"
    echo "events { worker_connections 8192; }"
    echo "http {"
    echo "  client_body_temp_path $WORK; proxy_temp_path $WORK;"
    echo "  fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;"
    if [ "$log" = on ]; then
      # ingress-nginx's default log-format-upstream (internal/ingress/controller/config).
      echo "  log_format upstreaminfo '\$remote_addr - \$remote_user [\$time_local] \"\$request\" '"
      echo "    '\$status \$body_bytes_sent \"\$http_referer\" \"\$http_user_agent\" '"
      echo "    '\$request_length \$request_time [\$proxy_upstream_name] [\$proxy_alternative_upstream_name] \$upstream_addr '"
      echo "    '\$upstream_response_length \$upstream_response_time \$upstream_status \$req_id';"
      echo "  map \$request_id \$req_id { default \$request_id; }"
      echo "  access_log $WORK/nginx-access.log upstreaminfo $NGINX_LOG_PARAMS;"
    else
      echo "  access_log off;"
    fi
    for p in $(seq 0 $((BENCH_PATHS - 1))); do
      echo "  upstream svc-p$p { server $BACKEND_HOST:$BACKEND_PORT; keepalive 64; }"
    done
    echo "  server { listen 127.0.0.1:$NGINX_HTTP default_server; listen 127.0.0.1:$NGINX_HTTPS ssl default_server;"
    echo "    ssl_certificate $WORK/cert/tls.crt; ssl_certificate_key $WORK/cert/tls.key; return 404; }"
    for h in $(seq 0 $((BENCH_HOSTS - 1))); do
      echo "  server { listen 127.0.0.1:$NGINX_HTTP; listen 127.0.0.1:$NGINX_HTTPS ssl; server_name host$h.bench.local;"
      echo "    ssl_certificate $WORK/cert/tls.crt; ssl_certificate_key $WORK/cert/tls.key;"
      for p in $(seq 0 $((BENCH_PATHS - 1))); do
        echo "    location /p$p { set \$proxy_upstream_name bench-svc-p$p-80; set \$proxy_alternative_upstream_name \"\";"
        echo "      proxy_pass http://svc-p$p; proxy_http_version 1.1; proxy_set_header Connection \"\";"
        echo "      proxy_set_header Host \$host; proxy_set_header X-Real-IP \$remote_addr;"
        echo "      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme;"
        echo "      proxy_set_header X-Forwarded-Host \$host; proxy_set_header X-Forwarded-Port \$server_port; }"
      done
      echo "  }"
    done
    echo "}"
  } > "$file"
}

# --- HAProxy ----------------------------------------------------------------------------------
write_haproxy_cfg() {  # file, log (on|off)
  local file="$1" log="$2" h p
  {
    echo "global"
    echo "  nbthread 1"
    echo "  maxconn 8192"
    echo "  tune.ssl.default-dh-param 2048"
    # No syslog daemon needed: raw lines to standard output, which run.sh sends to a file.
    if [ "$log" = on ]; then echo "  log stdout format raw local0"; fi
    echo "defaults"
    echo "  mode http"
    if [ "$log" = on ]; then echo "  log global"; echo "  option httplog"; fi
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
    for h in $(seq 0 $((BENCH_HOSTS - 1))); do
      echo "  acl host$h req.hdr(host),field(1,:) -i host$h.bench.local"
    done
    for p in $(seq 0 $((BENCH_PATHS - 1))); do echo "  acl path$p path_beg /p$p"; done
    for h in $(seq 0 $((BENCH_HOSTS - 1))); do
      for p in $(seq 0 $((BENCH_PATHS - 1))); do echo "  use_backend svc-p$p if host$h path$p"; done
    done
    echo "  default_backend notfound"
    echo "backend notfound"
    echo "  http-request return status 404"
    for p in $(seq 0 $((BENCH_PATHS - 1))); do
      echo "backend svc-p$p"
      echo "  server s1 $BACKEND_HOST:$BACKEND_PORT"
    done
  } > "$file"
}

# --- wrk: cycle through the 50 host/path pairs -------------------------------------------------
write_wrk_script() {  # file
  cat > "$1" <<LUA
local counter = 0
request = function()
  counter = counter + 1
  local host = "host" .. (counter % $BENCH_HOSTS) .. ".bench.local"
  local path = "/p" .. (math.floor(counter / $BENCH_HOSTS) % $BENCH_PATHS) .. "/index.html"
  return wrk.format("GET", path, { ["Host"] = host })
end
LUA
}
