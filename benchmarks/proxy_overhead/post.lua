-- wrk script: POSTs the JSON body in $BODY_FILE with the headers the proxy
-- (or the upstream) expects, and prints one key=value line for ./run.
-- No response() callback: defining one makes wrk hand every body to Lua.
-- SPDX-License-Identifier: MIT

local path = os.getenv("BODY_FILE")
local file = assert(io.open(path, "rb"), "BODY_FILE not readable: " .. tostring(path))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
-- Fake credentials: the mock ignores them and the proxy is started without SERVER_API_KEY.
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-api-key"] = "sk-ant-bench-not-a-real-key"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "\nwrk_result requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d mean_us=%.1f max_us=%d " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
