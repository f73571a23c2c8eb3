#!/usr/bin/env bash
# Times `confluence-tui spaces --json` against a plain bash + curl loop that
# follows the same v2 cursor chain (40 pages of 250 spaces) on the built-in
# demo site, at 5 ms and 0 ms added latency. Run by hand, not by CI:
#
#   benches/spaces_vs_curl.sh            # ROUNDS=5 RUNS=3 SPACES=10000 by default
#
# Each round runs hyperfine once over both commands, so the two alternate
# round by round and a slow patch of the (shared) machine hits both.
set -euo pipefail

SPACES=${SPACES:-10000}
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-3}
LATENCIES=${LATENCIES:-"5 0"}
DEMO_EMAIL=demo@example.com   # public demo values from src/demo/session.rs
DEMO_TOKEN=demo-api-token

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "missing $1: install it with 'sudo apt-get install -y $2'" >&2
        exit 2
    }
}
need hyperfine hyperfine
need curl curl
need jq jq
[ -x /usr/bin/time ] || { echo "missing /usr/bin/time: sudo apt-get install -y time" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cargo build --release
BIN="$repo/target/release/confluence-tui"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

# The curl side: one curl and one jq per page, exactly the client's chain
# (first /wiki/api/v2/spaces?limit=250, then every _links.next joined to the
# origin). Prints "pages items" so a verification run can check it.
cat >"$work/curl_chain.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
origin=$1 auth=$2
next="/wiki/api/v2/spaces?limit=250"
pages=0 items=0
while [ -n "$next" ]; do
    line=$(curl -sS --fail -u "$auth" -H 'Accept: application/json' "$origin$next" |
        jq -r '"\(.results | length) \(._links.next // "")"')
    n=${line%% *} next=${line#* }
    pages=$((pages + 1)) items=$((items + n))
done
echo "$pages $items"
EOF
chmod +x "$work/curl_chain.sh"

stats() { # file with one time per line (s) → "median min max"
    sort -g "$1" | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f %.3f %.3f\n", m, a[1], a[NR]}'
}

summary=()
for latency in $LATENCIES; do
    port=$(free_port)
    "$BIN" demo-server --addr "127.0.0.1:$port" --spaces "$SPACES" --latency-ms "$latency" \
        >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
    grep -q listening "$work/server.log" || { cat "$work/server.log" >&2; exit 1; }

    mkdir -p "$work/data" "$work/cwd"
    export CONFLUENCE_BASE_URL="http://127.0.0.1:$port/wiki" CONFLUENCE_DEPLOYMENT=cloud \
        CONFLUENCE_USERNAME="$DEMO_EMAIL" CONFLUENCE_API_TOKEN="$DEMO_TOKEN" \
        CONFLUENCE_DATA_DIR="$work/data"
    # An empty working directory: no stray .env changes the settings.
    cd "$work/cwd"

    got=$("$BIN" spaces --json | jq length)
    [ "$got" = "$SPACES" ] || { echo "confluence-tui listed $got spaces, not $SPACES" >&2; exit 1; }
    read -r pages items < <("$work/curl_chain.sh" "http://127.0.0.1:$port" "$DEMO_EMAIL:$DEMO_TOKEN")
    [ "$items" = "$SPACES" ] || { echo "curl loop got $items spaces, not $SPACES" >&2; exit 1; }

    rust_cmd="$BIN spaces --json > /dev/null"
    curl_cmd="$work/curl_chain.sh http://127.0.0.1:$port $DEMO_EMAIL:$DEMO_TOKEN > /dev/null"
    : >"$work/rust.times"
    : >"$work/curl.times"
    for round in $(seq "$ROUNDS"); do
        echo "== latency ${latency} ms, round $round/$ROUNDS"
        hyperfine --warmup 1 --runs "$RUNS" --export-json "$work/round.json" \
            -n confluence-tui "$rust_cmd" -n curl-loop "$curl_cmd"
        jq -r '.results[0].times[]' "$work/round.json" >>"$work/rust.times"
        jq -r '.results[1].times[]' "$work/round.json" >>"$work/curl.times"
    done

    rss=$( { /usr/bin/time -v "$BIN" spaces --json >/dev/null; } 2>&1 |
        awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
    read -r rmed rmin rmax < <(stats "$work/rust.times")
    read -r cmed cmin cmax < <(stats "$work/curl.times")
    ratio=$(awk -v r="$rmed" -v c="$cmed" 'BEGIN {printf "%.2f", r / c}')
    summary+=("$(printf '| %5s ms | %-14s | %8s | %6s–%-6s | %6s | %8s KiB |' "$latency" confluence-tui "$rmed" "$rmin" "$rmax" "$ratio" "$rss")")
    summary+=("$(printf '| %5s ms | %-14s | %8s | %6s–%-6s | %6s | %12s |' "$latency" "curl loop" "$cmed" "$cmin" "$cmax" 1.00 "-")")
    echo "pages fetched by the curl loop: $pages"

    cd "$repo"
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    server_pid=""
done

echo
echo "$SPACES spaces, $((ROUNDS * RUNS)) timed runs per command and latency"
echo "| latency  | command        | median s | min–max s     | ratio  | peak RSS     |"
echo "|----------|----------------|----------|---------------|--------|--------------|"
printf '%s\n' "${summary[@]}"
