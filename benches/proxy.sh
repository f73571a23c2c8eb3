#!/usr/bin/env bash
# What the authenticating proxy (`confluence-tui proxy`) adds to a request,
# next to nginx as a reverse proxy. Run by hand, not by CI (it builds
# --release):
#
#   benches/proxy.sh         # REQUESTS=5000 ROUNDS=10 WARMUP=200 LARGE_MIB=200 LARGE_RUNS=3
#
# It starts the fake site (`demo-server`, Cloud flavor, no added latency) on
# a free port, copies the live session's Cookie header from its login page
# (with curl) and imports it into a throw-away data dir, starts
# `confluence-tui proxy --json` on it (cookie mode, its real use) and nginx
# in the foreground with a generated config (upstream keepalive, HTTP/1.1,
# no buffering), all on loopback. Then the load client (benches/proxy_load.rs)
# sends REQUESTS keep-alive GETs of a small JSON answer to each of:
#   direct        the site, with the session cookie
#   proxy         the proxy, with HTTP Basic and its token (it adds the cookie)
#   proxy_tls     the same proxy served over TLS (`--tls`, its made certificate)
#   nginx         nginx, with the session cookie
#   bare_hyper    benches/bare_proxy.rs with hyper's client: a proxy in this
#                 stack that does nothing but forward (it adds the cookie)
#   bare_reqwest  the same with reqwest, the real proxy's client
# interleaved in ROUNDS rounds, then CONCURRENT (32) clients at once against
# each (throughput and p99; the proxy keeps its default pace of 8 requests in
# flight to the site), and then downloads a LARGE_MIB attachment
# through each, LARGE_RUNS times. For the proxy and nginx's worker it reports
# CPU time per request (over their own targets' GETs) and peak RSS (VmHWM).
set -euo pipefail

REQUESTS=${REQUESTS:-5000}
CONCURRENT=${CONCURRENT:-32}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-200}
LARGE_MIB=${LARGE_MIB:-200}
LARGE_RUNS=${LARGE_RUNS:-3}
SMALL_PATH=${SMALL_PATH:-/wiki/rest/api/space?limit=1}
LARGE_PATH=/wiki/download/attachments/10000000/big.bin

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v nginx >/dev/null || { echo "missing nginx: apt-get install -y nginx" >&2; exit 2; }
command -v curl >/dev/null || { echo "missing curl: apt-get install -y curl" >&2; exit 2; }

# BIN=path, LOAD=path and BARE=path skip the builds (checking the script itself).
if [ -z "${BIN:-}" ]; then
    cargo build --release --locked
    BIN="$repo/target/release/confluence-tui"
fi
bench_exe() { # name: build the bench target, print its executable (bench profile = release)
    local exe
    exe=$(cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null |
        sed -n "s/.*\"executable\":\"\([^\"]*$1[^\"]*\)\".*/\1/p" | tail -1)
    [ -x "$exe" ] || { cargo bench --locked --bench "$1" --no-run >&2; exit 1; }
    echo "$exe"
}
[ -n "${LOAD:-}" ] || LOAD=$(bench_exe proxy_load)
[ -n "${BARE:-}" ] || BARE=$(bench_exe bare_proxy)
BIN=$(realpath "$BIN") LOAD=$(realpath "$LOAD") BARE=$(realpath "$BARE")

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for_line() { # file pattern
    for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    echo "timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

site_port=$(free_port)
site="http://127.0.0.1:$site_port"
"$BIN" demo-server --addr "127.0.0.1:$site_port" --spaces 60 \
    --attachment-bytes $((LARGE_MIB * 1024 * 1024)) >"$work/site.log" 2>&1 &
pids+=($!)
wait_for_line "$work/site.log" listening

# The live session's Cookie header, as the demo login page shows it for
# copying (its stand-in for the browser's developer tools).
cookie=$(curl -sS "$site/login" | sed -n 's:.*<pre id="demo-cookie">\(.*\)</pre>.*:\1:p' |
    sed 's/&quot;/"/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g')
[ -n "$cookie" ] || { echo "the demo login page showed no cookie" >&2; exit 1; }

# Only these settings: nothing from the caller's environment points elsewhere.
app_env=(env -i PATH="$PATH" HOME="$work" CONFLUENCE_DATA_DIR="$work/data"
    CONFLUENCE_BASE_URL="$site/wiki" CONFLUENCE_DEPLOYMENT=cloud
    CONFLUENCE_KDF_LOG_N=10 CONFLUENCE_KEEPALIVE_SECS=0)
mkdir -p "$work/data" "$work/cwd"
(cd "$work/cwd" && printf '%s' "$cookie" | "${app_env[@]}" "$BIN" cookies import --no-verify - >/dev/null)

(cd "$work/cwd" && exec "${app_env[@]}" "$BIN" proxy --json >"$work/proxy.out" 2>"$work/proxy.err") &
proxy_pid=$!
pids+=($proxy_pid)
wait_for_line "$work/proxy.out" token
proxy_base=$(sed -n '1s/.*"base_url":"\([^"]*\)".*/\1/p' "$work/proxy.out")
proxy_token=$(sed -n '1s/.*"token":"\([^"]*\)".*/\1/p' "$work/proxy.out")
proxy_origin=${proxy_base%/wiki}

# The same proxy over TLS (loopback, its own port): what TLS adds.
tls_port=$(free_port)
(cd "$work/cwd" && exec "${app_env[@]}" "$BIN" proxy --json --tls --listen "127.0.0.1:$tls_port" \
    >"$work/proxy_tls.out" 2>"$work/proxy_tls.err") &
proxy_tls_pid=$!
pids+=($proxy_tls_pid)
wait_for_line "$work/proxy_tls.out" token
proxy_tls_token=$(sed -n '1s/.*"token":"\([^"]*\)".*/\1/p' "$work/proxy_tls.out")
(cd "$work/cwd" && "${app_env[@]}" "$BIN" proxy cert >"$work/proxy_tls.pem" 2>/dev/null)

ng_port=$(free_port)
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    upstream site {
        server 127.0.0.1:$site_port;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$ng_port;
        location / {
            proxy_pass http://site;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>>"$work/nginx/error.log" &
nginx_pid=$!
pids+=($nginx_pid)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$ng_port/" && break; sleep 0.1; done
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)

bare_hyper_port=$(free_port)
bare_reqwest_port=$(free_port)
"$BARE" hyper "127.0.0.1:$bare_hyper_port" "$site" Cookie "$cookie" >"$work/bare_hyper.log" 2>&1 &
pids+=($!)
"$BARE" reqwest "127.0.0.1:$bare_reqwest_port" "$site" Cookie "$cookie" >"$work/bare_reqwest.log" 2>&1 &
pids+=($!)
wait_for_line "$work/bare_hyper.log" listening
wait_for_line "$work/bare_reqwest.log" listening

basic=$(printf 'confluence-tui:%s' "$proxy_token" | base64 -w0)
basic_tls=$(printf 'confluence-tui:%s' "$proxy_tls_token" | base64 -w0)
printf '%s\t%s\t%s\t%s\t%s\n' \
    direct "$site$SMALL_PATH" "$site$LARGE_PATH" Cookie "$cookie" \
    proxy "$proxy_origin$SMALL_PATH" "$proxy_origin$LARGE_PATH" Authorization "Basic $basic" \
    proxy_tls "https://localhost:$tls_port$SMALL_PATH" "https://localhost:$tls_port$LARGE_PATH" Authorization "Basic $basic_tls" \
    nginx "http://127.0.0.1:$ng_port$SMALL_PATH" "http://127.0.0.1:$ng_port$LARGE_PATH" Cookie "$cookie" \
    bare_hyper "http://127.0.0.1:$bare_hyper_port$SMALL_PATH" "http://127.0.0.1:$bare_hyper_port$LARGE_PATH" X-Bench 1 \
    bare_reqwest "http://127.0.0.1:$bare_reqwest_port$SMALL_PATH" "http://127.0.0.1:$bare_reqwest_port$LARGE_PATH" X-Bench 1 \
    >"$work/targets"

echo "site $site, proxy $proxy_base (pid $proxy_pid), nginx 127.0.0.1:$ng_port ($(nginx -v 2>&1 | sed 's/.*: //'))"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$LOAD" --targets "$work/targets" --requests "$REQUESTS" --rounds "$ROUNDS" --warmup "$WARMUP" \
    --large-runs "$LARGE_RUNS" --large-bytes $((LARGE_MIB * 1024 * 1024)) \
    --watch "proxy=$proxy_pid" --watch "proxy_tls=$proxy_tls_pid" --watch "nginx=$nginx_worker" \
    --ca "$work/proxy_tls.pem" --concurrent "$CONCURRENT" --clk-tck "$(getconf CLK_TCK)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
