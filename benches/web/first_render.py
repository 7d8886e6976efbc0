#!/usr/bin/env python3
"""First render of each page of the web app in headless Chromium, on loopback with the
sample data: the time from the navigation's start to the app's `wfplan-rendered` mark
(the browser's own navigation timing), each page loaded afresh ROUNDS times. The compare
pages run their scenarios afresh on the server (POST /compare), so their time includes
the engine.

    python3 benches/web/first_render.py --bin $CARGO_TARGET_DIR/release/wfplan [--rounds 10]
"""

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "browser"))
from app_test import AppTest  # noqa: E402  (the browser test's server and browser)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    out = tempfile.mkdtemp(prefix="wfplan-web-bench-")
    app = AppTest(args.bin, out)
    try:
        run_id = app.api("/runs", {"scenario": "baseline"})["id"]
        mc_id = app.api("/runs", {"scenario": "retention", "draws": 200,
                                  "detail": "staff_group"})["id"]
        app.wait_for("the Monte Carlo run",
                     lambda: app.api(f"/runs/{mc_id}")["status"] != "running")
        five = "retention,international,wellbeing,placements,bank_shift"
        pages = {
            "scenarios": "",
            "scenario": "#/scenarios/faculty_plan",
            "scenario form": "#/scenarios/faculty_plan/edit",
            "run form": "#/run",
            "runs": "#/runs",
            "results (60 months, segment detail)": f"#/runs/{run_id}",
            "Monte Carlo results (200 draws)": f"#/runs/{mc_id}",
            "compare 2 scenarios": "#/compare?baseline=baseline&others=retention,international",
            "compare 5 scenarios": f"#/compare?baseline=baseline&others={five}",
        }
        print(f"{'page':40} {'min ms':>8} {'median':>8} {'max':>8}   ({args.rounds} loads each)")
        for name, route in pages.items():
            times = [app.open(route, name) for _ in range(args.rounds)]
            print(f"{name:40} {min(times):8.0f} {statistics.median(times):8.0f} "
                  f"{max(times):8.0f}")
    finally:
        app.close()


if __name__ == "__main__":
    main()
