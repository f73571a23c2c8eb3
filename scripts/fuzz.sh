#!/usr/bin/env bash
# Runs every fuzz target (tests/fuzz_targets.rs) in release mode for a fixed
# time each and prints cases run, cases/sec and failures per target.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET=60]
# A failing input is shrunk and written to target/fuzz-failures/; keep it
# under tests/fixtures/fuzz/<target>/ once the bug is fixed.
set -u
SECONDS_PER_TARGET=${1:-60}
cd "$(dirname "$0")/.." || exit 2
TARGETS="cookie_parser cookie_scope vault_reader vault_document audit_reader response_classifier"

cargo test --release --test fuzz_targets --no-run || exit 2

failed=0
summary=""
for target in $TARGETS; do
    out=$(FUZZ_SECONDS=$SECONDS_PER_TARGET cargo test --release --test fuzz_targets \
        -- --ignored --exact "long_$target" --nocapture 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep '^FUZZ ' | tail -1)
    if [ "$rc" != 0 ]; then
        failed=$((failed + 1))
        printf '%s\n' "$out" | grep -A12 'panicked' | head -20
    fi
    echo "${line:-FUZZ target=$target (no summary; exit $rc)}"
    summary="$summary${line:-FUZZ target=$target exit=$rc}"$'\n'
done
echo "--- $SECONDS_PER_TARGET s per target on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)):"
printf '%s' "$summary"
[ "$failed" = 0 ]
