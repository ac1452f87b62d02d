-- bench/pipeline.lua — `riskd run bench/pipeline.lua [N]`: the analysis
-- pipeline alone (no HTTP) over N varied attempts; prints the time per
-- attempt with and without recording, so the store's share is visible.
local analyze = require("lib.analyze")
local time = require("lib.time")
local deps = {
    store = require("riskd.store").worker(), model = require("riskd.iforest").current(),
    rules = require("riskd.rules"), features = require("riskd.features"),
    config = require("riskd.rules").config(), format_time = time.format,
}
local n = tonumber(arg[1] or "20000")
local cities = { { "FR", 48.85, 2.35 }, { "DE", 52.52, 13.40 }, { "US", 40.71, -74.0 }, { "JP", 35.68, 139.65 } }
local base = time.parse("2026-10-01T00:00:00Z")

local function attempt(i)
    local u = (i * 7919) % 10000
    local c = cities[u % #cities + 1]
    return { user_id = string.format("user%05d", u), ip_address = string.format("10.%d.%d.%d", u % 200, i % 250, 7),
             ts = base + i * 60000, success = i % 20 ~= 0, country = c[1], latitude = c[2], longitude = c[3],
             device_id = "dev-" .. u, user_agent = "Firefox/" .. (118 + u % 3) }
end

local function run(label, d, count)
    local t0 = os.clock()
    for i = 1, count do analyze.analyze(attempt(i), d) end
    local us = (os.clock() - t0) / count * 1e6
    print(string.format("  %-46s %8.1f us per attempt (%d attempts)", label, us, count))
end

print("pipeline alone (riskd run, no HTTP):")
run("features, model, rules, store reads and write", deps, n)
local ro = setmetatable({ record = function() return "not-recorded" end }, { __index = function(_, k)
    return function(_, ...) return deps.store[k](deps.store, ...) end
end })
local nodb = {}
for k, v in pairs(deps) do nodb[k] = v end
nodb.store = ro
run("the same without the write", nodb, n)
