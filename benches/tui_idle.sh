#!/usr/bin/env bash
# The TUI's time to first frame and its idle CPU, in tmux on its own socket
# (`tmux -L benchidle`, 120×40). Run by hand, not by CI (it builds --release):
#
#   benches/tui_idle.sh              # LAUNCHES=5 IDLE_SECS=10
#
# First frame: from just before tmux spawns `confluence-tui --demo` until
# capture-pane (polled every 5 ms) shows the header's "1 Status" tab. That
# includes process start and the demo's in-process server start; no scrypt
# unlock is on the path since the demo's vault does not exist at first start.
# The tmux server is started beforehand, so its own start-up is not counted.
# Idle CPU: utime+stime of the process (/proc/PID/stat, all threads) over
# IDLE_SECS untouched seconds: on the --demo status screen (the demo has no
# credentials until a paste, so it lists nothing), then in an instance signed
# in with the demo's Basic credentials against `demo-server` (same 1,200
# spaces, 15 ms latency): its status screen, then its spaces screen once the
# listing finished.
set -euo pipefail

LAUNCHES=${LAUNCHES:-5}
IDLE_SECS=${IDLE_SECS:-10}
DEMO_SPACES=1200 # what `--demo` serves (src/tui/mod.rs)
DONE_MARK="· 1,200 " # the spaces title once the listing finished (not "loaded 1,200…")

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v tmux >/dev/null || { echo "missing tmux: sudo apt-get install -y tmux" >&2; exit 2; }
# BIN=path skips the build (checking the script itself with a debug binary).
if [ -z "${BIN:-}" ]; then
    cargo build --release
    BIN="$repo/target/release/confluence-tui"
fi

T=(tmux -L benchidle)
work=$(mktemp -d)
cleanup() {
    "${T[@]}" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
"${T[@]}" kill-server 2>/dev/null || true
# A parked session keeps the tmux server up between launches.
"${T[@]}" -f /dev/null new-session -d -s park -x 120 -y 40 "sleep 100000"

# Ambient settings must not point the demo elsewhere.
launch_cmd="cd $(printf %q "$work") && exec env -u CONFLUENCE_BASE_URL -u CONFLUENCE_USERNAME \
-u CONFLUENCE_API_TOKEN -u CONFLUENCE_PAT -u CONFLUENCE_DATA_DIR $(printf %q "$BIN") --demo"

now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
screen() { "${T[@]}" capture-pane -p -t app; }
wait_for() { # pattern timeout_s → 0 when the pane shows it
    local until=$(( $(now_ms) + $2 * 1000 ))
    while [ "$(now_ms)" -lt "$until" ]; do
        screen | grep -q -- "$1" && return 0
        sleep 0.005
    done
    return 1
}
cpu_ticks() { # pid → utime+stime in clock ticks (fields 14 and 15)
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

firsts=()
for i in $(seq "$LAUNCHES"); do
    t0=$(now_ms)
    "${T[@]}" new-session -d -s app -x 120 -y 40 "$launch_cmd"
    wait_for "1 Status" 30 || { screen >&2; echo "no first frame within 30 s" >&2; exit 1; }
    t1=$(now_ms)
    firsts+=($((t1 - t0)))
    echo "launch $i: first frame after $((t1 - t0)) ms" >&2
    if [ "$i" -lt "$LAUNCHES" ]; then
        "${T[@]}" kill-session -t app
        sleep 0.5
    fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

# The last --demo launch stays up: idle on its status screen. The demo has
# no credentials until a paste, so it never lists spaces by itself.
pid=$("${T[@]}" display -p -t app '#{pane_pid}')
hz=$(getconf CLK_TCK)
idle() { # → CPU ms of $pid over IDLE_SECS
    local a b
    a=$(cpu_ticks "$pid")
    sleep "$IDLE_SECS"
    b=$(cpu_ticks "$pid")
    echo $(( (b - a) * 1000 / hz ))
}
sleep 2 # let the start-up checks and the audit load finish
demo_status_ms=$(idle)
"${T[@]}" kill-session -t app

# Signed in (demo Basic credentials) against the same fake site run on its
# own (same data and 15 ms latency as --demo), so the spaces screen loads.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" demo-server --addr "127.0.0.1:$port" --spaces "$DEMO_SPACES" --pages-per-space 40 \
    --latency-ms 15 >"$work/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; cleanup' EXIT INT TERM
for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
mkdir -p "$work/data"
"${T[@]}" new-session -d -s app -x 120 -y 40 "cd $(printf %q "$work") && exec env \
CONFLUENCE_BASE_URL=http://127.0.0.1:$port/wiki CONFLUENCE_DEPLOYMENT=cloud \
CONFLUENCE_USERNAME=demo@example.com CONFLUENCE_API_TOKEN=demo-api-token \
CONFLUENCE_DATA_DIR=$(printf %q "$work/data") $(printf %q "$BIN")"
wait_for "1 Status" 30 || { screen >&2; exit 1; }
pid=$("${T[@]}" display -p -t app '#{pane_pid}')
sleep 3 # verification and the spaces listing it starts
status_ms=$(idle)
"${T[@]}" send-keys -t app 2
if wait_for "$DONE_MARK" 60; then loaded=yes; else loaded=no; fi
sleep 1
spaces_ms=$(idle)
screen >"$work/spaces.txt"
[ "$loaded" = yes ] || { echo "the spaces screen never showed $DEMO_SPACES; it showed:" >&2; cat "$work/spaces.txt" >&2; }

pct() { awk -v m="$1" -v s="$IDLE_SECS" 'BEGIN {printf "%.2f", m / s / 10}'; }
echo
echo "first frame (ms) over $LAUNCHES launches: ${firsts[*]}"
echo "first frame median: $(median "${firsts[@]}") ms"
echo "idle CPU, --demo status screen (not signed in): ${demo_status_ms} ms over ${IDLE_SECS} s ($(pct "$demo_status_ms") % of a core)"
echo "idle CPU, status screen signed in: ${status_ms} ms over ${IDLE_SECS} s ($(pct "$status_ms") % of a core)"
echo "idle CPU, spaces screen after listing $DEMO_SPACES (seen: $loaded): ${spaces_ms} ms over ${IDLE_SECS} s ($(pct "$spaces_ms") % of a core)"
echo "clock tick: $((1000 / hz)) ms (CPU figures are multiples of it)"
