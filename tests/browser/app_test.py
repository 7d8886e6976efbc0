#!/usr/bin/env python3
"""The planners' web app in a real browser (Chromium through WebDriver).

Starts `wfplan serve` on port 0 with a fresh database, then does what a planner new to
wfplan would: opens `/`, opens a scenario, runs it and reads its charts, drills down by
staff group, downloads a chart's CSV and checks its rows equal the API's, submits a
scenario form with a bad value and sees the server's message beside the field, fixes it
and saves, compares scenarios with the baseline (and the attribution waterfall), and runs
a small Monte Carlo to see its fan chart. No page may log a console error. Screenshots of
every page, and each page's first-render time from the browser's own navigation timing,
go to the output folder (timings.json; BENCHMARKS.md records them).

Bounded and independent of the machine's speed: every wait is for a state the page
reaches (`body[data-state=ready]`), with a generous ceiling, and nothing is timed against
a threshold.

    python3 tests/browser/app_test.py --bin target/release/wfplan --out DIR
"""

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

# Ceiling on any one wait: a page that never gets ready fails the test, never hangs it.
WAIT_SECONDS = 60


class AppTest:
    def __init__(self, binary, out):
        self.binary = binary
        self.out = out
        self.work = tempfile.mkdtemp(prefix="wfplan-browser-")
        self.log = open(os.path.join(out, "serve.log"), "w")
        self.server = subprocess.Popen(
            [binary, "serve", "--bind", "127.0.0.1:0", "--db",
             os.path.join(self.work, "wfplan.duckdb")],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.server.stdout.readline()
        match = re.search(r"http://[0-9.:]+", line)
        if not match:
            raise SystemExit(f"wfplan serve did not start: {line!r}")
        self.base = match.group(0)
        self.driver = self.start_browser()
        self.timings = {}
        self.shots = 0

    def start_browser(self):
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        # The flags keep Chromium off the network this machine does not have (and its
        # refused connections out of the console), and fit it to a container as root.
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1280,1000",
                     f"--user-data-dir={os.path.join(self.work, 'chromium')}"]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(WAIT_SECONDS)
        driver.set_script_timeout(WAIT_SECONDS)
        return driver

    def close(self):
        try:
            self.driver.quit()
        finally:
            self.server.terminate()
            self.server.wait(timeout=10)
            self.log.close()
            shutil.rmtree(self.work, ignore_errors=True)

    # ---------- the API, as a script would call it ----------

    def api(self, path, body=None, method=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method or ("POST" if body else "GET"),
            headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
            text = response.read().decode()
            return json.loads(text) if "json" in response.headers["Content-Type"] else text

    # ---------- the page ----------

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def wait_ready(self, what):
        """Waits until the page says it has rendered; fails on an error page."""
        def settled(driver):
            state = driver.execute_script("return document.body.dataset.state")
            return state if state in ("ready", "error") else False
        try:
            state = WebDriverWait(self.driver, WAIT_SECONDS, poll_frequency=0.05).until(settled)
        except Exception:
            self.screenshot(f"stuck-{what}")
            raise AssertionError(f"{what}: the page did not finish rendering")
        if state == "error":
            self.screenshot(f"error-{what}")
            message = self.driver.execute_script(
                "const e = document.getElementById('page-error'); return e && e.textContent")
            raise AssertionError(f"{what}: the page shows an error: {message}")
        self.no_console_errors(what)

    def wait_for(self, what, condition):
        try:
            return WebDriverWait(self.driver, WAIT_SECONDS, poll_frequency=0.05).until(
                lambda d: condition())
        except Exception:
            self.screenshot(f"stuck-{what}")
            raise AssertionError(f"{what}: timed out")

    def no_console_errors(self, what, expected_status=None):
        """Fails on any console error. Chromium logs every 4xx answer as a failed
        resource; the one status a step expects (422 for a refused form) is allowed."""
        allowed = f"status of {expected_status} " if expected_status else None
        errors = [e for e in self.driver.get_log("browser")
                  if e["level"] == "SEVERE" and not (allowed and allowed in e["message"])]
        assert not errors, f"{what}: console errors: {errors}"

    def open(self, route, what):
        """Loads a page afresh from its URL (as a bookmark would) and records the time
        from the navigation's start to the app's `wfplan-rendered` mark."""
        # A new document each time: going from one hash route to another in the same
        # document would neither load the page from its URL nor restart its timing.
        self.driver.get("about:blank")
        self.driver.get(f"{self.base}/{route}")
        self.wait_ready(what)
        rendered = self.driver.execute_script(
            "const m = performance.getEntriesByName('wfplan-rendered');"
            "return m.length ? m[m.length - 1].startTime : null")
        assert rendered is not None, f"{what}: no wfplan-rendered mark"
        self.timings[what] = round(rendered, 1)
        self.every_control_labelled(what)
        return rendered

    def every_control_labelled(self, what):
        """Every form control a planner can reach has a name a screen reader reads."""
        unnamed = self.driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea, button')]
              .filter((e) => e.type !== 'hidden' && !e.hidden && e.offsetParent !== null)
              .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                             && !e.getAttribute('aria-labelledby') && !e.textContent.trim())
              .map((e) => e.outerHTML.slice(0, 120));""")
        assert not unnamed, f"{what}: controls without a label: {unnamed}"

    def check_keyboard(self):
        """The app works from the keyboard: Tab reaches the navigation, Enter follows it."""
        self.open("", "scenarios (keyboard)")
        body = self.find("body")
        for _ in range(12):
            body = self.driver.switch_to.active_element
            if body.get_attribute("data-nav") is not None and "Compare" in body.text:
                break
            body.send_keys(Keys.TAB)
        focused = self.driver.switch_to.active_element
        assert "Compare" in focused.text, f"Tab did not reach Compare: {focused.text!r}"
        self.set_ready_marker()
        focused.send_keys(Keys.ENTER)
        self.wait_ready("compare (keyboard)")
        assert "#/compare" in self.driver.current_url, self.driver.current_url

    def set_ready_marker(self):
        """Clears the state so the next wait sees this change's render, not the last."""
        self.driver.execute_script("document.body.dataset.state = 'changing'")

    def screenshot(self, name):
        self.shots += 1
        self.driver.save_screenshot(os.path.join(self.out, f"{self.shots:02d}-{name}.png"))

    def chart(self, name):
        figures = self.find_all(f'figure.chart[data-chart="{name}"]')
        assert figures, f"no chart {name} on {self.driver.current_url}"
        figure = figures[0]
        points = int(figure.get_attribute("data-points"))
        svg = figure.find_elements(By.CSS_SELECTOR, "svg")
        assert svg, f"chart {name} drew nothing"
        assert svg[0].get_attribute("aria-label"), f"chart {name} has no text alternative"
        return figure, points

    # ---------- the planner's journey ----------

    def run(self):
        scenarios = self.api("/scenarios")
        names = sorted(s["name"] for s in scenarios)

        # The list of scenarios at `/`.
        self.open("", "scenarios")
        listed = sorted(a.get_attribute("data-scenario")
                        for a in self.find_all("a[data-scenario]"))
        assert listed == names, f"listed {listed}, the API has {names}"
        self.screenshot("scenarios")

        # Open the baseline and run it.
        self.set_ready_marker()
        self.find('a[data-scenario="baseline"]').click()
        self.wait_ready("scenario page")
        assert self.driver.current_url.endswith("#/scenarios/baseline")
        self.screenshot("scenario")
        self.set_ready_marker()
        self.find("#run-scenario").click()
        self.wait_for("the run's page", lambda: "#/runs/" in self.driver.current_url)
        self.wait_ready("results")
        run_id = int(self.driver.current_url.rsplit("/", 1)[1].split("?")[0])
        self.check_results(run_id)
        self.screenshot("results")

        # Drill down by staff group: the charts are drawn again from the grouped results.
        self.set_ready_marker()
        Select(self.find("#group-by")).select_by_value("staff_group")
        self.wait_ready("results by staff group")
        rows = self.api(f"/runs/{run_id}/results?group_by=staff_group&period=month"
                        "&metrics=fte,required_fte")["rows"]
        # Split by a group, the chart shows each group's staff in post.
        _, points = self.chart("staff-vs-required")
        assert points == len(rows), f"{points} points by staff group, {len(rows)} rows"
        self.screenshot("results-by-staff-group")
        # A filter: the charts redraw for its segments, and the other filters offer only
        # values found with it.
        self.set_ready_marker()
        Select(self.find('select[data-filter="staff_group"]')).select_by_value("physiotherapy")
        self.wait_ready("results filtered to physiotherapy")
        only = "&filter=staff_group=physiotherapy"
        rows = self.api(f"/runs/{run_id}/results?group_by=staff_group&period=month&metrics=fte{only}")["rows"]
        _, points = self.chart("staff-vs-required")
        assert points == len(rows) > 0, f"{points} points, {len(rows)} rows"
        offered = [o.get_attribute("value") for o in self.find_all('select[data-filter="org"] option')]
        with_physio = sorted({r["keys"]["org"] for r in self.api(
            f"/runs/{run_id}/results?group_by=org&period=financial_year&metrics=fte{only}")["rows"]})
        assert offered == ["all"] + with_physio, (offered, with_physio)
        self.check_download(run_id)

        # A bookmarked results page renders from its URL alone.
        self.open(f"#/runs/{run_id}", "results (bookmarked)")

        self.check_form()
        self.check_compare()
        self.check_monte_carlo()
        self.check_sweep()
        self.check_progress_and_cancel()
        self.check_other_pages(run_id)
        self.check_keyboard()
        self.check_api_keys(self.binary)

    def check_results(self, run_id):
        """Each chart plots one point per row (and series) of the results the API gives
        for the same query."""
        months = self.api(f"/runs/{run_id}/results?period=month&metrics=fte,required_fte")
        _, points = self.chart("staff-vs-required")
        assert points == 2 * len(months["rows"]), \
            f"staff-vs-required: {points} points for {len(months['rows'])} months"
        by_group = self.api(f"/runs/{run_id}/results?group_by=staff_group&period=month"
                            "&metrics=vacancy_rate")["rows"]
        _, points = self.chart("vacancy-rate")
        assert points == len(by_group), f"vacancy-rate: {points} points, {len(by_group)} rows"
        years = self.api(f"/runs/{run_id}/results?period=financial_year"
                         "&metrics=bank_cost,agency_cost")["rows"]
        _, points = self.chart("bank-agency-cost")
        assert points == 2 * len(years), f"bank-agency-cost: {points} points, {len(years)} years"
        _, points = self.chart("leavers-joiners")
        assert points == 2 * len(months["rows"]), f"leavers-joiners: {points} points"

    def check_download(self, run_id):
        """The CSV behind a chart's download link is what the chart shows: the same rows
        as its table view and as the API's JSON for the same query."""
        figure, points = self.chart("bank-agency-cost")
        link = figure.find_element(By.CSS_SELECTOR, "a.download-csv")
        href = link.get_attribute("href")
        assert href.startswith(self.base + f"/runs/{run_id}/results?"), href
        assert link.get_attribute("download"), "the link downloads rather than navigates"
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
        assert query["format"] == ["csv"], href
        parquet = figure.find_element(By.CSS_SELECTOR, "a.download-parquet").get_attribute("href")
        assert parquet == href.replace("format=csv", "format=parquet"), parquet
        with urllib.request.urlopen(href, timeout=WAIT_SECONDS) as response:
            assert response.headers["Content-Type"].startswith("text/csv")
            downloaded = list(csv.DictReader(io.StringIO(response.read().decode())))
        json_url = href.replace("format=csv", "format=json")
        with urllib.request.urlopen(json_url, timeout=WAIT_SECONDS) as response:
            api_rows = json.loads(response.read())["rows"]
        assert len(downloaded) == len(api_rows) > 0, (len(downloaded), len(api_rows))
        for got, want in zip(downloaded, api_rows):
            assert got["period"] == want["period"]
            for key, value in want["keys"].items():
                assert got[key] == str(value), (key, got, want)
            for metric, value in want["figures"].items():
                assert abs(float(got[metric]) - value) <= 1e-9 * max(1.0, abs(value)), \
                    (metric, got[metric], value)
        # The table view holds the same rows.
        figure.find_element(By.CSS_SELECTOR, "button.show-table").click()
        table = figure.find_element(By.CSS_SELECTOR, "table.chart-table")
        self.wait_for("the table view", table.is_displayed)
        body_rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(body_rows) * 2 == points or len(body_rows) == points, \
            f"table has {len(body_rows)} rows for {points} points"
        assert len(body_rows) in (len(api_rows), 2 * len(api_rows)), \
            f"table has {len(body_rows)} rows, the download {len(api_rows)}"
        self.screenshot("table-view")

    def check_form(self):
        """A bad value gets the server's message beside its field; fixed, it saves."""
        self.open("#/scenarios/new", "new scenario")
        self.find('[data-field="name"]').send_keys("browser_test")
        self.find('[data-field="description"]').send_keys("Made in the browser test.")
        Select(self.find('[data-field="extends"]')).select_by_value("baseline")
        self.find('[data-field="start"]').send_keys("2025-13")
        self.find('[data-field="months"]').send_keys("36")
        self.set_ready_marker()
        self.find('form#scenario-form button[type="submit"]').click()
        message = self.wait_for(
            "the message beside start",
            lambda: self.find('.field-error[data-error-for="start"]').text.strip() or False)
        assert "YYYY-MM" in message, message
        assert self.find('[data-field="start"]').get_attribute("aria-invalid") == "true"
        self.no_console_errors("form with a bad value", expected_status=422)
        self.screenshot("form-error")
        start = self.find('[data-field="start"]')
        start.clear()
        start.send_keys("2025-04")
        # An intervention from the kinds' declared fields, with a value out of its range:
        # the server names the merged list's third item (after the baseline's two); the
        # form shows it beside this scenario's first.
        self.find("#add-intervention").click()
        Select(self.find('[data-field="interventions[0].kind"]')).select_by_value("retention")
        reduction = self.find('[data-field="interventions[0].reduction"]')
        reduction.send_keys("1.5")
        self.set_ready_marker()
        self.find('form#scenario-form button[type="submit"]').click()
        message = self.wait_for(
            "the message beside reduction",
            lambda: self.find('.field-error[data-error-for="interventions[0].reduction"]').text.strip()
            or False)
        assert "1.5" in message or "allowed" in message, message
        self.no_console_errors("form with a value out of range", expected_status=422)
        self.screenshot("form-error-intervention")
        reduction.clear()
        reduction.send_keys("0.1")
        self.set_ready_marker()
        self.find('form#scenario-form button[type="submit"]').click()
        self.wait_for("the saved scenario's page",
                      lambda: self.driver.current_url.endswith("#/scenarios/browser_test"))
        self.wait_ready("saved scenario")
        saved = self.api("/scenarios/browser_test")
        assert saved["start"] == "2025-04" and saved["months"] == 36, saved
        assert saved["extends"] == "baseline", saved
        assert saved["interventions"] == [{"kind": "retention", "reduction": 0.1}], saved
        # A new scenario may not take a name already in use: the form says so beside it.
        self.open("#/scenarios/new", "new scenario (name taken)")
        self.find('[data-field="name"]').send_keys("baseline")
        self.set_ready_marker()
        self.find('form#scenario-form button[type="submit"]').click()
        message = self.wait_for(
            "the message beside name",
            lambda: self.find('.field-error[data-error-for="name"]').text.strip() or False)
        assert "exists" in message, message
        self.no_console_errors("new scenario with a name in use", expected_status=409)
        assert self.api("/scenarios/baseline")["description"] != "", "baseline unchanged"

    def check_compare(self):
        options = ["retention", "international"]
        self.open(f"#/compare?baseline=baseline&others={','.join(options)}", "compare")
        tables = self.find_all("table.compare-years")
        assert len(tables) == len(options), f"{len(tables)} comparison tables"
        assert len(self.find_all(".verdict")) >= len(options)
        answer = self.api("/compare", {"baseline": {"scenario": "baseline"},
                                       "others": [{"scenario": o} for o in options]})
        for table, view in zip(tables, answer):
            rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
            assert len(rows) == len(view["years"]) + 1, \
                f"{len(rows)} rows for {len(view['years'])} years and the whole run"
        _, points = self.chart("compare")
        assert points == len(options) * len(answer[0]["years"]), points
        self.screenshot("compare")
        # The attribution waterfall of the first option.
        self.set_ready_marker()
        self.find(f'button.run-attribution[data-scenario="{options[0]}"]').click()
        self.wait_ready("attribution")
        for name in ("waterfall-sequential", "waterfall-shapley"):
            self.wait_for(name, lambda: self.find_all(f'figure.chart[data-chart="{name}"] svg'))
            _, points = self.chart(name)
            assert points >= 3, f"{name}: {points} bars"
        self.screenshot("attribution")
        # Five options at once, as a board paper would.
        five = ["retention", "international", "wellbeing", "placements", "bank_shift"]
        self.open(f"#/compare?baseline=baseline&others={','.join(five)}", "compare five")
        assert len(self.find_all("table.compare-years")) == 5

    def check_monte_carlo(self):
        self.open("#/run?scenario=retention", "run form")
        Select(self.find("#run-scenario-select")).select_by_value("retention")
        self.find("#run-draws").send_keys("20")
        self.set_ready_marker()
        self.find("#start-run").click()
        self.wait_for("the run's page", lambda: "#/runs/" in self.driver.current_url)
        self.wait_ready("Monte Carlo results")
        run_id = int(self.driver.current_url.rsplit("/", 1)[1].split("?")[0])
        run = self.api(f"/runs/{run_id}")
        assert run["status"] == "succeeded", run
        _, points = self.chart("fan")
        assert points > 0
        _, points = self.chart("distribution")
        assert points > 0
        self.screenshot("monte-carlo")
        self.open(f"#/runs/{run_id}", "Monte Carlo results (bookmarked)")

    def check_sweep(self):
        """A sweep of one of the scenario's own numbers, chosen on the run form: one run
        per value, each with its results."""
        self.open("#/run?scenario=retention", "run form (sweep)")
        Select(self.find("#run-scenario-select")).select_by_value("retention")
        Select(self.find("#run-detail")).select_by_value("staff_group")
        # The baseline's two interventions come first: retention's own is the third.
        Select(self.find("#run-sweep-field")).select_by_value("interventions.2.reduction")
        self.find("#run-sweep-values").send_keys("0.04, 0.08, 0.12")
        self.set_ready_marker()
        self.find("#start-run").click()
        self.wait_for("the run's page", lambda: "#/runs/" in self.driver.current_url)
        self.wait_ready("sweep results")
        run_id = int(self.driver.current_url.rsplit("/", 1)[1].split("?")[0])
        run = self.api(f"/runs/{run_id}")
        names = sorted(s["scenario"] for s in run["scenarios"])
        assert names == [f"retention[interventions.2.reduction={v}]" for v in ("0.04", "0.08", "0.12")], names
        assert len(self.find_all("section.scenario-results")) == 3
        self.screenshot("sweep")

    def check_api_keys(self, binary):
        """On a server started with API keys the app asks for one, keeps it, and then
        shows the data; the page itself needs no key."""
        work = tempfile.mkdtemp(prefix="wfplan-browser-keyed-")
        env = dict(os.environ, WFPLAN_API_KEYS="writer-key-0123456789:write")
        server = subprocess.Popen(
            [binary, "serve", "--bind", "127.0.0.1:0", "--db", os.path.join(work, "w.duckdb")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            base = re.search(r"http://[0-9.:]+", server.stdout.readline()).group(0)
            self.driver.get("about:blank")
            self.driver.get(f"{base}/#/scenarios")
            self.wait_for("the key form", lambda: self.find("#api-key-box").is_displayed())
            self.driver.get_log("browser")  # the 401 that asked for the key
            self.screenshot("api-key")
            self.find("#api-key").send_keys("writer-key-0123456789")
            self.find("#api-key-form button[type=submit]").click()
            self.wait_ready("scenarios with a key")
            assert self.find_all('a[data-scenario="baseline"]'), "the list after the key"
            assert not self.find("#api-key-box").is_displayed()
        finally:
            server.terminate()
            server.wait(timeout=10)
            shutil.rmtree(work, ignore_errors=True)

    def check_progress_and_cancel(self):
        """A long background run shows its progress (draws, for a Monte Carlo run) and
        stops when cancelled."""
        self.open("#/run?scenario=retention", "run form (long run)")
        Select(self.find("#run-scenario-select")).select_by_value("retention")
        Select(self.find("#run-detail")).select_by_value("total")
        self.find("#run-draws").send_keys("100000")
        self.find("#start-run").click()
        self.wait_for("progress", lambda: self.find_all("#run-progress") and float(
            self.find("#run-progress").get_attribute("value") or 0) > 0)
        run_id = int(self.driver.current_url.rsplit("/", 1)[1].split("?")[0])
        status = self.find("#run-status").text
        assert "random draws made" in status, status
        self.screenshot("run-progress")
        self.set_ready_marker()
        self.find("#cancel-run").click()
        self.wait_ready("cancelled run")
        assert self.api(f"/runs/{run_id}")["status"] == "cancelled"
        assert "cancelled" in self.find("#run-status").text
        assert not self.find_all("#cancel-run")
        self.screenshot("run-cancelled")

    def check_other_pages(self, run_id):
        self.open("#/runs", "runs")
        assert self.find_all(f'a[href="#/runs/{run_id}"]'), "the run is listed"
        self.screenshot("runs")
        self.open("#/scenarios/browser_test/edit", "edit scenario")
        assert self.find('[data-field="start"]').get_attribute("value") == "2025-04"
        self.screenshot("edit")
        self.open("#/scenarios/baseline", "scenario (bookmarked)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", required=True, help="the wfplan binary")
    parser.add_argument("--out", required=True, help="folder for screenshots and timings")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    started = time.monotonic()
    test = AppTest(args.bin, args.out)
    try:
        test.run()
    finally:
        with open(os.path.join(args.out, "timings.json"), "w") as f:
            json.dump({"first_render_ms": test.timings}, f, indent=2)
        test.close()
    print(f"browser test passed in {time.monotonic() - started:.0f} s; "
          f"screenshots and timings in {args.out}")
    for page, ms in test.timings.items():
        print(f"  {page:32} first render {ms:7.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
