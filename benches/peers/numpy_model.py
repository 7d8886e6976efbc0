#!/usr/bin/env python3
"""NumPy peer of the wfplan reference model (docs/model.md, version 1).

This file is written the way a competent analyst would write the model in NumPy:
one array per input column over all segments, a Python loop over the months of the
run (the staff-in-post stock is a recurrence, so the months cannot be vectorised
away), and a small loop over the scenario's interventions inside each month. It is
both the "NumPy peer" benchmark and an independent check of the Rust engine's figures,
so it follows the spec literally; the readings of the spec's open points are listed
in README.md beside this file.

Usage:
    python3 benches/peers/numpy_model.py --data DIR_OR_CSV --scenario FILE.toml \
        [--out results.csv] [--timing]

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
}
RATE_KINDS = ("retention", "wellbeing", "time_released", "bank_shift")
PIPELINE_KINDS = ("placements", "apprenticeships", "return_to_practice", "international")
INTEGER_FIELDS = {"intake_month", "course_months"}

SCENARIO_FIELDS = {"name", "description", "extends", "start", "months", "overrides", "interventions"}
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


class ModelError(Exception):
    """A problem with the inputs, reported to the user as one clear line."""


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------


class Workforce:
    """The workforce table: key columns as lists of strings, numeric columns as arrays."""

    def __init__(self, key_names, keys, numbers, source):
        self.key_names = key_names  # key columns in file order
        self.keys = keys  # name -> list[str]
        self.numbers = numbers  # name -> float64 array
        self.source = source
        self.size = len(numbers["fte"])


def load_workforce(data: Path) -> Workforce:
    path = data / "workforce.csv" if data.is_dir() else data
    if not path.is_file():
        raise ModelError(f"no workforce table at {path} (expected a CSV file or a folder with workforce.csv)")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise ModelError(f"{path}: empty file") from None
        rows = [row for row in reader if row]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ModelError(f"{path}: duplicate columns {duplicates}")
    missing = [name for name in NUMERIC_COLUMNS if name not in header]
    if missing:
        raise ModelError(f"{path}: missing columns {missing}")
    if not rows:
        raise ModelError(f"{path}: no segments")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ModelError(f"{path}: row {line} has {len(row)} fields, header has {len(header)}")
    columns = list(zip(*rows))
    key_names = [name for name in header if name not in NUMERIC_COLUMNS]
    keys = {name: list(columns[header.index(name)]) for name in key_names}
    numbers = {}
    for name in NUMERIC_COLUMNS:
        raw = columns[header.index(name)]
        try:
            values = np.array([float(cell) for cell in raw], dtype=np.float64)
        except ValueError:
            for line, cell in enumerate(raw, start=2):
                try:
                    float(cell)
                except ValueError:
                    raise ModelError(f"{path}: row {line}, column {name}: {cell!r} is not a number") from None
            raise
        if not np.all(np.isfinite(values)):
            line = int(np.argmin(np.isfinite(values))) + 2
            raise ModelError(f"{path}: row {line}, column {name}: not a finite number")
        numbers[name] = values
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
    for field in ("overrides", "interventions"):
        items = table.get(field, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ModelError(f"{path}: `{field}` must be an array of tables ([[{field}]])")
    own_items = {
        field: [(path, index, item) for index, item in enumerate(table.get(field, []), start=1)]
        for field in ("overrides", "interventions")
    }
    scenario = {"name": path.stem, "description": "", "start": None, "months": None}
    if "extends" in table:
        parent_name = table["extends"]
        if not isinstance(parent_name, str) or not parent_name:
            raise ModelError(f"{path}: `extends` must be the name of a scenario in the same folder")
        parent_file = parent_name if parent_name.endswith(".toml") else parent_name + ".toml"
        parent = load_scenario(path.parent / parent_file, chain + (path,))
        scenario["description"] = parent["description"]
        scenario["start"] = parent["start"]
        scenario["months"] = parent["months"]
        overrides = parent["overrides"] + own_items["overrides"]
        interventions = parent["interventions"] + own_items["interventions"]
    else:
        overrides = own_items["overrides"]
        interventions = own_items["interventions"]
    for field in ("name", "description", "start", "months"):
        if field in table:
            scenario[field] = table[field]
    scenario["overrides"] = overrides
    scenario["interventions"] = interventions
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
    return scenario


def where_mask(where, workforce: Workforce, context: str) -> np.ndarray:
    """Segments matching a `{ column = value }` / `{ column = [v1, v2] }` filter: every
    condition must hold. Integers compare as their string form (band = 5 matches "5")."""
    if where is None:
        return np.ones(workforce.size, dtype=bool)
    if not isinstance(where, dict):
        raise ModelError(f"{context}: a where-filter must be a table like {{ column = value }}")
    mask = np.ones(workforce.size, dtype=bool)
    for column, wanted in where.items():
        if column in NUMERIC_COLUMNS:
            raise ModelError(f"{context}: where column `{column}` is numeric; filters use key columns {workforce.key_names}")
        if column not in workforce.keys:
            raise ModelError(f"{context}: unknown where column `{column}`; key columns are {workforce.key_names}")
        values = wanted if isinstance(wanted, list) else [wanted]
        texts = set()
        for value in values:
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise ModelError(f"{context}: where value {value!r} for `{column}` must be a string or an integer")
            texts.add(str(value))
        mask &= np.fromiter((cell in texts for cell in workforce.keys[column]), dtype=bool, count=workforce.size)
    return mask


def number(value, context: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelError(f"{context}: expected a number, got {value!r}")
    return float(value)


def apply_overrides(scenario: dict, workforce: Workforce) -> dict:
    """Return the numeric input columns with the scenario's overrides applied in order."""
    columns = {name: values.copy() for name, values in workforce.numbers.items()}
    for path, index, override in scenario["overrides"]:
        context = f"{path}: overrides #{index}"
        unknown = sorted(set(override) - {"where", "set"})
        if unknown:
            raise ModelError(f"{context}: unknown fields {unknown}")
        mask = where_mask(override.get("where"), workforce, context)
        settings = override.get("set", {})
        if not isinstance(settings, dict):
            raise ModelError(f"{context}: `set` must be a table like {{ leaver_rate = 0.09 }}")
        for column, value in settings.items():
            if column not in NUMERIC_COLUMNS:
                raise ModelError(f"{context}: `set` can only change numeric input columns, not `{column}`")
            columns[column][mask] = number(value, f"{context}, set.{column}")
    return columns


def check_inputs(columns: dict, workforce: Workforce) -> None:
    """The few input ranges without which the formulas give nonsense (division by zero,
    a negative base under a fractional power)."""
    headroom = (
        columns["annual_leave_rate"] + columns["study_leave_rate"] + columns["other_leave_rate"] + columns["sickness_rate"]
    )
    checks = [
        ("hours_per_week", columns["hours_per_week"] > 0, "must be > 0"),
        ("demand_growth", columns["demand_growth"] > -1, "must be > -1"),
        ("leaver_rate", (columns["leaver_rate"] >= 0) & (columns["leaver_rate"] < 1), "must be in [0, 1)"),
        ("time_to_fill", columns["time_to_fill"] >= 0, "must be >= 0"),
        ("fte", columns["fte"] >= 0, "must be >= 0"),
        ("establishment", columns["establishment"] >= 0, "must be >= 0"),
        ("headroom", headroom < 1, "(annual + study + other leave + sickness) must be < 1"),
    ]
    for name, ok, rule in checks:
        if not np.all(ok):
            line = int(np.argmin(ok)) + 2
            raise ModelError(f"{workforce.source}: row {line}: {name} {rule} (after overrides)")


# ---------------------------------------------------------------------------------------
# Interventions
# ---------------------------------------------------------------------------------------


class Intervention:
    """One intervention, checked, with its month window relative to the scenario start."""

    def __init__(self, path, index, raw, scenario, workforce):
        context = f"{path}: interventions #{index}"
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
        self.ramp_months = number(raw.get("ramp_months", 1), f"{context}: ramp_months")
        if self.ramp_months <= 0:
            raise ModelError(f"{context}: ramp_months must be > 0")
        self.cost_per_month = number(raw.get("cost_per_month", 0), f"{context}: cost_per_month")
        self.mask = where_mask(raw.get("where"), workforce, f"{context}: where")
        self.fields = {}
        for field, default in KIND_FIELDS[kind].items():
            if field == "to":
                continue
            if field not in raw and default is None:
                raise ModelError(f"{context}: field `{field}` is required for kind {kind}")
            value = number(raw.get(field, default), f"{context}: {field}")
            if field in INTEGER_FIELDS and (value != int(value) or value < 0):
                raise ModelError(f"{context}: {field} must be a whole number >= 0")
            self.fields[field] = value
        if "intake_month" in self.fields and not 1 <= self.fields["intake_month"] <= 12:
            raise ModelError(f"{context}: intake_month must be 1..12")
        if kind == "skill_mix":
            if "to" not in raw:
                raise ModelError(f"{context}: field `to` is required for kind skill_mix")
            self.to_mask = where_mask(raw["to"], workforce, f"{context}: to")

    def ramp(self, t: int) -> float:
        if t < self.t0 or t > self.t1:
            return 0.0
        return min(1.0, (t - self.t0 + 1) / self.ramp_months)

    def active_months(self, months: int) -> range:
        """Months of the run in t0..t1 (cohorts cannot start before month 0)."""
        first = max(self.t0, 0)
        last = months - 1 if self.t1 == math.inf else min(int(self.t1), months - 1)
        return range(first, last + 1)


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


def pipeline_series(item: Intervention, months: int, start_month: int):
    """Monthly totals of one pipeline intervention before attribution:
    (landed joiners, people in training, cost)."""
    f = item.fields
    starters = np.zeros(months)
    for t in item.active_months(months):
        if item.kind in ("placements", "apprenticeships"):
            calendar_month = (start_month - 1 + t) % 12 + 1
            if calendar_month == f["intake_month"]:
                starters[t] = f["places_per_year"] if item.kind == "placements" else f["starts_per_year"]
        elif item.kind == "return_to_practice":
            starters[t] = f["returners_per_year"] / 12
        else:  # international
            starters[t] = f["recruits_per_year"] / 12
    course = int(f["course_months"])
    if item.kind in ("placements", "apprenticeships"):
        per_starter = f["completion"] * f["local_employment"]
    elif item.kind == "return_to_practice":
        per_starter = f["success"]
    else:
        per_starter = f["arrival"]
    landed = np.zeros(months)
    if course < months:
        landed[course:] = starters[: months - course] * per_starter  # later landings are dropped
    in_training = np.zeros(months)
    if item.kind in ("placements", "apprenticeships"):
        # A cohort is in training in months start <= t < start + course_months. There is
        # at most one cohort a year, so a loop over cohorts is cheap.
        for start in np.flatnonzero(starters):
            in_training[start : start + course] += starters[start]
    if item.kind == "placements":
        cost = in_training * f["cost_per_place_year"] / 12
    elif item.kind == "apprenticeships":
        cost = in_training * (f["salary_per_year"] + f["cost_per_place_year"]) / 12
    elif item.kind == "return_to_practice":
        cost = starters * f["cost_per_returner"]
    else:
        cost = starters * f["cost_per_recruit"]
    return landed, in_training, cost


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


def run(scenario: dict, workforce: Workforce) -> dict:
    """Run one scenario. Returns {column: array[months, segments]}."""
    months = scenario["months"]
    n = workforce.size
    inputs = apply_overrides(scenario, workforce)
    check_inputs(inputs, workforce)
    interventions = [Intervention(path, index, raw, scenario, workforce) for path, index, raw in scenario["interventions"]]
    start_month = scenario["start_ym"][1]

    establishment = inputs["establishment"]
    leaver_rate = inputs["leaver_rate"]
    sickness_rate = inputs["sickness_rate"]
    other_headroom = inputs["annual_leave_rate"] + inputs["study_leave_rate"] + inputs["other_leave_rate"]
    hours_per_week = inputs["hours_per_week"]
    dcc_share = inputs["dcc_share"]
    annual_pay = inputs["annual_pay"]
    time_to_fill = inputs["time_to_fill"]
    growth = 1 + inputs["demand_growth"]
    hours_pm = hours_per_week * 52 / 12
    hourly_pay = annual_pay / (hours_per_week * 52)
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
    rate_items, skill_mix_items = [], []
    for item in interventions:
        item.maskf = item.mask.astype(np.float64)
        if not item.mask.any():
            continue  # matches no segment: no effect at all
        weights = attribution_weights(item.mask, fte_at_start)
        cost = np.zeros(months)
        active = item.active_months(months)
        if len(active):  # an empty range may have a negative stop, which would wrap
            cost[active.start : active.stop] += item.cost_per_month
        if item.kind in PIPELINE_KINDS:
            landed, in_training, pipeline_cost = pipeline_series(item, months, start_month)
            joined_column, training_column = pipeline_output[item.kind]
            out[joined_column] += np.outer(landed, weights)
            if training_column:
                out[training_column] += np.outer(in_training, weights)
            cost = cost + pipeline_cost
        elif item.kind == "skill_mix":
            skill_mix_items.append(item)
        else:
            rate_items.append(item)
        if cost.any():
            out["intervention_cost"] += np.outer(cost, weights)

    # skill_mix needs, per segment, whether its org has a `to` segment and its share of
    # the org's `to` establishment.
    if skill_mix_items:
        if "org" not in workforce.keys:
            raise ModelError(f"{workforce.source}: skill_mix needs an `org` key column")
        org_names, org_code = np.unique(np.array(workforce.keys["org"], dtype=object), return_inverse=True)
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
        sickness = np.maximum(0.0, sickness_rate - sickness_cut)
        released = base_required - required
        for item in skill_mix_items:
            ramp = item.ramp(t)
            if ramp == 0:
                continue
            moved = required * item.fields["share"] * ramp * item.from_f
            moved_in = np.bincount(item.org_code, weights=moved * item.fields["ratio"], minlength=item.org_count)
            required = required - moved + moved_in[item.org_code] * item.split

        # The month's figures from fte(t).
        headroom = other_headroom + sickness
        productive_hours = hours_pm * (1 - headroom)
        leavers = fte * (1 - (1 - leaver) ** (1 / 12))
        vacancies = np.maximum(0.0, required - fte)
        recruits = vacancies * fill_rate
        joiners = recruits + out["newly_qualified"][t] + out["apprentices_qualified"][t] + out["returners"][t] + out["international"][t]
        available_hours = fte * productive_hours
        clinical_hours = available_hours * dcc_share
        demand_hours = required * productive_hours * dcc_share
        gap = np.maximum(0.0, demand_hours - clinical_hours)
        bank_hours = gap * bank_share
        agency_hours = gap * agency_share

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
            "time_released_hours": released * productive_hours * dcc_share,
        }
        for name, values in row.items():
            out[name][t] = values

        fte = fte - leavers + joiners
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
    parser = argparse.ArgumentParser(description="NumPy peer of the wfplan reference model (model-spec.md v1)")
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
