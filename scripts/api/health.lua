-- api/health.lua — liveness and metrics.
local engine = require("riskd.engine")
local geo = require("riskd.geo")
local response = require("lib.response")

local M = {}

local db
-- For specs: another store (the server's is this worker's).
function M.use(d) db = d end

-- GET /healthz: 200 while serving and the store answers a read (a round
-- trip to MongoDB), with the version and the script generation; 503 with
-- why when the store does not answer, so that a load balancer takes the
-- instance out.
function M.healthz()
    db = db or require("riskd.store").worker()
    local ok, err = false, "no store"
    if db then ok, err = db:ping() end
    if not ok then
        return 503, { status = "unavailable", version = engine.version, worker = engine.worker(),
                      error = { code = "store_unavailable", message = "the store does not answer: " .. tostring(err) } }
    end
    return 200, {
        status = "ok",
        store = db:backend(),
        version = engine.version,
        generation = engine.generation(),
        worker = engine.worker(),
        enrichment = geo.enabled() and "on" or "off",
        model = require("riskd.iforest").current() and "on" or "off",
    }
end

local function loopback(addr)
    return addr ~= nil and (addr:match("^127%.") ~= nil or addr == "::1" or addr:match("^::ffff:127%.") ~= nil)
end

-- GET /metrics: Prometheus text format. Only to loopback clients unless
-- RISKD_METRICS_PUBLIC=1 (route names and rates say a lot about a site).
function M.metrics(req)
    local ok, cfg = pcall(engine.config)
    if not loopback(req and req.remote_addr) and not (ok and cfg and cfg.metrics_public) then
        return response.error(403, "forbidden", "metrics are served to loopback clients only (RISKD_METRICS_PUBLIC=1 opens them)")
    end
    local text, err = engine.metrics()
    if not text then error(err) end
    local t = require("lib.analyze").thresholds(require("riskd.calib").current(), require("riskd.rules").config())
    if t then text = text .. "# HELP riskd_level_threshold The risk score from which each level starts (calibrated, or rules/config.lua's levels).\n"
        .. "# TYPE riskd_level_threshold gauge\n"
        .. string.format('riskd_level_threshold{level="medium"} %g\nriskd_level_threshold{level="high"} %g\n'
                         .. 'riskd_level_threshold{level="critical"} %g\n', t.medium, t.high, t.critical)
        .. "# HELP riskd_levels_calibrated 1 once the thresholds follow the recent scores, 0 while warming up.\n"
        .. "# TYPE riskd_levels_calibrated gauge\nriskd_levels_calibrated " .. (t.calibrated and 1 or 0) .. "\n"
        .. "# HELP riskd_calibration_attempts The weight of the recent attempts the calibration remembers.\n"
        .. "# TYPE riskd_calibration_attempts gauge\nriskd_calibration_attempts " .. t.attempts .. "\n" end
    return 200, text, { ["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8" }
end

-- GET /api/ping: the smallest JSON route (used by make bench).
function M.ping()
    return 200, { pong = true }
end

return M
