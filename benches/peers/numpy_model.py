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
kinds and `where` values that no segment has. Monte Carlo, attribution, goal seek and
traces (sections 7 to 10) are not implemented here.

Usage:
    python3 benches/peers/numpy_model.py --data DIR_OR_CSV --scenario FILE.toml \
        [--out results.csv] [--timing] [--no-out]

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
    parser.add_argument("--data", required=True, type=Path, help="folder with workforce.csv, or a CSV file")
    parser.add_argument("--scenario", required=True, type=Path, help="scenario TOML file")
    parser.add_argument("--out", help="results CSV (default: standard output)")
    parser.add_argument("--timing", action="store_true", help="print the engine time to standard error")
    parser.add_argument("--no-out", action="store_true", help="keep the results in memory only (for benchmarks)")
    parser.add_argument("--repeat", type=int, default=1, help="run the model this many times; --timing gives the best")
    args = parser.parse_args(argv)
    try:
        workforce = load_workforce(args.data)
        scenario = check_scenario(load_scenario(args.scenario))
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
