#!/usr/bin/env bash
# The Monte Carlo benchmarks of issue 13, written up in BENCHMARKS.md:
#
# - 1,000 and 10,000 draws of the sample ICS over 60 months, stored at the Monte Carlo
#   default detail (staff_group): the whole `wfplan run` process, and its peak memory;
# - the same 1,000 draws run one at a time (each draw a run of its own, a block of one
#   draw, stored the same way) against the wide run, where each rule statement is
#   interpreted once a month for a block of about 44 draws;
# - the NumPy peer of the same draws (benches/peers/numpy_model.py), which vectorises
#   across draws too, computing only and writing the same results as CSV.
#
#   benches/monte_carlo.sh [WORK_DIR]        (default /var/tmp/wfplan-mc-bench)
#
# Environment: REPEAT (3), CARGO_TARGET_DIR (default /var/tmp/wfplan-target). The scenario
# is benches/peers/fixtures/monte_carlo/baseline_mc.toml: the shipped baseline with three
# uncertain inputs (leaver rates per org, sickness, demand growth), the same file for
# wfplan and the peer.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wfplan-target}"
WORK="${1:-/var/tmp/wfplan-mc-bench}"
REPEAT="${REPEAT:-3}"
SCENARIO="$PWD/benches/peers/fixtures/monte_carlo/baseline_mc.toml"
DATA="$PWD/data/sample/workforce.csv"
mkdir -p "$WORK"

cargo build --release --bin wfplan
# A copy, so that a build running alongside cannot replace it mid-run.
cp "$CARGO_TARGET_DIR/release/wfplan" "$WORK/wfplan"
WFPLAN="$WORK/wfplan"
DB="$WORK/mc.duckdb"
rm -f "$DB" "$DB.wal"
# The database with its workforce table (the bundled sample), made once.
"$WFPLAN" run "$SCENARIO" --db "$DB" --draws 1 --detail total -q

# Wall seconds and peak memory (MB) of a command, best of $REPEAT.
measure() {
    local label="$1"
    shift
    local best="" memory=""
    for _ in $(seq "$REPEAT"); do
        /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >/dev/null 2>&1
        read -r seconds kb <"$WORK/time.txt"
        if [ -z "$best" ] || awk -v a="$seconds" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best="$seconds"
            memory=$((kb / 1024))
        fi
    done
    printf '%-58s %8s s %6s MB\n' "$label" "$best" "$memory"
}

measure "wfplan run, 1,000 draws, stored (staff_group)" \
    "$WFPLAN" run "$SCENARIO" --db "$DB" -q
measure "wfplan run, 1,000 draws one at a time, stored" \
    env WFPLAN_PART_SEGMENTS=1 "$WFPLAN" run "$SCENARIO" --db "$DB" -q
# The same draws as separate deterministic scenarios, one file a draw.
"$WFPLAN" run "$SCENARIO" --db "$DB" --draws-out "$WORK/draws.csv" -q
rm -rf "$WORK/separate"
python3 benches/monte_carlo_separate.py "$SCENARIO" "$DATA" "$WORK/draws.csv" "$WORK/separate"
measure "wfplan run, the same draws as 1,001 separate scenarios" \
    "$WFPLAN" run "$WORK/separate" --db "$DB" --detail staff_group -q
measure "wfplan run, 10,000 draws, stored (staff_group)" \
    "$WFPLAN" run "$SCENARIO" --db "$DB" --draws 10000 -q
measure "wfplan run, 1,000 draws, stored and written to CSV" \
    "$WFPLAN" run "$SCENARIO" --db "$DB" --out "$WORK/wfplan.csv" -q
measure "NumPy peer, 1,000 draws, computed only" \
    python3 benches/peers/numpy_model.py --data "$DATA" --scenario "$SCENARIO" \
    --group-by staff_group --no-out
measure "NumPy peer, 1,000 draws, written to CSV" \
    python3 benches/peers/numpy_model.py --data "$DATA" --scenario "$SCENARIO" \
    --group-by staff_group --out "$WORK/peer.csv"
