-- api/health.lua — liveness and metrics.
local engine = require("riskd.engine")
local geo = require("riskd.geo")

local M = {}

-- GET /healthz: 200 while serving, with the version and the script generation.
function M.healthz()
    return 200, {
        status = "ok",
        version = engine.version,
        generation = engine.generation(),
        worker = engine.worker(),
        enrichment = geo.current() and "on" or "off",
    }
end

-- GET /metrics: Prometheus text format.
function M.metrics()
    local text, err = engine.metrics()
    if not text then error(err) end
    return 200, text, { ["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8" }
end

-- GET /api/ping: the smallest JSON route (used by make bench).
function M.ping()
    return 200, { pong = true }
end

return M
