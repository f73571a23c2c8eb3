#!/usr/bin/env bash
# Soak: the worker against the fake site with 2 % 5xx answers, rate limits,
# rotating session cookies and one forced expiry, for SOAK_REQUESTS (default
# 10,000) requests, in release mode. Prints a `SOAK …` summary line.
# Usage: scripts/soak.sh   (SOAK_REQUESTS=N SOAK_SEED=S to vary)
set -u
cd "$(dirname "$0")/.." || exit 2
exec cargo test --release --test soak -- --ignored --nocapture
