#!/usr/bin/env bash
# Kill test: `cookies import` is killed with SIGKILL at a random moment, N
# times; after each kill the stored cookies must be either the previous set
# or the new one (never a mix, never an unreadable vault) and the audit log
# must verify. Usage: scripts/kill_test.sh [N=200]
# BIN=path/to/confluence-tui skips the release build.
set -u
N=${1:-200}
cd "$(dirname "$0")/.." || exit 2

if [ -z "${BIN:-}" ]; then
    cargo build --release --bin confluence-tui || exit 2
    BIN=$PWD/target/release/confluence-tui
fi
BIN=$(realpath "$BIN")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 2   # no stray .env is read from here

# A clean environment: only the data dir and a cheap KDF.
run() {
    env -i PATH="$PATH" HOME="$work" CONFLUENCE_DATA_DIR="$work/data" \
        CONFLUENCE_KDF_LOG_N=10 "$BIN" "$@"
}

# Cookie set K: its own marker cookie name, so sets are told apart by names.
write_set() {
    printf 'cloud.session.token=kill-%s-session; atlassian.xsrf.token=xsrf-%s; set%s.marker=1\n' \
        "$1" "$1" "$1" >"$work/set$1.txt"
}
names_of_set() {
    printf 'atlassian.xsrf.token,cloud.session.token,set%s.marker' "$1"
}

write_set 0
run cookies import "$work/set0.txt" >/dev/null || { echo "initial import failed"; exit 2; }
current=0
replaced=0 kept=0 violations=0 torn=0

for i in $(seq 1 "$N"); do
    write_set "$i"
    # exec: $! must be the importer itself, not a subshell around it.
    (exec env -i PATH="$PATH" HOME="$work" CONFLUENCE_DATA_DIR="$work/data" \
        CONFLUENCE_KDF_LOG_N=10 "$BIN" cookies import "$work/set$i.txt" >/dev/null 2>&1) &
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % 31)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null

    status=$(run cookies status --json 2>&1)
    rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
        echo "iteration $i: cookies status exited $rc: $status"
        violations=$((violations + 1))
        continue
    fi
    names=$(printf '%s' "$status" | jq -r '.cookies.names // [] | sort | join(",")' 2>/dev/null)
    if [ "$names" = "$(names_of_set "$i")" ]; then
        replaced=$((replaced + 1))
        current=$i
    elif [ "$names" = "$(names_of_set "$current")" ]; then
        kept=$((kept + 1))
    else
        echo "iteration $i: stored names are neither set $current nor set $i: $names"
        violations=$((violations + 1))
    fi

    log=$work/data/logs/cookie_audit.log
    if [ -s "$log" ] && [ "$(tail -c 1 "$log" | od -An -tx1 | tr -d ' ')" != "0a" ]; then
        torn=$((torn + 1))
    fi
    verify=$(run audit --verify 2>&1)
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "iteration $i: audit --verify exited $rc: $verify"
        violations=$((violations + 1))
    fi
done

records=$(run audit --verify 2>&1 | head -1)
echo "KILL runs=$N new_set_stored=$replaced old_set_kept=$kept torn_audit_tails=$torn violations=$violations"
echo "KILL final: $records"
[ "$violations" = 0 ]
