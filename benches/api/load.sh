#!/usr/bin/env bash
# Load test of synchronous runs: `wfplan serve` on a fresh database with the sample ICS,
# and wrk with 8 connections POSTing one scenario per request. Needs wrk (apt install wrk).
#
#   bash benches/api/load.sh [SECONDS] [DETAIL]
#
# DETAIL is the run's level of detail: `segment` (the default, every segment stored) or
# a coarser one such as `staff_group` or `total`. SERVE_ARGS adds flags to `wfplan serve`,
# for example SERVE_ARGS="--sync-runs 4 --group-commit-ms 0". CLIENTS sets the number of
# connections (8).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-20}"
detail="${2:-segment}"
source benches/api/server.sh
export WFPLAN_RUN_BODY="{\"scenario\": \"baseline\", \"detail\": \"$detail\"}"
curl -s -X POST -H 'Content-Type: application/json' -d "$WFPLAN_RUN_BODY" "$base/runs" > /dev/null  # warm up
wrk -t "$(( ${CLIENTS:-8} < 2 ? 1 : 2 ))" -c "${CLIENTS:-8}" -d "${seconds}s" --latency -s benches/api/post_run.lua "$base/runs"
