#!/usr/bin/env bash
# Calibration at scale: synthetic extracts of 100,000 staff over 5 years (about 128,000
# assignments, 870,000 absences, 4.7 million roster shifts, 295 MB of CSV), calibrated by
# the whole `wfplan calibrate` process, timed with peak memory, three times.
#
#   benches/calibrate.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wfplan-target}"
work="${1:-/var/tmp/wfplan-calibrate-bench}"
mkdir -p "$work"
cargo build --release --quiet
wfplan="$CARGO_TARGET_DIR/release/wfplan"
if [ ! -f "$work/extracts/roster.csv" ]; then
    "$wfplan" generate --extracts "$work/extracts" --staff 100000 --years 5 --seed 1
fi
wc -l "$work"/extracts/*.csv
for i in 1 2 3; do
    rm -f "$work/wfplan.duckdb" "$work/wfplan.duckdb.wal"
    /usr/bin/time -f "calibrate: %e s, peak %M KB" "$wfplan" calibrate --as-of 2025-04-01 \
        --staff "$work/extracts/staff.csv" --absence "$work/extracts/absence.csv" \
        --establishment "$work/extracts/establishment.csv" --roster "$work/extracts/roster.csv" \
        --orgs "$work/extracts/orgs.csv" --age-bands 35,55 \
        --db "$work/wfplan.duckdb" --out "$work/workforce.csv" > /dev/null
done
