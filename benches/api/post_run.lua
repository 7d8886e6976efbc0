-- wrk script: every request runs one scenario synchronously (POST /runs).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WFPLAN_RUN_BODY") or '{"scenario": "baseline"}'

-- Count answers that are not 200, so a fast error is never mistaken for a fast run.
local failures = 0
response = function(status, headers, body)
    if status ~= 200 then
        failures = failures + 1
    end
end

done = function(summary, latency, requests)
    io.write(string.format("median %.1f ms, p99 %.1f ms, %.1f runs/s, %d non-200\n",
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.requests / (summary.duration / 1e6), summary.errors.status))
end
