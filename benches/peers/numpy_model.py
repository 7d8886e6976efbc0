#!/usr/bin/env python3
"""NumPy peer of the wfplan reference model (docs/model.md, version 2).

This file is written the way a competent analyst would write the model in NumPy:
one array per input column over all segments, a Python loop over the months of the
run (the staff-in-post stock is a recurrence, so the months cannot be vectorised
away), and a small loop over the scenario's interventions inside each month. It is
both the "NumPy peer" benchmark and an independent check of the Rust engine's figures,
so it follows the spec literally; the readings of the spec's open points are listed
in README.md beside this file.

Version 2 adds the `headroom_allowance` input (demand and time released are net of the
allowance, supply net of the headroom that happens), `[seasonality]` of annual leave and
sickness, pipeline cohorts that started before the run, the `transfer` kind (with the
`transfers_in` and `transfers_out` output columns), and refuses `ramp_months` on pipeline
kinds and `where` values that no segment has.

Monte Carlo (spec section 7): a scenario with `[monte_carlo]` (or --draws/--seed) runs
draws 0..N at once. Each drawn input column is a draws x segments array (the others stay
one row and broadcast), a drawn intervention field likewise, and each month is one pass
of array operations over all draws; sums across segments (skill mix, transfers,
attribution) are taken within each draw (bincount with the codes offset by draw). Draw 0
is every entry at its mean; draw d >= 1 takes z from a counter-based generator of (seed,
d, entry, per value): SplitMix64 steps, FNV-1a of the per value, and Wichura's AS241
PPND16. The figures are summed into groups (--group-by, default staff_group) as they
are made. --self-check holds every draw to the same draw run alone with run(). The
readings of section 7 are in README.md. Attribution, goal seek and traces (sections 8 to
10) are not implemented here.

Usage:
    python3 benches/peers/numpy_model.py --data DIR_OR_CSV --scenario FILE.toml \
        [--out results.csv] [--timing] [--no-out] [--repeat N]
        [--draws N] [--seed S] [--group-by staff_group] [--draws-out FILE]
    python3 benches/peers/numpy_model.py --data DIR_OR_CSV --scenario FILE.toml \
        --check-draws WFPLAN_DRAWS.csv [--tolerance REL]
    python3 benches/peers/numpy_model.py --self-check [--data CSV --scenario FILE.toml]

Only the standard library and numpy are used.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

# The numeric input columns of spec section 2, in spec order. Every other column of the
# workforce table is a text key column.
NUMERIC_COLUMNS = [
    "fte",
    "establishment",
    "leaver_rate",
    "sickness_rate",
    "annual_leave_rate",
    "study_leave_rate",
    "other_leave_rate",
    "hours_per_week",
    "dcc_share",
    "annual_pay",
    "time_to_fill",
    "bank_share",
    "agency_share",
    "bank_premium",
    "agency_premium",
    "demand_growth",
]
# Optional numeric input columns: absent, or an empty cell, gives the spec's default.
OPTIONAL_COLUMNS = ["headroom_allowance"]
INPUT_COLUMNS = NUMERIC_COLUMNS + OPTIONAL_COLUMNS
# Keys the engine names in lower case whatever case the header uses.
REQUIRED_KEYS = ["org", "system", "staff_group", "band"]

# The figures of one month row, in the order of spec section 5 (after the keys).
RESULT_COLUMNS = [
    "fte",
    "required_fte",
    "vacancies",
    "leavers",
    "recruits",
    "newly_qualified",
    "apprentices_qualified",
    "returners",
    "international",
    "joiners",
    "sickness_fte",
    "available_hours",
    "clinical_hours",
    "demand_hours",
    "bank_hours",
    "agency_hours",
    "unmet_hours",
    "pay_cost",
    "bank_cost",
    "agency_cost",
    "intervention_cost",
    "trainees",
    "apprentices",
    "time_released_hours",
    "transfers_in",
    "transfers_out",
]

COMMON_FIELDS = {"kind", "name", "where", "start", "end", "ramp_months", "cost_per_month"}

# Kind-specific fields: name -> default (None = required). `to` of skill_mix is a filter.
KIND_FIELDS = {
    "retention": {"reduction": None},
    "wellbeing": {"sickness_reduction": None},
    "time_released": {"share": None},
    "bank_shift": {"share": None},
    "skill_mix": {"to": None, "share": None, "ratio": 1.0},
    "placements": {
        "places_per_year": None,
        "intake_month": 9,
        "course_months": 36,
        "completion": 0.85,
        "local_employment": 0.6,
        "cost_per_place_year": 0.0,
    },
    "apprenticeships": {
        "starts_per_year": None,
        "intake_month": 9,
        "course_months": 48,
        "completion": 0.75,
        "local_employment": 1.0,
        "salary_per_year": 0.0,
        "cost_per_place_year": 0.0,
    },
    "return_to_practice": {
        "returners_per_year": None,
        "course_months": 6,
        "success": 0.8,
        "cost_per_returner": 0.0,
    },
    "international": {
        "recruits_per_year": None,
        "course_months": 3,
        "arrival": 1.0,
        "cost_per_recruit": 0.0,
    },
    # `to` is a filter and `same` a list of key columns; both are read apart.
    "transfer": {"to": None, "rate": None, "same": ["org", "staff_group"]},
}
RATE_KINDS = ("retention", "wellbeing", "time_released", "bank_shift")
PIPELINE_KINDS = ("placements", "apprenticeships", "return_to_practice", "international")
INTEGER_FIELDS = {"intake_month", "course_months"}
NON_NUMBER_FIELDS = {"to", "same"}

SCENARIO_FIELDS = {
    "name", "description", "extends", "start", "months", "overrides", "interventions", "seasonality",
    "monte_carlo", "uncertain",
}
SEASONAL_LISTS = ("annual_leave", "sickness")
MONTE_CARLO_FIELDS = ("draws", "seed")
UNCERTAIN_FIELDS = {"what", "where", "per", "p10", "p90"}
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class ModelError(Exception):
    """A problem with the inputs, reported to the user as one clear line."""


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------


class Workforce:
    """The workforce table: key columns as lists of strings, numeric columns as arrays.
    `headroom_allowance` is NaN where the column is absent or the cell is empty."""

    def __init__(self, key_names, keys, numbers, source):
        self.key_names = key_names  # key columns in file order
        self.keys = keys  # name -> list[str]
        self.numbers = numbers  # name -> float64 array
        self.source = source
        self.size = len(numbers["fte"])
        self._values = {}  # key column -> set of its values, for where checks

    def key_column(self, name: str):
        """The key column called `name`, ignoring case (None if there is none)."""
        for key in self.key_names:
            if key.lower() == name.lower():
                return key
        return None

    def has_value(self, column: str, text: str) -> bool:
        if column not in self._values:
            self._values[column] = set(self.keys[column])
        return text in self._values[column]

    def segment(self, i: int) -> str:
        """A segment named by its row and key values, for error messages."""
        keys = ", ".join(f"{key}={self.keys[key][i]}" for key in self.key_names)
        return f"segment at row {i + 2} ({keys})" if keys else f"segment at row {i + 2}"


def canonical_name(raw: str) -> str:
    """A header name as the engine keeps it: trimmed, and in lower case when it names an
    input column or a required key in any case (`FTE` is `fte`); other keys as written."""
    name = raw.strip()
    lower = name.lower()
    return lower if lower in INPUT_COLUMNS or lower in REQUIRED_KEYS else name


def load_workforce(data: Path) -> Workforce:
    path = data / "workforce.csv" if data.is_dir() else data
    if not path.is_file():
        raise ModelError(f"no workforce table at {path} (expected a CSV file or a folder with workforce.csv)")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [canonical_name(name) for name in next(reader)]
        except StopIteration:
            raise ModelError(f"{path}: empty file") from None
        rows = [row for row in reader if row]
    lowered = [name.lower() for name in header]
    duplicates = sorted({name for name in header if lowered.count(name.lower()) > 1})
    if duplicates:
        raise ModelError(f"{path}: duplicate columns {duplicates} (names are compared ignoring case)")
    missing = [name for name in NUMERIC_COLUMNS if name not in header]
    if missing:
        raise ModelError(f"{path}: missing columns {missing}")
    if not rows:
        raise ModelError(f"{path}: no segments")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ModelError(f"{path}: row {line} has {len(row)} fields, header has {len(header)}")
    columns = list(zip(*rows))
    key_names = [name for name in header if name not in INPUT_COLUMNS]
    keys = {name: list(columns[header.index(name)]) for name in key_names}
    numbers = {}
    for name in INPUT_COLUMNS:
        if name not in header:  # an optional column left out: every cell empty
            numbers[name] = np.full(len(rows), np.nan)
            continue
        raw = columns[header.index(name)]
        optional = name in OPTIONAL_COLUMNS
        try:
            values = np.array(
                [math.nan if optional and not cell.strip() else float(cell) for cell in raw], dtype=np.float64
            )
        except ValueError:
            for line, cell in enumerate(raw, start=2):
                try:
                    float(cell)
                except ValueError:
                    raise ModelError(f"{path}: row {line}, column {name}: {cell!r} is not a number") from None
            raise
        given = np.array([bool(cell.strip()) for cell in raw]) if optional else np.ones(len(raw), dtype=bool)
        finite = np.isfinite(values) | ~given
        if not np.all(finite):
            line = int(np.argmin(finite)) + 2
            raise ModelError(f"{path}: row {line}, column {name}: not a finite number")
        numbers[name] = values
    seen = {}
    for line, segment in enumerate(zip(*(keys[name] for name in key_names)), start=2):
        if segment in seen:
            raise ModelError(f"{path}: rows {seen[segment]} and {line} have the same values in every key column")
        seen[segment] = line
    return Workforce(key_names, keys, numbers, path)


def parse_month(value, where: str) -> tuple[int, int]:
    if hasattr(value, "year") and hasattr(value, "month"):  # a TOML date written unquoted
        return value.year, value.month
    match = MONTH_RE.match(value) if isinstance(value, str) else None
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ModelError(f"{where}: {value!r} is not a month YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def load_scenario(path: Path, chain: tuple = ()) -> dict:
    """Read a scenario file and resolve `extends`: the parent's overrides and interventions
    come first, the child's are appended; the child's scalar fields replace the parent's.
    The scenario name is not inherited: it defaults to the file's own stem."""
    path = path.resolve()
    if path in chain:
        raise ModelError(f"{path}: extends cycle: {' -> '.join(p.name for p in chain + (path,))}")
    try:
        with open(path, "rb") as handle:
            table = tomllib.load(handle)
    except FileNotFoundError:
        raise ModelError(f"scenario file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ModelError(f"{path}: {error}") from None
    unknown = sorted(set(table) - SCENARIO_FIELDS)
    if unknown:
        raise ModelError(f"{path}: unknown scenario fields {unknown}")
    season = table.get("seasonality", {})
    if not isinstance(season, dict):
        raise ModelError(f"{path}: `seasonality` must be a table ([seasonality])")
    unknown = sorted(set(season) - set(SEASONAL_LISTS))
    if unknown:
        raise ModelError(f"{path}: unknown seasonality fields {unknown}; known are {list(SEASONAL_LISTS)}")
    for field, factors in season.items():
        context = f"{path}: seasonality.{field}"
        if not isinstance(factors, list) or len(factors) != 12:
            raise ModelError(f"{context} must be a list of 12 numbers (January to December), got {factors!r}")
        for month, factor in enumerate(factors, start=1):
            if number(factor, f"{context}[{month}]") < 0:
                raise ModelError(f"{context}[{month}] must be >= 0, got {factor!r}")
    monte_carlo = table.get("monte_carlo", {})
    if not isinstance(monte_carlo, dict):
        raise ModelError(f"{path}: `monte_carlo` must be a table ([monte_carlo])")
    unknown = sorted(set(monte_carlo) - set(MONTE_CARLO_FIELDS))
    if unknown:
        raise ModelError(f"{path}: unknown monte_carlo fields {unknown}; known are {list(MONTE_CARLO_FIELDS)}")
    for field in ("overrides", "interventions", "uncertain"):
        items = table.get(field, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ModelError(f"{path}: `{field}` must be an array of tables ([[{field}]])")
    own_items = {
        field: [(path, index, item) for index, item in enumerate(table.get(field, []), start=1)]
        for field in ("overrides", "interventions", "uncertain")
    }
    scenario = {
        "name": path.stem, "description": "", "start": None, "months": None, "seasonality": {}, "monte_carlo": {},
    }
    if "extends" in table:
        parent_name = table["extends"]
        if not isinstance(parent_name, str) or not parent_name:
            raise ModelError(f"{path}: `extends` must be the name of a scenario in the same folder")
        parent_file = parent_name if parent_name.endswith(".toml") else parent_name + ".toml"
        parent = load_scenario(path.parent / parent_file, chain + (path,))
        scenario["description"] = parent["description"]
        scenario["start"] = parent["start"]
        scenario["months"] = parent["months"]
        scenario["seasonality"] = dict(parent["seasonality"])  # a child's list replaces the parent's
        scenario["monte_carlo"] = dict(parent["monte_carlo"])  # a child's key replaces the parent's
        overrides = parent["overrides"] + own_items["overrides"]
        interventions = parent["interventions"] + own_items["interventions"]
        uncertain = parent["uncertain"] + own_items["uncertain"]
    else:
        overrides = own_items["overrides"]
        interventions = own_items["interventions"]
        uncertain = own_items["uncertain"]
    for field in ("name", "description", "start", "months"):
        if field in table:
            scenario[field] = table[field]
    scenario["seasonality"].update({field: [float(x) for x in factors] for field, factors in season.items()})
    scenario["monte_carlo"].update({field: (path, value) for field, value in monte_carlo.items()})
    scenario["overrides"] = overrides
    scenario["interventions"] = interventions
    scenario["uncertain"] = uncertain
    scenario["path"] = path
    return scenario


def check_scenario(scenario: dict) -> dict:
    """Validate the top-level scalars of a resolved scenario."""
    path = scenario["path"]
    if scenario["start"] is None:
        raise ModelError(f"{path}: `start` is required (here or in a scenario it extends)")
    scenario["start_ym"] = parse_month(scenario["start"], f"{path}: start")
    months = scenario["months"]
    if months is None:
        raise ModelError(f"{path}: `months` is required (here or in a scenario it extends)")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 600:
        raise ModelError(f"{path}: `months` must be a whole number from 1 to 600, got {months!r}")
    if not isinstance(scenario["name"], str):
        raise ModelError(f"{path}: `name` must be a string")
    # Entries are named `overrides.N` and `interventions.N`, N counted from 1 in the lists
    # after `extends` (the parent's entries first), as spec section 6 names fields.
    for field in ("overrides", "interventions", "uncertain"):
        scenario[field] = [(file, n, item) for n, (file, _, item) in enumerate(scenario[field], start=1)]
    season = scenario["seasonality"]
    scenario["season"] = {field: np.array(season.get(field, [1.0] * 12), dtype=np.float64) for field in SEASONAL_LISTS}
    return scenario


def where_mask(where, workforce: Workforce, path, field: str) -> np.ndarray:
    """Segments matching a `{ column = value }` / `{ column = [v1, v2] }` filter: every
    condition must hold. Column names are matched ignoring case; values are compared as
    text, exactly (band = 5 matches "5"). A value that no segment has in its column is an
    error naming the field (`interventions.3.where`) and the value."""
    context = f"{path}: {field}"
    if where is None:
        return np.ones(workforce.size, dtype=bool)
    if not isinstance(where, dict):
        raise ModelError(f"{context}: a where-filter must be a table like {{ column = value }}")
    mask = np.ones(workforce.size, dtype=bool)
    for column, wanted in where.items():
        if column.lower() in INPUT_COLUMNS:
            raise ModelError(f"{context}: where column `{column}` is numeric; filters use key columns {workforce.key_names}")
        key = workforce.key_column(column)
        if key is None:
            raise ModelError(f"{context}: unknown where column `{column}`; key columns are {workforce.key_names}")
        values = wanted if isinstance(wanted, list) else [wanted]
        texts = set()
        for value in values:
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ModelError(f"{context}.{column}: where value {value!r} must be a string or an integer")
            if not workforce.has_value(key, str(value)):
                raise ModelError(f"{context}.{column} = {value!r}: no segment has the value {str(value)!r} in column `{key}`")
            texts.add(str(value))
        mask &= np.fromiter((cell in texts for cell in workforce.keys[key]), dtype=bool, count=workforce.size)
    return mask


def number(value, context: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelError(f"{context}: expected a number, got {value!r}")
    return float(value)


def apply_overrides(scenario: dict, workforce: Workforce) -> dict:
    """Return the numeric input columns with the scenario's overrides applied in order,
    and `allowance`: `headroom_allowance` where given, else the segment's own headroom
    after overrides (before interventions and seasonality)."""
    columns = {name: values.copy() for name, values in workforce.numbers.items()}
    for path, index, override in scenario["overrides"]:
        field = f"overrides.{index}"
        context = f"{path}: {field}"
        unknown = sorted(set(override) - {"where", "set"})
        if unknown:
            raise ModelError(f"{context}: unknown fields {unknown}")
        mask = where_mask(override.get("where"), workforce, path, f"{field}.where")
        settings = override.get("set", {})
        if not isinstance(settings, dict):
            raise ModelError(f"{context}: `set` must be a table like {{ leaver_rate = 0.09 }}")
        for column, value in settings.items():
            if column.lower() not in INPUT_COLUMNS:
                raise ModelError(f"{context}: `set` can only change numeric input columns, not `{column}`")
            columns[column.lower()][mask] = number(value, f"{context}.{column}")
    headroom = (
        columns["annual_leave_rate"] + columns["study_leave_rate"] + columns["other_leave_rate"] + columns["sickness_rate"]
    )
    given = columns["headroom_allowance"]
    columns["allowance"] = np.where(np.isnan(given), headroom, given)
    return columns


def check_inputs(columns: dict, workforce: Workforce, season: dict) -> None:
    """The few input ranges without which the formulas give nonsense (division by zero,
    a negative base under a fractional power), after overrides. The headroom check uses
    the largest seasonal factor of each list (1 without seasonality)."""
    headroom = (
        columns["annual_leave_rate"] * season["annual_leave"].max()
        + columns["study_leave_rate"]
        + columns["other_leave_rate"]
        + columns["sickness_rate"] * season["sickness"].max()
    )
    seasonal = any(np.any(season[field] != 1) for field in SEASONAL_LISTS)
    allowance = columns["allowance"]
    checks = [
        ("hours_per_week", columns["hours_per_week"] > 0, "must be > 0"),
        ("demand_growth", columns["demand_growth"] > -1, "must be > -1"),
        ("leaver_rate", (columns["leaver_rate"] >= 0) & (columns["leaver_rate"] < 1), "must be in [0, 1)"),
        ("time_to_fill", columns["time_to_fill"] >= 0, "must be >= 0"),
        ("fte", columns["fte"] >= 0, "must be >= 0"),
        ("establishment", columns["establishment"] >= 0, "must be >= 0"),
        (
            "headroom",
            headroom < 1,
            "(annual leave * its largest seasonal factor + study + other leave + sickness * its largest "
            "seasonal factor) must be < 1"
            if seasonal
            else "(annual + study + other leave + sickness) must be < 1",
        ),
        ("headroom_allowance", (allowance >= 0) & (allowance < 1), "must be in [0, 1)"),
    ]
    for name, ok, rule in checks:
        if not np.all(ok):
            # In a Monte Carlo run a column may hold one row per draw (draws x segments).
            d, i = divmod(int(np.argmin(ok)), workforce.size)
            drawn = f"draw {d}: " if np.ndim(ok) == 2 else ""
            after = "after overrides and the draw's values" if drawn else "after overrides"
            raise ModelError(f"{workforce.source}: {drawn}{workforce.segment(i)}: {name} {rule} ({after})")


# ---------------------------------------------------------------------------------------
# Interventions
# ---------------------------------------------------------------------------------------


class Intervention:
    """One intervention, checked, with its month window relative to the scenario start."""

    def __init__(self, path, index, raw, scenario, workforce):
        field = f"interventions.{index}"
        context = f"{path}: {field}"
        kind = raw.get("kind")
        if kind not in KIND_FIELDS:
            raise ModelError(f"{context}: unknown kind {kind!r}; known kinds are {sorted(KIND_FIELDS)}")
        self.kind = kind
        self.name = raw.get("name", kind)
        context = f"{context} ({self.name})"
        unknown = sorted(set(raw) - COMMON_FIELDS - set(KIND_FIELDS[kind]))
        if unknown:
            raise ModelError(f"{context}: unknown fields {unknown} for kind {kind}")
        ys, ms = scenario["start_ym"]
        self.t0 = 0
        self.t1 = math.inf  # no end: never ends
        if "start" in raw:
            y, m = parse_month(raw["start"], f"{context}: start")
            self.t0 = (y - ys) * 12 + (m - ms)
        if "end" in raw:
            y, m = parse_month(raw["end"], f"{context}: end")
            self.t1 = (y - ys) * 12 + (m - ms)
        if kind in PIPELINE_KINDS and "ramp_months" in raw:
            raise ModelError(
                f"{context}.ramp_months: ramp_months does not apply to pipeline kinds ({kind}); remove it"
            )
        self.ramp_months = number(raw.get("ramp_months", 1), f"{context}: ramp_months")
        if self.ramp_months <= 0:
            raise ModelError(f"{context}: ramp_months must be > 0")
        self.cost_per_month = number(raw.get("cost_per_month", 0), f"{context}: cost_per_month")
        self.mask = where_mask(raw.get("where"), workforce, path, f"{field}.where")
        self.fields = {}
        for name, default in KIND_FIELDS[kind].items():
            if name in NON_NUMBER_FIELDS:
                continue
            if name not in raw and default is None:
                raise ModelError(f"{context}: field `{name}` is required for kind {kind}")
            value = number(raw.get(name, default), f"{context}: {name}")
            if name in INTEGER_FIELDS and (value != int(value) or value < 0):
                raise ModelError(f"{context}: {name} must be a whole number >= 0")
            self.fields[name] = value
        if "intake_month" in self.fields and not 1 <= self.fields["intake_month"] <= 12:
            raise ModelError(f"{context}: intake_month must be 1..12")
        if "to" in KIND_FIELDS[kind]:
            if "to" not in raw:
                raise ModelError(f"{context}: field `to` is required for kind {kind}")
            self.to_mask = where_mask(raw["to"], workforce, path, f"{field}.to")
        if kind == "transfer":
            if not 0 <= self.fields["rate"] <= 1:
                raise ModelError(f"{context}.rate: must be in [0, 1], got {raw['rate']!r}")
            same = raw.get("same", KIND_FIELDS[kind]["same"])
            if not isinstance(same, list) or not all(isinstance(name, str) for name in same):
                raise ModelError(f"{context}.same: must be a list of key column names, got {same!r}")
            self.same = []
            for name in same:
                key = workforce.key_column(name)
                if key is None:
                    raise ModelError(
                        f"{context}.same: {name!r} is not a key column; key columns are {workforce.key_names}"
                    )
                self.same.append(key)

    def ramp(self, t: int) -> float:
        if t < self.t0 or t > self.t1:
            return 0.0
        return min(1.0, (t - self.t0 + 1) / self.ramp_months)

    def active_months(self, months: int, first: int = 0) -> range:
        """Months from max(t0, first) to min(t1, months - 1): by default the active months
        of the run (for `cost_per_month`); pipelines pass a negative `first` to include
        cohorts that started before the run."""
        first = max(self.t0, first)
        last = months - 1 if self.t1 == math.inf else min(int(self.t1), months - 1)
        return range(first, last + 1)


def item_parts(item: Intervention, weights: np.ndarray):
    """(weights, fields, cost_per_month) of the parts of an intervention whose fields are
    numbers in each part: the whole intervention (fields None: its own), or, where a Monte
    Carlo draw gave fields a value per segment, one part per distinct set of values among
    its segments, with the weights of that part's segments (0 elsewhere)."""
    varying = [name for name, value in item.fields.items() if np.ndim(value)]
    if not varying and not np.ndim(item.cost_per_month):
        return [(weights, None, item.cost_per_month)]
    segments = np.flatnonzero(item.mask)
    cost = np.broadcast_to(item.cost_per_month, item.mask.shape)
    parts = {}
    for i in segments.tolist():
        values = tuple(float(item.fields[name][i]) for name in varying) + (float(cost[i]),)
        parts.setdefault(values, []).append(i)
    result = []
    for values, members in parts.items():
        fields = dict(item.fields)
        fields.update(zip(varying, values[:-1]))
        part = np.zeros(item.mask.shape)
        part[members] = 1.0
        result.append((weights * part, fields, values[-1]))
    return result


def attribution_weights(mask: np.ndarray, fte_at_start: np.ndarray) -> np.ndarray:
    """Share of each matched segment: its fte at start over theirs; equal where all are 0."""
    weights = np.where(mask, fte_at_start, 0.0)
    total = weights.sum()
    matched = mask.sum()
    if matched == 0:
        return weights  # matches nothing: no effect
    if total > 0:
        return weights / total
    return mask / matched


def cohort_starts(item: Intervention, months: int, start_month: int) -> np.ndarray:
    """The start months of a pipeline's cohorts (see pipeline_series)."""
    f = item.fields
    course = int(f["course_months"])
    starts = np.array(item.active_months(months, first=-course), dtype=np.int64)  # cohort start months
    if item.kind in ("placements", "apprenticeships"):
        calendar_month = (start_month - 1 + starts) % 12 + 1  # Python's % is >= 0 for negative s
        starts = starts[calendar_month == f["intake_month"]]
    return starts


def pipeline_series(item: Intervention, months: int, start_month: int, fields=None):
    """Monthly totals of one pipeline intervention before attribution:
    (landed joiners, people in training, cost), over the months of the run.

    Cohorts start in every qualifying month s from t0 to min(t1, months - 1); s may be
    negative (a programme already running at the start). A cohort with s + course_months
    < 0 has landed before the run (it is in `fte`) and was never in training during it,
    so cohorts start no earlier than -course_months here. Costs are charged only for
    months 0 .. months - 1. `fields` replaces the item's (numbers) where given: a Monte
    Carlo draw's values for some of its segments."""
    f = item.fields if fields is None else fields
    course = int(f["course_months"])
    starts = cohort_starts(item, months, start_month)
    if item.kind in ("placements", "apprenticeships"):
        size = f["places_per_year"] if item.kind == "placements" else f["starts_per_year"]
        per_starter = f["completion"] * f["local_employment"]
    elif item.kind == "return_to_practice":
        size = f["returners_per_year"] / 12
        per_starter = f["success"]
    else:  # international
        size = f["recruits_per_year"] / 12
        per_starter = f["arrival"]
    landed = np.zeros(months)
    lands = starts + course
    lands = lands[(lands >= 0) & (lands < months)]  # later landings are dropped
    landed[lands] = size * per_starter  # at most one cohort starts a month: no collisions
    starters_in_run = np.zeros(months)
    starters_in_run[starts[starts >= 0]] = size
    in_training = np.zeros(months)
    if item.kind in ("placements", "apprenticeships"):
        # A cohort is in training in months s <= t < s + course_months (those of the run).
        # There is at most one cohort a year, so a loop over cohorts is cheap.
        for s in starts.tolist():
            in_training[max(s, 0) : max(s + course, 0)] += size
    if item.kind == "placements":
        cost = in_training * f["cost_per_place_year"] / 12
    elif item.kind == "apprenticeships":
        cost = in_training * (f["salary_per_year"] + f["cost_per_place_year"]) / 12
    elif item.kind == "return_to_practice":
        cost = starters_in_run * f["cost_per_returner"]
    else:
        cost = starters_in_run * f["cost_per_recruit"]
    return landed, in_training, cost


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


def group_codes(workforce: Workforce, columns: list) -> np.ndarray:
    """A code per segment for its values in `columns` (0 .. groups - 1): segments with the
    same values in every one of them share a code. All 0 when `columns` is empty."""
    if not columns:
        return np.zeros(workforce.size, dtype=np.int64)
    codes = [np.unique(np.array(workforce.keys[c], dtype=object), return_inverse=True)[1].reshape(-1) for c in columns]
    return np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)[1].reshape(-1)


class GroupScan:
    """Sums over the *other* members of each member's group, without subtracting a
    member's own value from its group's total (which would lose a small remainder next to
    a large own value, and could turn "the others hold 1e-20" into "the others hold 0").

    Members are sorted by group, so each group is a run of consecutive positions. The sum
    of the members before a position is a segmented (Hillis-Steele) scan of the values
    shifted by one; the sum of those after is the same scan on the reversed order; every
    term is >= 0, so nothing cancels. It takes log2(largest group) vector steps."""

    def __init__(self, members: np.ndarray, group: np.ndarray):
        self.members = members[np.argsort(group[members], kind="stable")]
        g = group[self.members]
        largest = int(np.bincount(g).max()) if len(g) else 0
        self.steps = []  # (d, whether position k and k - d are in one group)
        d = 1
        while d < largest:
            self.steps.append((d, g[d:] == g[:-d]))
            d *= 2
        self.reverse_steps = [(d, same[::-1]) for d, same in self.steps]

    @staticmethod
    def _before(values: np.ndarray, steps) -> np.ndarray:
        # Along the last axis: a Monte Carlo run has a leading axis of draws.
        scan = np.zeros_like(values)
        if not steps:  # every group has one member: nothing is before anything
            return scan
        scan[..., 1:] = np.where(steps[0][1], values[..., :-1], 0.0)
        for d, same in steps:
            scan[..., d:] = scan[..., d:] + np.where(same, scan[..., :-d], 0.0)
        return scan

    def others(self, values: np.ndarray) -> np.ndarray:
        """For every member (in self.members order), the sum of `values` (given over all
        segments, on the last axis) over the other members of its group."""
        v = values[..., self.members]
        return self._before(v, self.steps) + self._before(v[..., ::-1], self.reverse_steps)[..., ::-1]


def prepare_transfer(item: Intervention, workforce: Workforce) -> None:
    """The month-independent part of a transfer: each segment's group (its values in the
    `same` columns), its number of targets (segments j != i of its group matching `to`),
    which segments send (matched by `where` and with at least one target), and whether
    any sender is also a target (then sums over "the others of the group" need GroupScan;
    otherwise they are plain group totals)."""
    group = group_codes(workforce, item.same)
    item.group = group
    item.group_count = int(group.max()) + 1
    item.to_f = item.to_mask.astype(np.float64)
    targets_in_group = np.bincount(group, weights=item.to_f, minlength=item.group_count)
    item.target_count = targets_in_group[group] - item.to_f  # whole numbers: exact
    sender = item.mask & (item.target_count > 0)
    item.sender = sender
    item.sender_f = sender.astype(np.float64)
    item.overlap = bool(np.any(sender & item.to_mask))
    if item.overlap:
        item.scan = GroupScan(np.flatnonzero(sender | item.to_mask), group)


def group_sum(values: np.ndarray, codes: np.ndarray, count: int) -> np.ndarray:
    """Sums of `values` over the segments of each group (codes 0 .. count - 1), on the last
    axis. With a leading axis of draws (a Monte Carlo run) each draw is summed on its own:
    the codes are offset by draw * count, so one bincount never mixes two draws, and each
    group is summed in segment order, exactly as a run of that draw alone sums it."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=count)
    draws = values.shape[0]
    offset = (codes + count * np.arange(draws)[:, None]).ravel()
    return np.bincount(offset, weights=values.ravel(), minlength=draws * count).reshape(draws, count)


def transfer_flows(item: Intervention, fte: np.ndarray, ramp: float):
    """(out, in) of one transfer in a month, from fte(t): each sender i sends
    out_i = fte_i * (1 - (1 - rate * ramp) ^ (1 / 12)) to its targets j, split by their
    fte (equal where all of them have 0). `fte` may have a leading axis of draws, and
    `rate` may then be drawn (a number, or draws x segments)."""
    shape = np.broadcast_shapes(np.shape(fte), np.shape(item.fields["rate"]))
    fte = np.broadcast_to(fte, shape)
    out = fte * (1 - (1 - item.fields["rate"] * ramp) ** (1 / 12)) * item.sender_f
    target_fte = fte * item.to_f
    if item.overlap:
        scan = item.scan
        denominator = np.zeros(shape)
        denominator[..., scan.members] = scan.others(target_fte)  # the fte of i's targets
    else:
        denominator = group_sum(target_fte, item.group, item.group_count)[..., item.group]
    by_fte = item.sender & (denominator > 0)
    equal = item.sender & (denominator == 0)
    per_fte = np.divide(out, denominator, out=np.zeros(shape), where=by_fte)  # out_i / D_i
    per_target = np.divide(out, item.target_count, out=np.zeros(shape), where=equal)  # out_i / count_i
    if item.overlap:
        incoming = np.zeros(shape)
        scan = item.scan
        members = scan.members
        incoming[..., members] = fte[..., members] * scan.others(per_fte) + scan.others(per_target)
        incoming *= item.to_f
    else:
        a = group_sum(per_fte, item.group, item.group_count)[..., item.group]
        b = group_sum(per_target, item.group, item.group_count)[..., item.group]
        incoming = (fte * a + b) * item.to_f
    return out, incoming


def run(scenario: dict, workforce: Workforce, draw: dict | None = None) -> dict:
    """Run one scenario. Returns {column: array[months, segments]}.

    `draw` (the Monte Carlo self-check) gives one draw's values: `inputs`, every input
    column after overrides with the draw's factors applied and clamped, and `allowance`;
    `fields`, {intervention index from 0: {field: value per segment}} replacing fields."""
    months = scenario["months"]
    n = workforce.size
    season = scenario["season"]
    inputs = apply_overrides(scenario, workforce) if draw is None else draw["inputs"]
    check_inputs(inputs, workforce, season)
    interventions = [Intervention(path, index, raw, scenario, workforce) for path, index, raw in scenario["interventions"]]
    for index, fields in (draw or {}).get("fields", {}).items():
        for name, values in fields.items():
            if name == "cost_per_month":
                interventions[index].cost_per_month = values
            else:
                interventions[index].fields[name] = values
    start_month = scenario["start_ym"][1]

    # Leavers and every transfer out of a segment must stay below a whole year's stock.
    leaving = inputs["leaver_rate"].copy()
    for item in interventions:
        if item.kind == "transfer":
            leaving += item.fields["rate"] * item.mask
    if np.any(leaving >= 1):
        i = int(np.argmax(leaving >= 1))
        raise ModelError(
            f"{scenario['path']}: {workforce.segment(i)}: leaver_rate ({float(inputs['leaver_rate'][i])!r}, after "
            f"overrides) plus the rate of every transfer whose `where` matches it is {float(leaving[i])!r}; it must be < 1"
        )

    establishment = inputs["establishment"]
    leaver_rate = inputs["leaver_rate"]
    sickness_rate = inputs["sickness_rate"]
    annual_leave_rate = inputs["annual_leave_rate"]
    study_leave_rate = inputs["study_leave_rate"]
    other_leave_rate = inputs["other_leave_rate"]
    hours_per_week = inputs["hours_per_week"]
    dcc_share = inputs["dcc_share"]
    annual_pay = inputs["annual_pay"]
    time_to_fill = inputs["time_to_fill"]
    growth = 1 + inputs["demand_growth"]
    hours_pm = hours_per_week * 52 / 12
    hourly_pay = annual_pay / (hours_per_week * 52)
    # Demand and time released are net of the allowance, which no intervention or season moves.
    allowed_hours = hours_pm * (1 - inputs["allowance"])
    fill_rate = np.zeros(n)
    fillable = time_to_fill > 0
    fill_rate[fillable] = 1 - np.exp(-1 / time_to_fill[fillable])

    out = {name: np.zeros((months, n)) for name in RESULT_COLUMNS}

    # Pipelines and costs do not depend on the stock, so they are built before the month
    # loop: one monthly series per intervention, spread over its segments by attribution.
    fte_at_start = inputs["fte"]
    pipeline_output = {
        "placements": ("newly_qualified", "trainees"),
        "apprenticeships": ("apprentices_qualified", "apprentices"),
        "return_to_practice": ("returners", None),
        "international": ("international", None),
    }
    rate_items, skill_mix_items, transfer_items = [], [], []
    for item in interventions:
        item.maskf = item.mask.astype(np.float64)
        if not item.mask.any():
            continue  # matches no segment: no effect at all
        weights = attribution_weights(item.mask, fte_at_start)
        # One part, unless a Monte Carlo draw gave some segments their own field values:
        # then one part per set of values, each with the weights of its own segments.
        for part_weights, fields, cost_per_month in item_parts(item, weights):
            cost = np.zeros(months)
            active = item.active_months(months)
            if len(active):  # an empty range may have a negative stop, which would wrap
                cost[active.start : active.stop] += cost_per_month
            if item.kind in PIPELINE_KINDS:
                landed, in_training, pipeline_cost = pipeline_series(item, months, start_month, fields)
                joined_column, training_column = pipeline_output[item.kind]
                out[joined_column] += np.outer(landed, part_weights)
                if training_column:
                    out[training_column] += np.outer(in_training, part_weights)
                cost = cost + pipeline_cost
            if cost.any():
                out["intervention_cost"] += np.outer(cost, part_weights)
        if item.kind in PIPELINE_KINDS:
            pass
        elif item.kind == "skill_mix":
            skill_mix_items.append(item)
        elif item.kind == "transfer":
            prepare_transfer(item, workforce)
            if item.sender.any():  # no sender has a target: nothing ever moves
                transfer_items.append(item)
        else:
            rate_items.append(item)

    # skill_mix needs, per segment, whether its org has a `to` segment and its share of
    # the org's `to` establishment.
    if skill_mix_items:
        if "org" not in workforce.keys:
            raise ModelError(f"{workforce.source}: skill_mix needs an `org` key column")
        org_names, org_code = np.unique(np.array(workforce.keys["org"], dtype=object), return_inverse=True)
        org_code = org_code.reshape(-1)
        org_count = len(org_names)
        for item in skill_mix_items:
            to = item.to_mask
            to_establishment = np.bincount(org_code, weights=np.where(to, establishment, 0.0), minlength=org_count)
            to_segments = np.bincount(org_code, weights=to.astype(np.float64), minlength=org_count)
            org_has_to = to_segments[org_code] > 0
            split = np.zeros(n)
            by_establishment = to & (to_establishment[org_code] > 0)
            split[by_establishment] = establishment[by_establishment] / to_establishment[org_code][by_establishment]
            equal = to & (to_establishment[org_code] == 0)
            split[equal] = 1 / to_segments[org_code][equal]
            item.from_f = (item.mask & org_has_to).astype(np.float64)
            item.split = split
            item.org_code = org_code
            item.org_count = org_count

    fte = fte_at_start.copy()
    for t in range(months):
        calendar = (start_month - 1 + t) % 12  # 0 = January
        # Effective rates and required FTE: rate kinds in file order, then skill_mix.
        base_required = establishment * growth ** (t / 12)
        required = base_required
        leaver = leaver_rate
        sickness_cut = np.zeros(n)
        bank_share = inputs["bank_share"]
        agency_share = inputs["agency_share"]
        for item in rate_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            if item.kind == "retention":
                leaver = leaver * (1 - item.fields["reduction"] * ramp * item.maskf)
            elif item.kind == "wellbeing":
                sickness_cut = sickness_cut + item.fields["sickness_reduction"] * ramp * item.maskf
            elif item.kind == "time_released":
                required = required * (1 - item.fields["share"] * ramp * item.maskf)
            else:  # bank_shift, applied in file order on the current agency share
                moved = agency_share * item.fields["share"] * ramp * item.maskf
                agency_share = agency_share - moved
                bank_share = bank_share + moved
        # Wellbeing's clamp first, then the season's factor.
        sickness = np.maximum(0.0, sickness_rate - sickness_cut) * season["sickness"][calendar]
        annual_leave = annual_leave_rate * season["annual_leave"][calendar]
        released = base_required - required
        for item in skill_mix_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            moved = required * item.fields["share"] * ramp * item.from_f
            moved_in = np.bincount(item.org_code, weights=moved * item.fields["ratio"], minlength=item.org_count)
            required = required - moved + moved_in[item.org_code] * item.split

        # The month's figures from fte(t), every transfer included.
        headroom = annual_leave + study_leave_rate + other_leave_rate + sickness
        productive_hours = hours_pm * (1 - headroom)
        leavers = fte * (1 - (1 - leaver) ** (1 / 12))
        vacancies = np.maximum(0.0, required - fte)
        recruits = vacancies * fill_rate
        joiners = recruits + out["newly_qualified"][t] + out["apprentices_qualified"][t] + out["returners"][t] + out["international"][t]
        available_hours = fte * productive_hours
        clinical_hours = available_hours * dcc_share
        demand_hours = required * allowed_hours * dcc_share
        gap = np.maximum(0.0, demand_hours - clinical_hours)
        bank_hours = gap * bank_share
        agency_hours = gap * agency_share
        transfers_out = np.zeros(n)
        transfers_in = np.zeros(n)
        for item in transfer_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            moved_out, moved_in = transfer_flows(item, fte, ramp)
            transfers_out = transfers_out + moved_out
            transfers_in = transfers_in + moved_in

        row = {
            "fte": fte,
            "required_fte": required,
            "vacancies": vacancies,
            "leavers": leavers,
            "recruits": recruits,
            "joiners": joiners,
            "sickness_fte": fte * sickness,
            "available_hours": available_hours,
            "clinical_hours": clinical_hours,
            "demand_hours": demand_hours,
            "bank_hours": bank_hours,
            "agency_hours": agency_hours,
            "unmet_hours": gap - bank_hours - agency_hours,
            "pay_cost": fte * annual_pay / 12,
            "bank_cost": bank_hours * hourly_pay * inputs["bank_premium"],
            "agency_cost": agency_hours * hourly_pay * inputs["agency_premium"],
            "time_released_hours": released * allowed_hours * dcc_share,
            "transfers_in": transfers_in,
            "transfers_out": transfers_out,
        }
        for name, values in row.items():
            out[name][t] = values

        fte = fte - leavers + joiners - transfers_out + transfers_in
    return out


# ---------------------------------------------------------------------------------------
# Monte Carlo (spec section 7)
# ---------------------------------------------------------------------------------------

MASK64 = (1 << 64) - 1
Z90 = 1.2815515655446004  # the standard normal's 90th percentile: sd = (p90 - p10) / (2 * Z90)
MAX_DRAWS = 100_000
UNDRAWABLE_FIELDS = {"intake_month", "course_months", "ramp_months"}
WHAT_FIELD_RE = re.compile(r"^interventions\.(\d+)\.([A-Za-z_][A-Za-z0-9_]*)$")
OPEN = 1e-9  # an open bound b clamps to b - 1e-9 (above) or b + 1e-9 (below)
INF = math.inf

# The range a drawn input column is clamped to: spec section 2's bounds, and the greatest
# value of each column (`model::workforce` of the engine: 1e7 FTE or GBP, 1,200 months,
# premiums of 100, 168 hours a week, growth of 10 a year).
INPUT_RANGES = {
    "fte": (0.0, 10_000_000.0),
    "establishment": (0.0, 10_000_000.0),
    "leaver_rate": (0.0, 1.0 - OPEN),
    "sickness_rate": (0.0, 1.0 - OPEN),
    "annual_leave_rate": (0.0, 1.0 - OPEN),
    "study_leave_rate": (0.0, 1.0 - OPEN),
    "other_leave_rate": (0.0, 1.0 - OPEN),
    "hours_per_week": (OPEN, 168.0),
    "dcc_share": (0.0, 1.0),
    "annual_pay": (0.0, 10_000_000.0),
    "time_to_fill": (0.0, 1_200.0),
    "bank_share": (0.0, 1.0),
    "agency_share": (0.0, 1.0),
    "bank_premium": (0.0, 100.0),
    "agency_premium": (0.0, 100.0),
    "demand_growth": (-1.0 + OPEN, 10.0),
    "headroom_allowance": (0.0, 1.0 - OPEN),
}
# The range a drawn intervention field is clamped to: each kind's min and max as declared
# in rules/interventions/*.rhai (no max: unbounded above), and `cost_per_month` (>= 0),
# common to every kind. `--self-check` compares this table with the .rhai files.
FIELD_RANGES = {
    "retention": {"reduction": (0.0, 1.0)},
    "wellbeing": {"sickness_reduction": (0.0, 1.0)},
    "time_released": {"share": (0.0, 1.0)},
    "bank_shift": {"share": (0.0, 1.0)},
    "skill_mix": {"share": (0.0, 1.0), "ratio": (0.0, INF)},
    "placements": {
        "places_per_year": (0.0, INF),
        "completion": (0.0, 1.0),
        "local_employment": (0.0, 1.0),
        "cost_per_place_year": (0.0, INF),
    },
    "apprenticeships": {
        "starts_per_year": (0.0, INF),
        "completion": (0.0, 1.0),
        "local_employment": (0.0, 1.0),
        "salary_per_year": (0.0, INF),
        "cost_per_place_year": (0.0, INF),
    },
    "return_to_practice": {"returners_per_year": (0.0, INF), "success": (0.0, 1.0), "cost_per_returner": (0.0, INF)},
    "international": {"recruits_per_year": (0.0, INF), "arrival": (0.0, 1.0), "cost_per_recruit": (0.0, INF)},
    "transfer": {"rate": (0.0, 1.0)},
}
COMMON_FIELD_RANGES = {"cost_per_month": (0.0, INF)}


def mix(x: int) -> int:
    """One SplitMix64 step: add the golden gamma, then the finaliser (64-bit arithmetic)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def fnv1a64(text: str) -> int:
    """FNV-1a (64 bits) over the UTF-8 bytes of `text`."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def ppnd16(p: float) -> float:
    """The standard normal quantile: Wichura's AS241 PPND16 (Applied Statistics 37(3),
    1988), double precision, its three rational approximations evaluated as published
    (Horner's rule, innermost coefficient first), with math.log and math.sqrt."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return (
            q
            * (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r + 6.7265770927008700853e4) * r
                   + 4.5921953931549871457e4) * r + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
                 + 1.3314166789178437745e2) * r + 3.3871328727963666080e0)
            / (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r + 3.9307895800092710610e4) * r
                   + 2.1213794301586595867e4) * r + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
                 + 4.2313330701600911252e1) * r + 1.0)
        )
    r = p if q < 0 else 1.0 - p
    if r <= 0:
        raise ValueError(f"ppnd16: p = {p!r} is not in (0, 1)")
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r = r - 1.6
        value = (
            (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r + 2.41780725177450611770e-1) * r
                 + 1.27045825245236838258e0) * r + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
               + 4.63033784615654529590e0) * r + 1.42343711074968357734e0)
            / (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r + 1.51986665636164571966e-2) * r
                   + 1.48103976427480074590e-1) * r + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
                 + 2.05319162663775882187e0) * r + 1.0)
        )
    else:
        r = r - 5.0
        value = (
            (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 1.24266094738807843860e-3) * r
                 + 2.65321895265761230930e-2) * r + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
               + 5.46378491116411436990e0) * r + 6.65790464350110377720e0)
            / (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r + 1.84631831751005468180e-5) * r
                   + 7.86869131145613259100e-4) * r + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                 + 5.99832206555887937690e-1) * r + 1.0)
        )
    return -value if q < 0 else value


def uniform(seed: int, draw: int, entry: int, per_hash: int) -> float:
    """The counter-based uniform in (0, 1) of (seed, draw, entry, fnv1a64(per value))."""
    h = mix(seed)
    h = mix(h ^ draw)
    h = mix(h ^ entry)
    h = mix(h ^ per_hash)
    return ((h >> 11) + 0.5) / 2**53


def standard_normal(seed: int, draw: int, entry: int, per_value: str) -> float:
    return ppnd16(uniform(seed, draw, entry, fnv1a64(per_value)))


class UncertainEntry:
    """One resolved `[[uncertain]]` entry: what it draws (an input column, or an
    intervention's field), the segments it acts on, and its per values in order."""

    def __init__(self, path, number_, raw, workforce: Workforce, interventions: list):
        self.number = number_  # counted from 1, for messages (`uncertain.N`)
        self.e = number_ - 1  # the generator's entry index, from 0
        field = f"uncertain.{number_}"
        context = f"{path}: {field}"
        unknown = sorted(set(raw) - UNCERTAIN_FIELDS)
        if unknown:
            raise ModelError(f"{context}: unknown fields {unknown}; known are {sorted(UNCERTAIN_FIELDS)}")
        for name in ("what", "p10", "p90"):
            if name not in raw:
                raise ModelError(f"{context}: field `{name}` is required")
        what = raw["what"]
        if not isinstance(what, str):
            raise ModelError(f"{context}.what: must be an input column or interventions.N.FIELD, got {what!r}")
        self.what = what
        self.p10 = number(raw["p10"], f"{context}.p10")
        self.p90 = number(raw["p90"], f"{context}.p90")
        if self.p10 > self.p90:
            raise ModelError(f"{context}: p10 ({self.p10!r}) must not be above p90 ({self.p90!r})")
        self.mean = (self.p10 + self.p90) / 2
        self.sd = (self.p90 - self.p10) / (2 * Z90)
        self.mask = where_mask(raw.get("where"), workforce, path, f"{field}.where")
        self.column = None
        self.intervention = None  # index from 0 into the resolved interventions
        self.field = None
        match = WHAT_FIELD_RE.match(what.strip())
        if what.strip().lower() in INPUT_COLUMNS:
            self.column = what.strip().lower()
            self.low, self.high = INPUT_RANGES[self.column]
        elif match:
            index, name = int(match.group(1)), match.group(2)
            if not 1 <= index <= len(interventions):
                raise ModelError(
                    f"{context}.what: {what!r}: the scenario has {len(interventions)} interventions "
                    f"(counted from 1, the parent's first after extends)"
                )
            item = interventions[index - 1]
            if name in UNDRAWABLE_FIELDS:
                raise ModelError(f"{context}.what: {what!r}: `{name}` cannot be drawn")
            ranges = {**FIELD_RANGES[item.kind], **COMMON_FIELD_RANGES}
            if name not in ranges:
                raise ModelError(
                    f"{context}.what: {what!r}: `{name}` is not a numeric field of kind {item.kind} that can be "
                    f"drawn; those are {sorted(ranges)}"
                )
            self.intervention = index - 1
            self.field = name
            self.low, self.high = ranges[name]
            self.mask = self.mask & item.mask  # the intervention's own segments
        else:
            raise ModelError(
                f"{context}.what: {what!r} is neither an input column ({INPUT_COLUMNS}) nor interventions.N.FIELD"
            )
        per = raw.get("per")
        self.per = None
        codes = np.full(workforce.size, -1, dtype=np.int64)
        if per is None:
            self.per_values = [""]
            codes[self.mask] = 0
        else:
            if not isinstance(per, str) or workforce.key_column(per) is None:
                raise ModelError(f"{context}.per: {per!r} is not a key column; key columns are {workforce.key_names}")
            self.per = workforce.key_column(per)
            found = {}
            column = workforce.keys[self.per]
            for i in np.flatnonzero(self.mask).tolist():  # in segment order: first met first
                codes[i] = found.setdefault(column[i], len(found))
            self.per_values = list(found)
        self.per_code = codes  # per value of each matched segment (index into per_values), -1 elsewhere

    def values(self, draws: int, seed: int) -> np.ndarray:
        """(draws + 1) x per values: draw 0 is the mean (z = 0), draw d the mean + sd * z."""
        out = np.empty((draws + 1, len(self.per_values)))
        out[0] = self.mean
        hashes = [fnv1a64(value) for value in self.per_values]
        base = mix(seed)
        for d in range(1, draws + 1):
            h_entry = mix(mix(base ^ d) ^ self.e)
            for k, per_hash in enumerate(hashes):
                h = mix(h_entry ^ per_hash)
                u = ((h >> 11) + 0.5) / 2**53
                if not 0.0 < u < 1.0:
                    raise ModelError(f"uncertain.{self.number}: draw {d}: u = {u!r} rounded to an end of (0, 1)")
                out[d, k] = self.mean + self.sd * ppnd16(u)
        return out

    def segment_values(self, values: np.ndarray) -> np.ndarray:
        """draws x segments: each matched segment's value (of its per value); NaN elsewhere."""
        if not len(self.per_values):
            return np.full((values.shape[0], len(self.per_code)), np.nan)
        # C order (fancy indexing on the second axis gives Fortran order): a draw's row is
        # then contiguous, and sums over it add in the same order as a run of that draw.
        return np.ascontiguousarray(np.where(self.mask, values[:, np.maximum(self.per_code, 0)], np.nan))


class MonteCarloPlan:
    """The draws of a scenario: its resolved entries and their values, (draws + 1) x per
    values each, from the scenario's [monte_carlo] (or the command line's)."""

    def __init__(self, scenario: dict, workforce: Workforce, draws=None, seed=None):
        path = scenario["path"]
        settings = scenario["monte_carlo"]
        if draws is None and "draws" in settings:
            source, draws = settings["draws"]
        else:
            source = "--draws"
        if draws is None:
            raise ModelError(f"{path}: a Monte Carlo run needs `draws` ([monte_carlo] or --draws)")
        if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
            raise ModelError(f"{source}: monte_carlo.draws must be a whole number from 1 to {MAX_DRAWS:,}, got {draws!r}")
        if seed is None and "seed" in settings:
            source, seed = settings["seed"]
        else:
            source = "--seed"
        if seed is None:
            raise ModelError(f"{path}: a Monte Carlo run needs `seed` ([monte_carlo] or --seed)")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MASK64:
            raise ModelError(f"{source}: monte_carlo.seed must be a whole number from 0 to 2^64 - 1, got {seed!r}")
        self.draws = draws
        self.seed = seed
        interventions = [Intervention(p, index, raw, scenario, workforce) for p, index, raw in scenario["interventions"]]
        self.entries = [UncertainEntry(p, n, raw, workforce, interventions) for p, n, raw in scenario["uncertain"]]
        self.values = [entry.values(draws, seed) for entry in self.entries]

    def rows(self):
        """(draw, entry, what, per value, value) in the order of --draws-out."""
        for d in range(self.draws + 1):
            for entry, values in zip(self.entries, self.values):
                for k, per_value in enumerate(entry.per_values):
                    yield d, entry.e, entry.what, per_value, float(values[d, k])


def drawn_inputs(plan: MonteCarloPlan, base: dict) -> dict:
    """The input columns of every draw (draws x segments where drawn, else the segments'
    values, which broadcast): each column after overrides times every factor on it, in
    entry order, clamped once to its range; then the allowance, from the drawn columns."""
    columns = {name: values for name, values in base.items() if name != "allowance"}
    touched = {}
    for entry, values in zip(plan.entries, plan.values):
        if entry.column is None or entry.column == "headroom_allowance":
            continue
        factor = np.nan_to_num(entry.segment_values(values), nan=1.0)
        columns[entry.column] = columns[entry.column] * factor
        touched[entry.column] = touched.get(entry.column, False) | entry.mask
    for name, mask in touched.items():
        low, high = INPUT_RANGES[name]
        columns[name] = np.where(mask, np.clip(columns[name], low, high), columns[name])
    default = columns["annual_leave_rate"] + columns["study_leave_rate"] + columns["other_leave_rate"] + columns["sickness_rate"]
    given = columns["headroom_allowance"]
    allowance = np.where(np.isnan(given), default, given)
    mask = False
    for entry, values in zip(plan.entries, plan.values):
        if entry.column == "headroom_allowance":
            allowance = allowance * np.nan_to_num(entry.segment_values(values), nan=1.0)
            mask = mask | entry.mask
    if mask is not False:
        low, high = INPUT_RANGES["headroom_allowance"]
        allowance = np.where(mask, np.clip(allowance, low, high), allowance)
        columns["headroom_allowance"] = allowance
    columns["allowance"] = allowance
    return {name: np.ascontiguousarray(values) for name, values in columns.items()}


def apply_drawn_fields(plan: MonteCarloPlan, interventions: list) -> None:
    """Replace drawn intervention fields by draws x segments arrays: on an entry's
    segments its value (clamped to the field's range), elsewhere the field as it was."""
    for entry, values in zip(plan.entries, plan.values):
        if entry.intervention is None or not len(entry.per_values):
            continue
        item = interventions[entry.intervention]
        drawn = np.clip(entry.segment_values(values), entry.low, entry.high)
        if entry.field == "cost_per_month":
            item.cost_per_month = np.where(entry.mask, drawn, item.cost_per_month)
        else:
            item.fields[entry.field] = np.where(entry.mask, drawn, item.fields[entry.field])


def attribution_weights_draws(mask: np.ndarray, fte_at_start: np.ndarray) -> np.ndarray:
    """attribution_weights for every draw at once (fte at start drawn: draws x segments)."""
    if fte_at_start.ndim == 1:
        return attribution_weights(mask, fte_at_start)
    weights = np.ascontiguousarray(np.where(mask, fte_at_start, 0.0))  # rows summed as run() sums them
    matched = mask.sum()
    if matched == 0:
        return weights
    total = weights.sum(axis=1, keepdims=True)
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), mask / matched)


class Grouping:
    """The output's groups: segments with the same values in the chosen key columns, in
    the order first met in the data, and a one-hot matrix summing segments into them."""

    def __init__(self, workforce: Workforce, text: str):
        text = text.strip()
        if text == "segment":
            columns = list(workforce.key_names)
        elif text == "total":
            columns = []
        else:
            columns = []
            for name in text.split(","):
                key = workforce.key_column(name.strip())
                if key is None:
                    raise ModelError(
                        f"--group-by: {name.strip()!r} is not a key column; give segment, total or key columns "
                        f"separated by commas from {workforce.key_names}"
                    )
                if key in columns:
                    raise ModelError(f"--group-by: key column {key!r} is given twice")
                columns.append(key)
        self.columns = columns
        found = {}
        rows = zip(*(workforce.keys[c] for c in columns)) if columns else (() for _ in range(workforce.size))
        self.codes = np.array([found.setdefault(row, len(found)) for row in rows], dtype=np.int64)
        self.labels = list(found)
        self.count = len(found)
        self.onehot = np.zeros((workforce.size, self.count))
        self.onehot[np.arange(workforce.size), self.codes] = 1.0


def run_draws(scenario: dict, workforce: Workforce, plan: MonteCarloPlan, grouping: Grouping) -> np.ndarray:
    """Every draw of a Monte Carlo run at once: the deterministic model (run()) with each
    input column a draws x segments array where it is drawn (others broadcast), so each
    month is one pass of array operations over all draws; sums across segments (skill mix,
    transfers) stay within a draw. Returns the figures summed into groups:
    months x 26 figures x (draws + 1) x groups."""
    months = scenario["months"]
    n = workforce.size
    draws = plan.draws + 1
    season = scenario["season"]
    inputs = drawn_inputs(plan, apply_overrides(scenario, workforce))
    check_inputs(inputs, workforce, season)
    interventions = [Intervention(path, index, raw, scenario, workforce) for path, index, raw in scenario["interventions"]]
    apply_drawn_fields(plan, interventions)
    start_month = scenario["start_ym"][1]

    leaving = inputs["leaver_rate"]
    for item in interventions:
        if item.kind == "transfer":
            leaving = leaving + item.fields["rate"] * item.mask
    if np.any(leaving >= 1):
        d, i = divmod(int(np.argmax(leaving >= 1)), n)
        drawn = f"draw {d}: " if np.ndim(leaving) == 2 else ""
        raise ModelError(
            f"{scenario['path']}: {drawn}{workforce.segment(i)}: leaver_rate plus the rate of every transfer whose "
            f"`where` matches it is {float(np.reshape(leaving, (-1, n))[d, i])!r} (after overrides and the draw's "
            f"values); it must be < 1"
        )

    establishment = inputs["establishment"]
    leaver_rate = inputs["leaver_rate"]
    sickness_rate = inputs["sickness_rate"]
    annual_leave_rate = inputs["annual_leave_rate"]
    study_leave_rate = inputs["study_leave_rate"]
    other_leave_rate = inputs["other_leave_rate"]
    hours_per_week = inputs["hours_per_week"]
    dcc_share = inputs["dcc_share"]
    annual_pay = inputs["annual_pay"]
    time_to_fill = inputs["time_to_fill"]
    growth = 1 + inputs["demand_growth"]
    hours_pm = hours_per_week * 52 / 12
    hourly_pay = annual_pay / (hours_per_week * 52)
    allowed_hours = hours_pm * (1 - inputs["allowance"])
    fill_rate = np.zeros(np.shape(time_to_fill))
    fillable = time_to_fill > 0
    fill_rate[fillable] = 1 - np.exp(-1 / time_to_fill[fillable])

    # Pipelines and costs: each item's monthly series for one starter (0/1, or the number
    # of cohorts in training), times its (possibly drawn) size and fields per segment, and
    # its attribution weights (per draw where `fte` is drawn).
    fte_at_start = inputs["fte"]
    joined_of = {
        "placements": ("newly_qualified", "trainees"),
        "apprenticeships": ("apprentices_qualified", "apprentices"),
        "return_to_practice": ("returners", None),
        "international": ("international", None),
    }
    cost_items, rate_items, skill_mix_items, transfer_items = [], [], [], []
    for item in interventions:
        item.maskf = item.mask.astype(np.float64)
        if not item.mask.any():
            continue
        item.weights = attribution_weights_draws(item.mask, fte_at_start)
        active = np.zeros(months, dtype=bool)
        span = item.active_months(months)
        if len(span):
            active[span.start : span.stop] = True
        item.active = active
        item.charged = bool(active.any()) and np.any(item.cost_per_month != 0)
        if item.kind in PIPELINE_KINDS:
            f = item.fields
            course = int(f["course_months"])
            starts = cohort_starts(item, months, start_month)
            landed = np.zeros(months, dtype=bool)
            lands = starts + course
            landed[lands[(lands >= 0) & (lands < months)]] = True
            started = np.zeros(months, dtype=bool)
            started[starts[starts >= 0]] = True
            in_training = np.zeros(months)
            if item.kind in ("placements", "apprenticeships"):
                for s in starts.tolist():
                    in_training[max(s, 0) : max(s + course, 0)] += 1.0
                size = f["places_per_year"] if item.kind == "placements" else f["starts_per_year"]
                per_starter = f["completion"] * f["local_employment"]
            elif item.kind == "return_to_practice":
                size = f["returners_per_year"] / 12
                per_starter = f["success"]
            else:
                size = f["recruits_per_year"] / 12
                per_starter = f["arrival"]
            item.size = size
            item.landed, item.started, item.in_training = landed, started, in_training
            item.joined_weighted = (size * per_starter) * item.weights
            item.joined_column, item.training_column = joined_of[item.kind]
            cost_items.append(item)
        else:
            if item.charged:
                cost_items.append(item)
            if item.kind == "skill_mix":
                skill_mix_items.append(item)
            elif item.kind == "transfer":
                prepare_transfer(item, workforce)
                if item.sender.any():
                    transfer_items.append(item)
            else:
                rate_items.append(item)

    if skill_mix_items:
        if "org" not in workforce.keys:
            raise ModelError(f"{workforce.source}: skill_mix needs an `org` key column")
        org_names, org_code = np.unique(np.array(workforce.keys["org"], dtype=object), return_inverse=True)
        org_code = org_code.reshape(-1)
        org_count = len(org_names)
        for item in skill_mix_items:
            to = item.to_mask
            to_establishment = group_sum(np.where(to, establishment, 0.0), org_code, org_count)[..., org_code]
            to_segments = np.bincount(org_code, weights=to.astype(np.float64), minlength=org_count)[org_code]
            split = np.zeros(np.shape(to_establishment))
            by_establishment = to & (to_establishment > 0)
            split[by_establishment] = np.broadcast_to(establishment, split.shape)[by_establishment] / to_establishment[by_establishment]
            equal = to & (to_establishment == 0)
            split[equal] = np.broadcast_to(1 / np.maximum(to_segments, 1), split.shape)[equal]
            item.from_f = (item.mask & (to_segments > 0)).astype(np.float64)
            item.split = split
            item.org_code = org_code
            item.org_count = org_count

    base_m_leave = 1 - (1 - leaver_rate) ** (1 / 12)
    metric = {name: k for k, name in enumerate(RESULT_COLUMNS)}
    grouped = np.empty((months, len(RESULT_COLUMNS), draws, grouping.count))
    figures = np.empty((len(RESULT_COLUMNS), draws, n))
    fte = np.broadcast_to(fte_at_start, (draws, n)).copy()
    for t in range(months):
        calendar = (start_month - 1 + t) % 12
        base_required = establishment * growth ** (t / 12)
        required = base_required
        leaver = leaver_rate
        sickness_cut = np.zeros(n)
        bank_share = inputs["bank_share"]
        agency_share = inputs["agency_share"]
        for item in rate_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            if item.kind == "retention":
                leaver = leaver * (1 - item.fields["reduction"] * ramp * item.maskf)
            elif item.kind == "wellbeing":
                sickness_cut = sickness_cut + item.fields["sickness_reduction"] * ramp * item.maskf
            elif item.kind == "time_released":
                required = required * (1 - item.fields["share"] * ramp * item.maskf)
            else:
                moved = agency_share * item.fields["share"] * ramp * item.maskf
                agency_share = agency_share - moved
                bank_share = bank_share + moved
        sickness = np.maximum(0.0, sickness_rate - sickness_cut) * season["sickness"][calendar]
        annual_leave = annual_leave_rate * season["annual_leave"][calendar]
        released = base_required - required
        for item in skill_mix_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            moved = required * item.fields["share"] * ramp * item.from_f
            moved_in = group_sum(moved * item.fields["ratio"], item.org_code, item.org_count)
            required = required - moved + moved_in[..., item.org_code] * item.split

        # Pipelines and costs of the month, in file order as run() adds them up.
        joined = {"newly_qualified": 0.0, "apprentices_qualified": 0.0, "returners": 0.0, "international": 0.0}
        training = {"trainees": 0.0, "apprentices": 0.0}
        intervention_cost = 0.0
        for item in cost_items:
            cost = item.cost_per_month if item.active[t] else 0.0
            if item.kind in PIPELINE_KINDS:
                if item.landed[t]:
                    joined[item.joined_column] = joined[item.joined_column] + item.joined_weighted
                # The sizes of the cohorts in training added one by one, as run() adds them.
                in_training = 0.0
                for _ in range(int(item.in_training[t])):
                    in_training = in_training + item.size
                if item.training_column and item.in_training[t]:
                    training[item.training_column] = training[item.training_column] + in_training * item.weights
                f = item.fields
                if item.kind == "placements":
                    pipeline_cost = in_training * f["cost_per_place_year"] / 12
                elif item.kind == "apprenticeships":
                    pipeline_cost = in_training * (f["salary_per_year"] + f["cost_per_place_year"]) / 12
                elif item.kind == "return_to_practice":
                    pipeline_cost = (item.size if item.started[t] else 0.0) * f["cost_per_returner"]
                else:
                    pipeline_cost = (item.size if item.started[t] else 0.0) * f["cost_per_recruit"]
                cost = cost + pipeline_cost
            if np.any(cost != 0):
                intervention_cost = intervention_cost + cost * item.weights

        headroom = annual_leave + study_leave_rate + other_leave_rate + sickness
        productive_hours = hours_pm * (1 - headroom)
        # The monthly leaving probability, worked out once while no retention acts (the
        # same expression on the same values as run()'s, so the same bits).
        m_leave = base_m_leave if leaver is leaver_rate else 1 - (1 - leaver) ** (1 / 12)
        leavers = fte * m_leave
        vacancies = np.maximum(0.0, required - fte)
        recruits = vacancies * fill_rate
        joiners = recruits + joined["newly_qualified"] + joined["apprentices_qualified"] + joined["returners"] + joined["international"]
        available_hours = fte * productive_hours
        clinical_hours = available_hours * dcc_share
        demand_hours = required * allowed_hours * dcc_share
        gap = np.maximum(0.0, demand_hours - clinical_hours)
        bank_hours = gap * bank_share
        agency_hours = gap * agency_share
        transfers_out = 0.0
        transfers_in = 0.0
        for item in transfer_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            moved_out, moved_in = transfer_flows(item, fte, ramp)
            transfers_out = transfers_out + moved_out
            transfers_in = transfers_in + moved_in

        row = {
            "fte": fte,
            "required_fte": required,
            "vacancies": vacancies,
            "leavers": leavers,
            "recruits": recruits,
            "newly_qualified": joined["newly_qualified"],
            "apprentices_qualified": joined["apprentices_qualified"],
            "returners": joined["returners"],
            "international": joined["international"],
            "joiners": joiners,
            "sickness_fte": fte * sickness,
            "available_hours": available_hours,
            "clinical_hours": clinical_hours,
            "demand_hours": demand_hours,
            "bank_hours": bank_hours,
            "agency_hours": agency_hours,
            "unmet_hours": gap - bank_hours - agency_hours,
            "pay_cost": fte * annual_pay / 12,
            "bank_cost": bank_hours * hourly_pay * inputs["bank_premium"],
            "agency_cost": agency_hours * hourly_pay * inputs["agency_premium"],
            "intervention_cost": intervention_cost,
            "trainees": training["trainees"],
            "apprentices": training["apprentices"],
            "time_released_hours": released * allowed_hours * dcc_share,
            "transfers_in": transfers_in,
            "transfers_out": transfers_out,
        }
        for name, values in row.items():
            figures[metric[name]] = values
        # Sum segments into groups: one matrix product for all figures and draws.
        grouped[t] = (figures.reshape(-1, n) @ grouping.onehot).reshape(len(RESULT_COLUMNS), draws, grouping.count)

        fte = fte - leavers + joiners - transfers_out + transfers_in
    return grouped


def write_draw_results(path, scenario: dict, plan: MonteCarloPlan, grouping: Grouping, grouped: np.ndarray) -> None:
    """`scenario,draw,month,<group keys>,<26 figures>`: draw-major, then month, then the
    groups in the order first met in the data. Floats as repr() writes them."""
    months = scenario["months"]
    ys, ms = scenario["start_ym"]
    header = ["scenario", "draw", "month", *grouping.columns, *RESULT_COLUMNS]
    name = csv_line([scenario["name"]])
    keys = [csv_line(label) for label in grouping.labels] if grouping.columns else None
    labels = []
    for t in range(months):
        index = (ms - 1) + t
        labels.append(f"{ys + index // 12:04d}-{index % 12 + 1:02d}")
    # draws x months x groups x figures, so that one draw's rows are one block of memory.
    by_draw = np.ascontiguousarray(grouped.transpose(2, 0, 3, 1))
    handle = open(path, "w", newline="", encoding="utf-8") if path else sys.stdout
    try:
        handle.write(csv_line(header) + "\n")
        for d in range(plan.draws + 1):
            prefix = f"{name},{d}"
            if keys is not None:
                prefixes = [f"{prefix},{label},{key}" for label in labels for key in keys]
            else:
                prefixes = [f"{prefix},{label}" for label in labels for _ in range(grouping.count)]
            rows = by_draw[d].reshape(-1, len(RESULT_COLUMNS)).tolist()
            handle.write("\n".join([f"{p},{','.join(map(float.__repr__, row))}" for p, row in zip(prefixes, rows)]))
            handle.write("\n")
    finally:
        if path:
            handle.close()


def write_draws(path, plan: MonteCarloPlan) -> None:
    """`draw,entry,what,per_value,value`: one row per draw 0..N, entry (from 0, the
    generator's index) and per value (empty without `per`), the value before clamping."""
    handle = open(path, "w", newline="", encoding="utf-8") if path != "-" else sys.stdout
    try:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["draw", "entry", "what", "per_value", "value"])
        for d, e, what, per_value, value in plan.rows():
            writer.writerow([d, e, what, per_value, repr(value)])
    finally:
        if path != "-":
            handle.close()


def check_draws(path: Path, plan: MonteCarloPlan, tolerance: float) -> int:
    """Compare a draws CSV (wfplan's) with the peer's values: rows are matched on (draw,
    entry, per value); prints the rows only one side has and the largest difference.
    Returns 0 when both have the same rows and every value is within `tolerance`
    (relative; 0: identical)."""
    own = {(d, e, per): (what, value) for d, e, what, per, value in plan.rows()}
    theirs = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"draw", "entry", "what", "per_value", "value"} - set(reader.fieldnames or [])
            if missing:
                raise ModelError(f"{path}: missing columns {sorted(missing)}")
            for line, row in enumerate(reader, start=2):
                try:
                    key = (int(row["draw"]), int(row["entry"]), row["per_value"])
                    theirs[key] = (row["what"], float(row["value"]))
                except ValueError:
                    raise ModelError(f"{path}: row {line}: {row}") from None
    except FileNotFoundError:
        raise ModelError(f"draws file not found: {path}") from None
    entries = {e for _, e, _ in own}
    their_entries = {e for _, e, _ in theirs}
    if their_entries and their_entries != entries and {e - 1 for e in their_entries} == entries:
        print("check-draws: the file counts entries from 1; the peer from 0 (compared shifted by one)", file=sys.stderr)
        theirs = {(d, e - 1, per): value for (d, e, per), value in theirs.items()}
    only_own = sorted(set(own) - set(theirs))
    only_theirs = sorted(set(theirs) - set(own))
    worst_abs = (0.0, None)
    worst_rel = (0.0, None)
    what_differs = []
    for key in sorted(set(own) & set(theirs)):
        (what, a), (their_what, b) = own[key], theirs[key]
        if what != their_what:
            what_differs.append((key, what, their_what))
        diff = abs(a - b)
        rel = diff / max(abs(a), abs(b)) if diff else 0.0
        if diff > worst_abs[0]:
            worst_abs = (diff, key)
        if rel > worst_rel[0]:
            worst_rel = (rel, key)
    print(
        f"check-draws: {len(own)} rows in the peer, {len(theirs)} in {path}, {len(set(own) & set(theirs))} in both",
        file=sys.stderr,
    )
    for label, keys in (("only in the peer", only_own), (f"only in {path}", only_theirs)):
        if keys:
            print(f"  {len(keys)} rows {label}, first (draw, entry, per value): {keys[:5]}", file=sys.stderr)
    for key, what, their_what in what_differs[:5]:
        print(f"  {key}: what {what!r} in the peer, {their_what!r} in the file", file=sys.stderr)
    for label, (value, key) in (("absolute", worst_abs), ("relative", worst_rel)):
        if key is None:
            print(f"  largest {label} difference: 0 (identical)", file=sys.stderr)
        else:
            print(
                f"  largest {label} difference: {value!r} at (draw, entry, per value) {key}: peer {own[key][1]!r}, "
                f"file {theirs[key][1]!r}",
                file=sys.stderr,
            )
    ok = not only_own and not only_theirs and not what_differs and worst_rel[0] <= tolerance
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------
# Monte Carlo self-check (--self-check)
# ---------------------------------------------------------------------------------------

HERE = Path(__file__).resolve().parent
MC_FIXTURES = HERE / "fixtures" / "monte_carlo"
SAMPLE_DATA = HERE.parents[1] / "data" / "sample" / "workforce.csv"
RULES = HERE.parents[1] / "rules" / "interventions"


def scalar_draw(plan: MonteCarloPlan, d: int, scenario: dict, workforce: Workforce) -> dict:
    """Draw d's values applied one segment at a time in plain Python (no arrays), for
    run(..., draw=...): the reference the vectorised run is checked against."""
    n = workforce.size
    base = apply_overrides(scenario, workforce)
    columns = {name: [float(x) for x in base[name]] for name in INPUT_COLUMNS}
    touched = {}
    allowance_factors = [[] for _ in range(n)]
    fields = {}
    originals = [Intervention(p, index, raw, scenario, workforce) for p, index, raw in scenario["interventions"]]
    for entry, values in zip(plan.entries, plan.values):
        position = {value: k for k, value in enumerate(entry.per_values)}
        for i in range(n):
            if not entry.mask[i]:
                continue
            value = float(values[d, position[workforce.keys[entry.per][i] if entry.per else ""]])
            if entry.column == "headroom_allowance":
                allowance_factors[i].append(value)
            elif entry.column is not None:
                columns[entry.column][i] = columns[entry.column][i] * value
                touched.setdefault(entry.column, set()).add(i)
            else:
                item = originals[entry.intervention]
                original = item.cost_per_month if entry.field == "cost_per_month" else item.fields[entry.field]
                drawn = fields.setdefault(entry.intervention, {}).setdefault(entry.field, np.full(n, original))
                drawn[i] = min(max(value, entry.low), entry.high)
    for name, segments in touched.items():
        low, high = INPUT_RANGES[name]
        for i in segments:
            columns[name][i] = min(max(columns[name][i], low), high)
    allowance = []
    low, high = INPUT_RANGES["headroom_allowance"]
    for i in range(n):
        given = columns["headroom_allowance"][i]
        if math.isnan(given):
            given = (
                columns["annual_leave_rate"][i] + columns["study_leave_rate"][i] + columns["other_leave_rate"][i]
                + columns["sickness_rate"][i]
            )
        for factor in allowance_factors[i]:
            given = given * factor
        if allowance_factors[i]:
            given = min(max(given, low), high)
            columns["headroom_allowance"][i] = given
        allowance.append(given)
    inputs = {name: np.array(values) for name, values in columns.items()}
    inputs["allowance"] = np.array(allowance)
    return {"inputs": inputs, "fields": fields}


def rhai_ranges() -> dict:
    """{kind: {field: (min, max)}} of the numeric fields declared in rules/interventions."""
    declared = {}
    for path in sorted(RULES.glob("*.rhai")):
        text = path.read_text(encoding="utf-8")
        kind = {}
        for name, body in re.findall(r"(\w+): #\{([^{}]*)\}", text):
            declared_type = re.search(r'\btype: "(\w+)"', body)
            if "doc:" not in body or (declared_type and declared_type.group(1) not in ("integer", "number")):
                continue  # not a field, or a filter / list of key columns
            low = re.search(r"\bmin: ([-+0-9.eE]+)", body)
            high = re.search(r"\bmax: ([-+0-9.eE]+)", body)
            integer = 'type: "integer"' in body
            kind[name] = (float(low.group(1)) if low else -INF, float(high.group(1)) if high else INF, integer)
        declared[path.stem] = kind
    return declared


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    diff = np.abs(a - b)
    scale = np.maximum(np.abs(a), np.abs(b))
    return float(np.max(np.divide(diff, scale, out=np.zeros_like(diff), where=diff > 0), initial=0.0))


def self_check(data: Path, scenarios: list) -> int:
    """Checks of the Monte Carlo runs; prints each and returns 0 when all pass."""
    failures = []

    def check(ok: bool, text: str):
        print(f"{'ok  ' if ok else 'FAIL'} {text}")
        if not ok:
            failures.append(text)

    # The generator: SplitMix64's first output from state 0, FNV-1a's published values,
    # and PPND16 against the standard library's AS241 (C, so possibly 1 ulp apart).
    check(mix(0) == 0xE220A8397B1DCDAF, "mix(0) = 0xe220a8397b1dcdaf (SplitMix64's first output from state 0)")
    check(fnv1a64("") == 0xCBF29CE484222325 and fnv1a64("a") == 0xAF63DC4C8601EC8C, "fnv1a64 of '' and 'a'")
    check(ppnd16(0.5) == 0.0 and ppnd16(1 - 0.9) == -ppnd16(0.9), "ppnd16(0.5) = 0, ppnd16(0.1) = -ppnd16(0.9)")
    check(abs(ppnd16(0.9) - Z90) < 1e-15, f"ppnd16(0.9) = {ppnd16(0.9)!r} (Z90 = {Z90!r})")
    from statistics import NormalDist

    probabilities = [2.0**-k for k in range(1, 1000, 7)] + [k / 1000 for k in range(1, 1000)]
    probabilities += [1 - 2.0**-k for k in range(1, 53)]
    worst = max(abs(ppnd16(p) - NormalDist().inv_cdf(p)) / max(abs(NormalDist().inv_cdf(p)), 1e-300) for p in probabilities)
    check(worst < 1e-14, f"ppnd16 = statistics.NormalDist.inv_cdf to {worst:.1e} relative on {len(probabilities)} p")
    zs = [standard_normal(20261202, d, 0, "") for d in range(1, 20001)]
    mean = sum(zs) / len(zs)
    sd = math.sqrt(sum((z - mean) ** 2 for z in zs) / (len(zs) - 1))
    check(abs(mean) < 0.03 and abs(sd - 1) < 0.03, f"20,000 z: mean {mean:.4f}, sd {sd:.4f}")

    # The clamp ranges of intervention fields against the rules' declarations.
    if RULES.is_dir():
        declared = rhai_ranges()
        problems = []
        for kind, ranges in FIELD_RANGES.items():
            for name, (low, high, integer) in declared.get(kind, {}).items():
                if integer:
                    if name not in UNDRAWABLE_FIELDS:
                        problems.append(f"{kind}.{name} is an integer field")
                elif ranges.get(name) != (low, high):
                    problems.append(f"{kind}.{name}: rules {low, high}, peer {ranges.get(name)}")
            extra = set(ranges) - set(declared.get(kind, {}))
            if extra:
                problems.append(f"{kind}: {sorted(extra)} not declared")
        check(not problems, f"FIELD_RANGES = the min/max declared in {RULES} {problems or ''}")

    workforce = load_workforce(data)
    for scenario_path in scenarios:
        scenario = check_scenario(load_scenario(scenario_path))
        plan = MonteCarloPlan(scenario, workforce)
        label = scenario_path.name
        segments = Grouping(workforce, "segment")
        vectorised = run_draws(scenario, workforce, plan, segments)  # months x 26 x draws x segments
        groups = Grouping(workforce, "staff_group")
        grouped = run_draws(scenario, workforce, plan, groups)
        worst_segment = 0.0
        worst_group = 0.0
        group_ok = True
        for d in range(plan.draws + 1):
            reference = run(scenario, workforce, draw=scalar_draw(plan, d, scenario, workforce))
            for k, name in enumerate(RESULT_COLUMNS):
                worst_segment = max(worst_segment, relative_difference(vectorised[:, k, d, :], reference[name]))
                summed = np.stack([np.bincount(groups.codes, weights=row, minlength=groups.count) for row in reference[name]])
                magnitude = np.stack(
                    [np.bincount(groups.codes, weights=np.abs(row), minlength=groups.count) for row in reference[name]]
                )
                diff = np.abs(grouped[:, k, d, :] - summed)
                worst_group = max(worst_group, relative_difference(grouped[:, k, d, :], summed))
                group_ok &= bool(np.all(diff <= 1e-9 * np.maximum(np.abs(summed), 1e-3 * magnitude)))
        check(
            worst_segment <= 1e-9,
            f"{label}: each of draws 0..{plan.draws} run alone (run() with the draw's values applied segment by "
            f"segment) = the vectorised run, every figure of every segment and month: largest relative "
            f"difference {worst_segment:.1e}",
        )
        check(
            group_ok,
            f"{label}: the same at --group-by staff_group (summed segments): largest relative difference "
            f"{worst_group:.1e}",
        )
        flat = all(entry.p10 == entry.p90 for entry in plan.entries)
        if flat:
            same = all(np.array_equal(grouped[:, :, d, :], grouped[:, :, 0, :]) for d in range(plan.draws + 1))
            same_values = all(np.all(values == values[0]) for values in plan.values)
            check(same and same_values, f"{label}: p10 = p90 everywhere, so every draw equals draw 0 exactly")
        # The stored outputs beside the fixture, when there are any.
        for suffix in ("draws", "results"):
            stored = scenario_path.with_name(f"{scenario_path.stem}.{suffix}.csv")
            if not stored.is_file():
                continue
            buffer = io.StringIO()
            if suffix == "draws":
                writer = csv.writer(buffer, lineterminator="\n")
                writer.writerow(["draw", "entry", "what", "per_value", "value"])
                for d, e, what, per_value, value in plan.rows():
                    writer.writerow([d, e, what, per_value, repr(value)])
                check(buffer.getvalue() == stored.read_text(encoding="utf-8"), f"{label}: {stored.name} is reproduced exactly")
            else:
                old = list(csv.reader(open(stored, newline="", encoding="utf-8")))
                expected_header = ["scenario", "draw", "month", *groups.columns, *RESULT_COLUMNS]
                ok = old[0] == expected_header and len(old) == 1 + (plan.draws + 1) * scenario["months"] * groups.count
                worst = 0.0
                if ok:
                    width = 3 + len(groups.columns)
                    stored_values = np.array([[float(x) for x in row[width:]] for row in old[1:]])
                    mine = np.ascontiguousarray(grouped.transpose(2, 0, 3, 1)).reshape(-1, len(RESULT_COLUMNS))
                    worst = relative_difference(stored_values, mine)
                    ok = worst <= 1e-12
                check(ok, f"{label}: {stored.name} is reproduced (largest relative difference {worst:.1e})")
    print(f"self-check: {'all passed' if not failures else f'{len(failures)} failed'}")
    return 0 if not failures else 1


# ---------------------------------------------------------------------------------------
# Output and command line
# ---------------------------------------------------------------------------------------


def csv_line(fields) -> str:
    """One CSV line (quoted where needed, no line end) by the csv module's rules."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def write_results(path, scenario: dict, workforce: Workforce, out: dict) -> None:
    """Write the results month-major. Floats are written as repr() gives them (the
    shortest text that reads back to the same float); float.__repr__ is called directly
    because it is the same function without the dispatch, and writing dominates a run."""
    months = scenario["months"]
    ys, ms = scenario["start_ym"]
    header = ["scenario", "month", *workforce.key_names, *RESULT_COLUMNS]
    # The text fields of a row are quoted once per segment, not once per row.
    name = csv_line([scenario["name"]])
    if workforce.key_names:
        key_text = [csv_line(keys) for keys in zip(*(workforce.keys[key] for key in workforce.key_names))]
    handle = open(path, "w", newline="", encoding="utf-8") if path else sys.stdout
    try:
        handle.write(csv_line(header) + "\n")
        for t in range(months):
            index = (ms - 1) + t
            label = f"{ys + index // 12:04d}-{index % 12 + 1:02d}"
            prefix = f"{name},{label}"
            prefixes = [f"{prefix},{keys}" for keys in key_text] if workforce.key_names else [prefix] * workforce.size
            figures = [map(float.__repr__, out[column][t].tolist()) for column in RESULT_COLUMNS]
            handle.write("\n".join(map(",".join, zip(prefixes, *figures))))
            handle.write("\n")
    finally:
        if path:
            handle.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="NumPy peer of the wfplan reference model (docs/model.md, version 2)")
    parser.add_argument("--data", type=Path, help="folder with workforce.csv, or a CSV file")
    parser.add_argument("--scenario", type=Path, help="scenario TOML file")
    parser.add_argument("--out", help="results CSV (default: standard output)")
    parser.add_argument("--timing", action="store_true", help="print the engine time to standard error")
    parser.add_argument("--no-out", action="store_true", help="keep the results in memory only (for benchmarks)")
    parser.add_argument("--repeat", type=int, default=1, help="run the model this many times; --timing gives the best")
    mc = parser.add_argument_group("Monte Carlo (a scenario with [monte_carlo], or --draws/--seed)")
    mc.add_argument("--draws", type=int, help="number of random draws (replaces monte_carlo.draws)")
    mc.add_argument("--seed", type=int, help="seed, 0 to 2^64 - 1 (replaces monte_carlo.seed)")
    mc.add_argument("--group-by", help="segment, total, or key columns separated by commas (default staff_group)")
    mc.add_argument("--draws-out", help="write draw,entry,what,per_value,value to this file ('-': standard output)")
    mc.add_argument("--check-draws", type=Path, help="compare a draws CSV (wfplan's) with the peer's values")
    mc.add_argument("--tolerance", type=float, default=0.0, help="relative tolerance of --check-draws (default 0)")
    mc.add_argument(
        "--self-check",
        action="store_true",
        help="check the Monte Carlo runs (default: the fixtures in fixtures/monte_carlo on data/sample)",
    )
    args = parser.parse_args(argv)
    try:
        if args.self_check:
            data = args.data or SAMPLE_DATA
            scenarios = [args.scenario] if args.scenario else sorted(MC_FIXTURES.glob("mc_*.toml"))
            return self_check(data, scenarios)
        if args.data is None or args.scenario is None:
            parser.error("--data and --scenario are required")
        workforce = load_workforce(args.data)
        scenario = check_scenario(load_scenario(args.scenario))
        monte_carlo = bool(scenario["monte_carlo"]) or args.draws is not None or args.seed is not None
        if args.check_draws is not None:
            return check_draws(args.check_draws, MonteCarloPlan(scenario, workforce, args.draws, args.seed), args.tolerance)
        if not monte_carlo:
            if args.group_by or args.draws_out:
                raise ModelError("--group-by and --draws-out apply to Monte Carlo runs ([monte_carlo], --draws, --seed)")
            return deterministic(args, scenario, workforce)
        grouping = Grouping(workforce, args.group_by or "staff_group")
        elapsed = math.inf
        grouped = None
        for _ in range(max(args.repeat, 1)):
            grouped = None
            started = time.perf_counter()
            plan = MonteCarloPlan(scenario, workforce, args.draws, args.seed)
            drawn = time.perf_counter()
            grouped = run_draws(scenario, workforce, plan, grouping)
            finished = time.perf_counter()
            if finished - started < elapsed:
                elapsed, generation = finished - started, drawn - started
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.no_out:
        write_draw_results(args.out, scenario, plan, grouping, grouped)
    if args.draws_out:
        write_draws(args.draws_out, plan)
    if args.timing:
        segment_months = workforce.size * scenario["months"] * (plan.draws + 1)
        rate = segment_months / elapsed if elapsed > 0 else math.inf
        print(
            f"engine: {elapsed:.6f} s for {workforce.size} segments x {scenario['months']} months x "
            f"{plan.draws + 1} draws (0..{plan.draws}) = {segment_months} segment-months, "
            f"{rate:,.0f} segment-months/s (drawing the values: {generation:.6f} s)",
            file=sys.stderr,
        )
    return 0


def deterministic(args, scenario: dict, workforce: Workforce) -> int:
    """One deterministic run (no Monte Carlo): the output of version 2 as before."""
    try:
        elapsed = math.inf
        out = None
        for _ in range(max(args.repeat, 1)):
            out = None  # the last run's arrays go before the next run's are made
            started = time.perf_counter()
            out = run(scenario, workforce)
            elapsed = min(elapsed, time.perf_counter() - started)
    except ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not args.no_out:
        write_results(args.out, scenario, workforce, out)
    if args.timing:
        segment_months = workforce.size * scenario["months"]
        rate = segment_months / elapsed if elapsed > 0 else math.inf
        print(
            f"engine: {elapsed:.6f} s for {workforce.size} segments x {scenario['months']} months "
            f"= {segment_months} segment-months, {rate:,.0f} segment-months/s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
