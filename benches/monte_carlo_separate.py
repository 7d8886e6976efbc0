#!/usr/bin/env python3
"""The draws of a Monte Carlo run as separate deterministic scenarios, one file a draw.

For the benchmark "the same 1,000 draws run one at a time as separate scenarios" (issue 13,
BENCHMARKS.md): reads the draws a run wrote (`wfplan run ... --draws-out draws.csv`) and
writes, for each draw, the scenario without its `[monte_carlo]` and `[[uncertain]]`
tables and with one override per segment that sets each uncertain input column to its
value after the draw's factors (clamped to the column's range, as docs/model.md says).
`wfplan run --detail staff_group DIR` then runs and stores them as separate runs, whose
figures equal the wide run's draws (the script that times them compares them too).

Only input-column entries with or without `per`, and without `where`, are supported:
those of benches/peers/fixtures/monte_carlo/baseline_mc.toml.

Usage:
    python3 benches/monte_carlo_separate.py SCENARIO.toml DATA.csv DRAWS.csv OUT_DIR
"""

import csv
import re
import sys
import tomllib
from pathlib import Path

# Columns whose range is [0, 1) (clamped to 1 - 1e-9 above), and those above -1.
SHARE_BELOW_ONE = {"leaver_rate", "sickness_rate", "annual_leave_rate", "study_leave_rate",
                   "other_leave_rate", "headroom_allowance"}


def clamp(column: str, value: float) -> float:
    if column in SHARE_BELOW_ONE:
        return min(max(value, 0.0), 1.0 - 1e-9)
    if column == "demand_growth":
        return min(max(value, -1.0 + 1e-9), 10.0)
    return max(value, 0.0)


def main() -> None:
    scenario_path, data_path, draws_path, out_dir = map(Path, sys.argv[1:5])
    text = scenario_path.read_text()
    scenario = tomllib.loads(text)
    entries = scenario.get("uncertain", [])
    # The scenario without its Monte Carlo tables: everything before the first of them.
    cut = re.search(r"^\[monte_carlo\]|^\[\[uncertain\]\]", text, re.M)
    body = text[: cut.start()] if cut else text
    body = re.sub(r'^name\s*=.*$', "", body, count=1, flags=re.M)
    segments = list(csv.DictReader(open(data_path)))
    draws: dict[int, dict[tuple[int, str], float]] = {}
    for row in csv.DictReader(open(draws_path)):
        draws.setdefault(int(row["draw"]), {})[(int(row["entry"]), row["per_value"])] = float(row["value"])
    out_dir.mkdir(parents=True, exist_ok=True)
    for draw, values in sorted(draws.items()):
        lines = [f'name = "draw-{draw:05d}"', body.strip(), ""]
        for segment in segments:
            settings = []
            for column in dict.fromkeys(e["what"] for e in entries):
                factor = 1.0
                for e, entry in enumerate(entries):
                    if entry["what"] == column:
                        per = segment[entry["per"]] if "per" in entry else ""
                        factor *= values[(e, per)]
                settings.append(f"{column} = {clamp(column, float(segment[column]) * factor)!r}")
            where = ", ".join(f'{k} = "{segment[k]}"' for k in ("org", "staff_group", "band"))
            lines += ["[[overrides]]", f"where = {{ {where} }}", f"set = {{ {', '.join(settings)} }}", ""]
        (out_dir / f"draw-{draw:05d}.toml").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
