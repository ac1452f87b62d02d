-- api/login.lua — login analysis and the event history (the Flask system's
-- /api/login/* paths).
local cjson = require("cjson")
local analyze = require("lib.analyze")
local query = require("lib.query")
local response = require("lib.response")
local time = require("lib.time")
local features = require("riskd.features")
local iforest = require("riskd.iforest")
local rules = require("riskd.rules")
local store = require("riskd.store")

local M = {}

-- The worker's store and model, looked up on first use (this state is
-- rebuilt on every reload, so they are never stale).
local deps

local function now_ms() return math.floor(os.time() * 1000) end

local function get_deps()
    if deps then return deps end
    deps = {
        store = store.worker(),
        model = iforest.current(),
        geo = require("riskd.geo").current(),
        intel = require("riskd.intel").current(),
        calib = require("riskd.calib").current(),
        xacct = require("riskd.xacct").current(),
        rules = rules,
        features = features,
        config = rules.config(),
        format_time = time.format,
    }
    return deps
end

-- For specs: run the handlers on given collaborators instead of the worker's.
function M.use(d) deps = d end

-- riskd's own sign-ins (api/auth.lua) go through the same pipeline, as the
-- user "riskd:<name>" so that they never mix with a monitored service's
-- users. Returns the analysis, or nil when it failed (the sign-in goes on).
function M.assess_signin(username, req, success)
    local a = { user_id = store.own_prefix .. username, ts = now_ms(), ip_address = req.remote_addr, success = success,
                user_agent = req.headers and req.headers["user-agent"] or nil }
    if a.user_agent and #a.user_agent > 512 then a.user_agent = a.user_agent:sub(1, 512) end
    local ok, result = pcall(analyze.analyze, a, get_deps(), { own_signin = true })
    return ok and result or nil
end

-- POST /api/login/analyze
function M.analyze(req)
    local d = get_deps()
    local a, msg, field = M.attempt(req.body, now_ms())
    if not a then return response.error(400, "invalid_field", msg, { ["X-Invalid-Field"] = field }) end
    local q = req.query.explain
    return 200, M.response(analyze.analyze(a, d, { explain = q == "1" or q == "true" }))
end

-- The analysis as the API answers it (riskd score writes the same).
function M.response(result)
    if result.alert_id == nil then result.alert_id = cjson.null end   -- an alert only at or above alert_level
    if result.event_id == nil then result.event_id = cjson.null end
    result.reasons = response.array(result.reasons)
    result.rules = response.array(result.rules)
    result.rule_errors = response.array(result.rule_errors)
    return result
end

-- The checks POST /api/login/analyze makes before analysing: the attempt,
-- or nil, message, field.
function M.attempt(body, now)
    local a, field, msg = analyze.validate(body, now, time.parse)
    if not a then return nil, msg, field end
    local unknown = analyze.unknown_nested(body)
    if unknown then return nil, "unknown field '" .. unknown .. "'", unknown end
    if not require("riskd.net").parse_ip(a.ip_address) then
        return nil, "ip_address is not an IPv4 or IPv6 address", "ip_address"
    end
    return a
end

local function public_event(e)
    return {
        event_id = e.id, user_id = e.user_id, timestamp = time.format(e.ts), ip_address = e.ip_address,
        success = e.success, location = { country = e.country, city = e.city, latitude = e.latitude, longitude = e.longitude },
        device = { device_id = e.device_id, user_agent = e.user_agent, os = e.os, browser = e.browser },
        risk_score = e.risk_score, risk_level = e.risk_level, action = e.action, is_anomaly = e.is_anomaly,
        anomaly_score = e.anomaly_score, reasons = response.array(e.reasons), rules = response.array(e.rules),
        features = e.features,
        alert_id = e.alert_id or cjson.null,
        outcome = e.outcome or cjson.null,
        outcome_pending = e.held ~= nil,   -- a success not learned until its outcome (or grace period)
    }
end

local LEVELS = require("lib.vocab").level_rank

-- GET /api/login/events
function M.events(req)
    local d = get_deps()
    if not d.store then return response.unavailable() end
    local q, f = req.query, {}
    f.user_id = q.user_id
    if q.risk_level then
        if not LEVELS[q.risk_level] then return response.bad_request("risk_level must be low, medium, high or critical", "invalid_field") end
        f.risk_level = q.risk_level
    end
    if q.min_risk then
        f.min_risk = tonumber(q.min_risk)
        if not f.min_risk then return response.bad_request("min_risk must be a number", "invalid_field") end
    end
    local s, b = query.range_and_page(q, f)
    if s then return s, b end
    if q.anomaly then f.anomaly = q.anomaly == "true" or q.anomaly == "1" end
    f.ip_address, f.country, f.rule = q.ip_address, q.country, q.rule
    if (f.country or f.rule) and not f.since then
        -- neither has an index of its own: the list walks a time range
        return response.bad_request("a country or rule filter needs since", "invalid_field")
    end
    local page, err = d.store:events(f)
    if not page then return response.unavailable(err) end
    local out = {}
    for i, e in ipairs(page.events) do out[i] = public_event(e) end
    return 200, { events = response.array(out), total = page.total, page = page.page, per_page = page.per_page }
end

local function get_event(req)
    local d = get_deps()
    if not d.store then return nil, response.unavailable() end
    local e, err, code = d.store:event(req.params.id)
    if not e then
        if code == "not_found" then return nil, response.not_found("no event " .. req.params.id) end
        return nil, response.unavailable(err)
    end
    return e
end

-- GET /api/login/events/:id
function M.event(req)
    local e, s, b = get_event(req)
    if not e then return s, b end
    return 200, public_event(e)
end

-- POST /api/login/events/:id/outcome {"outcome": "passed_challenge"}: what
-- the service did with the answer. A success held for its outcome
-- (config.learning) is learned now if the outcome says so, or never.
function M.outcome(req)
    local d = get_deps()
    if not d.store then return response.unavailable() end
    local body = req.body
    if type(body) ~= "table" or not analyze.OUTCOMES[body.outcome] then
        return response.error(400, "invalid_field", "outcome must be one of " .. analyze.OUTCOME_LIST,
                              { ["X-Invalid-Field"] = "outcome" })
    end
    local e, s, b = get_event(req)
    if not e then return s, b end
    if e.outcome and e.outcome ~= body.outcome then
        return response.error(409, "conflict", "the event's outcome is already " .. e.outcome)
    end
    local ok, learned, code = d.store:outcome(e.id, body.outcome, analyze.outcome_learns(body.outcome, d.config))
    if not ok then
        if code == "not_found" then return response.not_found("no event " .. e.id) end
        return response.unavailable(learned)
    end
    return 200, { event_id = e.id, outcome = body.outcome, learned = learned }
end

-- GET /api/login/events/:id/explain
function M.explain(req)
    local e, s, b = get_event(req)
    if not e then return s, b end
    -- Kept from the analysis when it was asked for (?explain=1); else
    -- computed now with the live model from the stored features.
    local contributions, expected = e.contributions, nil
    local model = get_deps().model
    if not contributions and model and type(e.features) == "table" then
        local phi, exp_or_err = model:explain(e.features)
        if phi then contributions, expected = phi, exp_or_err end
    end
    return 200, {
        event_id = e.id, anomaly_score = e.anomaly_score, is_anomaly = e.is_anomaly,
        contributions = contributions or cjson.null, expected_score = expected,
        features = e.features,
        rules = response.array(e.rules),
        rule_errors = response.array(e.rule_errors),
    }
end

return M
