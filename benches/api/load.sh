#!/usr/bin/env bash
# Load test of synchronous runs: `wfplan serve` on a fresh database with the sample ICS,
# and wrk with 8 connections POSTing one scenario per request. Needs wrk (apt install wrk).
#
#   bash benches/api/load.sh [SECONDS] [DETAIL]
#
# DETAIL is the run's level of detail: `segment` (the default, every segment stored) or
# a coarser one such as `staff_group` or `total`. SERVE_ARGS adds flags to `wfplan serve`,
# for example SERVE_ARGS="--sync-runs 4 --group-commit-ms 0".
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wfplan-target}"
seconds="${1:-20}"
detail="${2:-segment}"
cargo build --release --quiet
dir="$(mktemp -d)"
"$CARGO_TARGET_DIR/release/wfplan" serve --bind 127.0.0.1:0 --db "$dir/wfplan.duckdb" ${SERVE_ARGS:-} > "$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
    base="$(grep -o 'http://[0-9.:]*' "$dir/log" | head -n 1 || true)"
    [ -n "$base" ] && break
    sleep 0.1
done
export WFPLAN_RUN_BODY="{\"scenario\": \"baseline\", \"detail\": \"$detail\"}"
curl -s -X POST -H 'Content-Type: application/json' -d "$WFPLAN_RUN_BODY" "$base/runs" > /dev/null  # warm up
wrk -t 2 -c 8 -d "${seconds}s" --latency -s benches/api/post_run.lua "$base/runs"
