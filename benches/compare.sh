#!/usr/bin/env bash
# The benchmarks of issue 4 in one run: the national case (engine, native kernel and NumPy
# peer on the same generated data), sweep throughput, start-up and import, each with its
# peak memory, and the ratios. Results are written up in BENCHMARKS.md.
#
#   benches/compare.sh [WORK_DIR]        (default /var/tmp/wfplan-bench)
#
# Environment: SEGMENTS (50000), IMPORT_ROWS (1000000), REPEAT (3), CARGO_TARGET_DIR
# (default /var/tmp/wfplan-target). Everything is built with --release.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wfplan-target}"
WORK="${1:-/var/tmp/wfplan-bench}"
SEGMENTS="${SEGMENTS:-50000}"
IMPORT_ROWS="${IMPORT_ROWS:-1000000}"
REPEAT="${REPEAT:-3}"
mkdir -p "$WORK"

# `cargo build --release --bench` builds the bench binary in the release profile, which
# shares the compiled DuckDB with every other build.
cargo build --release --bin wfplan
NATIONAL_BIN=$(cargo build --release --bench national --message-format=json |
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "national" and m.get("executable"):
        print(m["executable"])')
# Copies, so that a build running alongside cannot replace them mid-run.
cp "$CARGO_TARGET_DIR/release/wfplan" "$WORK/wfplan"
cp "$NATIONAL_BIN" "$WORK/national"
WFPLAN="$WORK/wfplan"
NATIONAL="$WORK/national"

# Peak resident memory (MB) of a command; its standard output goes to $WORK/out.txt.
peak() {
    /usr/bin/time -f "%M" -o "$WORK/rss.txt" "$@" >"$WORK/out.txt"
    echo $(($(tail -1 "$WORK/rss.txt") / 1024))
}
best() { awk '/ best / {print $3}' "$WORK/out.txt"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

"$WFPLAN" generate --segments "$SEGMENTS" --seed 1 --out "$WORK/national-data" >/dev/null
ARGS=(--data "$WORK/national-data" --scenario benches/scenarios/national.toml)
echo
echo "== national: $SEGMENTS segments x 120 months, every reference kind, results in memory"
"$NATIONAL" "${ARGS[@]}" --impl check

# The engine runs its rules on the rule compiler (the default) or, with
# WFPLAN_RULES=interpreted, on the interpreter alone: the same figures either way.
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl engine --repeat "$REPEAT"); engine=$(best)
echo "engine (compiled rules), segment detail:     $engine s, peak $rss MB"
rss=$(peak env WFPLAN_RULES=interpreted "$NATIONAL" "${ARGS[@]}" --impl engine --repeat "$REPEAT"); engine_interp=$(best)
echo "engine (interpreted rules), segment detail:  $engine_interp s, peak $rss MB"
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl engine --repeat "$REPEAT" --threads 1); engine1=$(best)
echo "engine (compiled), one thread:               $engine1 s, peak $rss MB"
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl engine --repeat "$REPEAT" --detail total); engine_total=$(best)
echo "engine (compiled), total detail:             $engine_total s, peak $rss MB"
rss=$(peak env WFPLAN_RULES=interpreted "$NATIONAL" "${ARGS[@]}" --impl engine --repeat "$REPEAT" --detail total); engine_total_interp=$(best)
echo "engine (interpreted), total detail:          $engine_total_interp s, peak $rss MB"
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl engine --repeat "$REPEAT" --detail staff_group); engine_coarse=$(best)
echo "engine (compiled), staff_group detail:       $engine_coarse s, peak $rss MB"
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl native --repeat "$REPEAT"); native=$(best)
echo "native kernel, segment detail:               $native s, peak $rss MB"
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl native --repeat "$REPEAT" --detail total); native_total=$(best)
echo "native kernel, total detail:                 $native_total s, peak $rss MB"
rss=$(peak "$NATIONAL" "${ARGS[@]}" --impl native --repeat "$REPEAT" --threads 1); native1=$(best)
echo "native kernel, one thread:                   $native1 s, peak $rss MB"
/usr/bin/time -f "%M" -o "$WORK/rss.txt" python3 benches/peers/numpy_model.py "${ARGS[@]}" \
    --no-out --timing --repeat "$REPEAT" 2>"$WORK/numpy.txt" >/dev/null || { cat "$WORK/numpy.txt"; exit 1; }
numpy=$(sed -n 's/^engine: \([0-9.]*\) s.*/\1/p' "$WORK/numpy.txt")
echo "NumPy peer (compute alone):                  $numpy s, peak $(($(tail -1 "$WORK/rss.txt") / 1024)) MB"
# The whole `wfplan run` process at total detail: reading the data, checking, running and
# storing in a new DuckDB file.
rm -f "$WORK/national.duckdb" "$WORK/national.duckdb.wal"
/usr/bin/time -f "%e %M" -o "$WORK/rss.txt" "$WFPLAN" run --db "$WORK/national.duckdb" --rules rules \
    --data "$WORK/national-data" --detail total --quiet benches/scenarios/national.toml
read -r whole kb <"$WORK/rss.txt"
echo "wfplan run, whole process, total detail:     $whole s, peak $((kb / 1024)) MB"
segment_months=$((SEGMENTS * 120))
echo "segment-months/s: engine $(awk -v s=$segment_months -v t=$engine 'BEGIN{printf "%.3g", s/t}')," \
    "native $(awk -v s=$segment_months -v t=$native 'BEGIN{printf "%.3g", s/t}')," \
    "NumPy $(awk -v s=$segment_months -v t=$numpy 'BEGIN{printf "%.3g", s/t}')"
echo "ratios: engine vs NumPy $(ratio "$numpy" "$engine")x faster (segment detail)," \
    "$(ratio "$numpy" "$engine_total")x (total detail);" \
    "whole wfplan run vs NumPy compute $(ratio "$numpy" "$whole")x;" \
    "compiled vs interpreted $(ratio "$engine_interp" "$engine")x (segment), $(ratio "$engine_total_interp" "$engine_total")x (total)"
echo "engine / native time: $(ratio "$engine" "$native") (segment detail), $(ratio "$engine_total" "$native_total") (total detail);" \
    "one thread $(ratio "$engine1" "$native1")"

echo
echo "== one scenario of the sample ICS, 183 segments x 60 months (best of 50, engine time)"
for name in baseline faculty_plan; do
    peak "$NATIONAL" --data data/sample/workforce.csv --scenario "scenarios/$name.toml" \
        --impl engine --repeat 50 --threads 1 >/dev/null; compiled=$(best)
    peak env WFPLAN_RULES=interpreted "$NATIONAL" --data data/sample/workforce.csv --scenario "scenarios/$name.toml" \
        --impl engine --repeat 50 --threads 1 >/dev/null; interpreted=$(best)
    echo "$name: compiled $compiled s, interpreted $interpreted s ($(ratio "$interpreted" "$compiled")x)"
done

echo
echo "== sweep: benches/scenarios/sweep.toml (1,000 scenarios of the sample ICS, 60 months)"
rss=$(peak "$NATIONAL" --data data/sample/workforce.csv --scenario benches/scenarios/sweep.toml \
    --impl batch --detail staff_group --repeat 1)
echo "engine (compiled), results in memory:  $(best) s, peak $rss MB"
rss=$(peak env WFPLAN_RULES=interpreted "$NATIONAL" --data data/sample/workforce.csv --scenario benches/scenarios/sweep.toml \
    --impl batch --detail staff_group --repeat 1)
echo "engine (interpreted), in memory:       $(best) s, peak $rss MB"
rm -f "$WORK/sweep.duckdb" "$WORK/sweep.duckdb.wal"
/usr/bin/time -f "%e %M" -o "$WORK/rss.txt" "$WFPLAN" run --db "$WORK/sweep.duckdb" --rules rules \
    --data data/sample/workforce.csv --detail staff_group --quiet benches/scenarios/sweep.toml
read -r seconds kb <"$WORK/rss.txt"
echo "wfplan run, stored in DuckDB:          $seconds s, peak $((kb / 1024)) MB"

echo
echo "== start-up"
peak "$NATIONAL" --impl compile --repeat 20 >/dev/null
echo "compile the rules (best of 20):        $(awk '/best/ {print $3}' "$WORK/out.txt") s"
"$WFPLAN" generate --segments "$IMPORT_ROWS" --seed 1 --out "$WORK/import-data" >/dev/null
rm -f "$WORK/import.duckdb" "$WORK/import.duckdb.wal"
/usr/bin/time -f "%e %M" -o "$WORK/rss.txt" "$WFPLAN" import --db "$WORK/import.duckdb" \
    "$WORK/import-data/workforce.csv" >/dev/null
read -r seconds kb <"$WORK/rss.txt"
echo "import $IMPORT_ROWS rows into DuckDB:     $seconds s, peak $((kb / 1024)) MB"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
