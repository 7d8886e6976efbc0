#!/usr/bin/env python3
"""A planner's script against a running wfplan server, using only the standard library.

Runs a saved scenario, then downloads its staff-group totals by financial year as CSV and
prints the staff in post of the last year. Usage: run_scenario.py BASE_URL [SCENARIO]
"""
import csv
import io
import json
import sys
import urllib.request


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read().decode()


def main():
    base = sys.argv[1].rstrip("/")
    scenario = sys.argv[2] if len(sys.argv) > 2 else "faculty-plan"
    status, text = call(base, "POST", "/runs", {"scenario": scenario})
    run = json.loads(text)
    if status != 200 or run["status"] != "succeeded":
        sys.exit(f"the run did not succeed: {status} {text}")
    _, text = call(base, "GET", f"/runs/{run['id']}/results?format=csv&group_by=staff_group&metrics=fte,vacancy_rate")
    rows = list(csv.DictReader(io.StringIO(text)))
    last = max(row["period"] for row in rows)
    fte = sum(float(row["fte"]) for row in rows if row["period"] == last)
    print(f"{scenario}: run {run['id']}, {len(rows)} rows, staff in post {fte:.1f} FTE in {last}")


if __name__ == "__main__":
    main()
