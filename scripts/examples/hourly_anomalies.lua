-- examples/hourly_anomalies.lua — an analyst's batch report, run with
--   riskd run scripts/examples/hourly_anomalies.lua [SCORED.jsonl]
-- Reads attempts scored by `riskd score` (or the store's events when no file
-- is given) and prints, per hour of the day (UTC), the attempts, how many the
-- model found anomalous, and the mean risk: when do the odd logins happen?
local cjson = require("cjson")
local time = require("lib.time")

local hours = {}
for h = 0, 23 do hours[h] = { n = 0, anomalies = 0, risk = 0 } end

local function add(ts_ms, is_anomaly, risk)
    local h = (ts_ms // 3600000) % 24
    local b = hours[h]
    b.n = b.n + 1
    if is_anomaly then b.anomalies = b.anomalies + 1 end
    b.risk = b.risk + (risk or 0)
end

local path = ...
if path then
    for line in assert(io.open(path)):lines() do
        local e = cjson.decode(line)
        add(assert(time.parse(e.timestamp)), e.is_anomaly, e.risk_score)
    end
else
    local db = assert(require("riskd.store").worker())
    local page = 1
    repeat
        local r = assert(db:events({ page = page, per_page = 1000 }))
        for _, e in ipairs(r.events) do add(e.ts, e.is_anomaly, e.risk_score) end
        page = page + 1
    until #r.events < 1000
end

print(string.format("%-6s %9s %10s %8s %10s", "hour", "attempts", "anomalies", "rate", "mean risk"))
for h = 0, 23 do
    local b = hours[h]
    print(string.format("%02d:00  %9d %10d %7.2f%% %10.2f", h, b.n, b.anomalies,
        b.n > 0 and 100 * b.anomalies / b.n or 0, b.n > 0 and b.risk / b.n or 0))
end
return 0
