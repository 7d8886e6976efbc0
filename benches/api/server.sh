# Sourced by the API load scripts: builds wfplan, starts `wfplan serve` on a fresh database
# with the sample ICS (extra flags from SERVE_ARGS), sets `base` to its address and stops
# it on exit.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wfplan-target}"
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
