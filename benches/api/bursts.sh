#!/usr/bin/env bash
# Bursts of synchronous runs against one server, as planners' use comes: BURSTS times,
# wrk with 8 connections for SECONDS, then PAUSE seconds with no requests. One line per
# burst (median, p99, runs/s). Needs wrk (apt install wrk).
#
#   bash benches/api/bursts.sh [BURSTS] [SECONDS] [PAUSE] [DETAIL]
set -euo pipefail
cd "$(dirname "$0")/../.."
bursts="${1:-10}"
seconds="${2:-1}"
pause="${3:-2.5}"
detail="${4:-segment}"
source benches/api/server.sh
export WFPLAN_RUN_BODY="{\"scenario\": \"baseline\", \"detail\": \"$detail\"}"
for _ in $(seq 1 "$bursts"); do
    wrk -t 2 -c 8 -d "${seconds}s" --latency -s benches/api/post_run.lua "$base/runs" | grep '^median'
    sleep "$pause"
done
