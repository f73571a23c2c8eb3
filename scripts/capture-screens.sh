#!/usr/bin/env bash
# Text captures of every screen at 100×30, from the real binary against the
# built-in demo site (`--demo`, and `--demo --serve` for the Pipeline
# screen), driven in a private tmux server. Writes assets/screens/*.txt and
# puts each capture into README.md after its `<!-- screen:NAME -->` marker.
# Needs tmux, curl and python3.
# Usage: scripts/capture-screens.sh   (BIN=path/to/confluence-tui to skip the build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${BIN:-}" ]]; then
    cargo build --quiet --locked
    BIN=target/debug/confluence-tui
fi
BIN=$(realpath "$BIN")
OUT=assets/screens
SOCK="ctui-capture-$$"
tm() { tmux -L "$SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null || true' EXIT

screen() { tm capture-pane -p -t cap; }
# Waits (up to 30 s) until the screen shows $1.
wait_for() {
    for _ in $(seq 300); do
        if screen | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
    done
    echo "capture: no \"$1\" on the screen:" >&2
    screen >&2
    exit 1
}
save() { sleep 0.3; screen >"$OUT/$1.txt"; echo "captured $OUT/$1.txt"; }
start() {
    # No display: the paste dialog takes tmux's (bracketed) paste.
    tm new-session -d -s cap -x 100 -y 30 "env -u DISPLAY -u WAYLAND_DISPLAY '$BIN' $*; sleep 30"
    wait_for "Sign in to the demo"
    PORT=$(screen | grep -o '127\.0\.0\.1:[0-9]*' | head -1 | cut -d: -f2)
}
# The demo login page shows the demo session's cookie line.
sign_in() {
    local cookie
    cookie=$(curl -fsS "http://127.0.0.1:$PORT/login" |
        grep -o 'cloud\.session\.token=[^<"]*' | head -1 | sed 's/&amp;/\&/g')
    tm send-keys -t cap p
    wait_for "Paste cookies"
    tm set-buffer -b ck "$cookie"
    tm paste-buffer -p -b ck -t cap
    wait_for "cloud.session.token"
}

start --demo
save status-first-run
sign_in
save paste-dialog
tm send-keys -t cap Enter
wait_for "Signed in as Demo User"
save status-signed-in
tm send-keys -t cap 2
wait_for "Spaces · 1,200 "
save spaces
tm send-keys -t cap /
wait_for "Enter keeps"
tm send-keys -t cap -l eng
wait_for "match"
save spaces-filtered
tm send-keys -t cap Enter
wait_for "(/ edits"
tm send-keys -t cap Enter
wait_for "Runbook 001"
save pages
tm send-keys -t cap Escape
wait_for "(/ edits"
tm send-keys -t cap Escape
wait_for "Spaces · 1,200 "
tm send-keys -t cap 3
wait_for "intact"
save audit
tm send-keys -t cap '?'
wait_for "Keys"
save help
tm send-keys -t cap C-c
tm kill-server

start --demo --serve
sign_in
tm send-keys -t cap Enter
wait_for "Signed in as Demo User"
tm send-keys -t cap 4
wait_for "Pipeline · serving"
# A few requests through the proxy, with the token shown for a moment.
tm send-keys -t cap C-r
wait_for "Ctrl+R hides"
TOKEN=$(screen | grep -o 'CONFLUENCE_API_TOKEN=[^ │]*' | head -1 | cut -d= -f2)
PROXY=$(screen | grep -o 'CONFLUENCE_BASE_URL=[^ │]*' | head -1 | cut -d= -f2)
tm send-keys -t cap C-r
wait_for "Ctrl+R shows"
for path in rest/api/user/current api/v2/spaces rest/api/space/SP0001/content \
    api/v2/spaces/98001/pages; do
    curl -s -o /dev/null -u "confluence-tui:$TOKEN" "$PROXY/$path" || true
done
curl -s -o /dev/null -u "confluence-tui:$TOKEN" -X POST "$PROXY/rest/api/content" || true
curl -s -o /dev/null -u "confluence-tui:wrong" "$PROXY/rest/api/space" || true
wait_for "Requests · 6"
save pipeline
tm send-keys -t cap C-c

# Each capture into README.md, in the fenced block after its marker.
python3 - "$OUT" <<'EOF'
import pathlib, re, sys
out = pathlib.Path(sys.argv[1])
readme = pathlib.Path("README.md")
text = readme.read_text()
def put(m):
    name = m.group(1)
    shot = (out / f"{name}.txt").read_text().rstrip("\n")
    return f"<!-- screen:{name} -->\n```\n{shot}\n```\n"
text, n = re.subn(r"<!-- screen:([\w-]+) -->\n```\n.*?\n```\n", put, text, flags=re.S)
readme.write_text(text)
print(f"README.md: {n} captures")
EOF
