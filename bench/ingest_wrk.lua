-- wrk script for bench/ingest.py --wrk: POSTs Alertmanager notifications to Tocsin.
-- WRK_MODE=distinct makes every request's alert (and group) new; duplicates sends one body.
local token = os.getenv("WRK_TOKEN") or ""
local mode = os.getenv("WRK_MODE") or "distinct"
local path = os.getenv("WRK_PATH") or "/api/v1/integrations/alertmanager/"
local counter = 0
local thread_id = 0
local run = tostring(os.time())

function setup(thread)
  thread_id = thread_id + 1
  thread:set("id", thread_id)
end

local function body(index)
  local group = "g" .. index
  if mode == "duplicates" then group = "g0"; index = 0 end
  if mode == "groups" then group = "g" .. (index % 10) end
  return string.format(
    '{"version":"4","groupKey":"{}:{group=\\"%s-%s\\"}","status":"firing",' ..
    '"groupLabels":{"group":"%s"},"alerts":[{"status":"firing",' ..
    '"labels":{"alertname":"WrkAlert","instance":"host-%d"},' ..
    '"annotations":{"summary":"Wrk %s %s"},"fingerprint":"w%s%d"}]}',
    run, group, group, index, run, group, run, index)
end

function request()
  counter = counter + 1
  local index = (id or 0) * 100000000 + counter
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body(index))
end

function done(summary, latency, requests)
  io.write(string.format("status errors   %d non-2xx/3xx, %d socket errors\n",
    summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
