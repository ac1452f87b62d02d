-- compat/flask.lua — the Flask system's request and response shapes on its
-- paths, for clients written for it (riskd serve --compat flask,
-- RISKD_COMPAT=flask). A route table over riskd's own: the routes below
-- replace riskd's on the same method and path, the others stay as they are,
-- and every error on every route is {"error": "text"}.
--
--   POST /api/auth/register   open: 201 {message, user_id}; the account may analyse logins
--   GET  /api/auth/verify     {"valid": false} (401) for a bad token
--   POST /api/login/analyze   takes username and device_info {browser, os, device_type}; answers
--                             login_event_id, is_anomaly, risk_score from 0 to 1, severity,
--                             reasons, alert_id, message
--   GET  /api/login/events    ?user_id, ?is_anomaly, ?limit (50), ?skip: {events, count, total}
--   GET  /api/login/events/:id  one event in the Flask shape
--   GET  /api/dashboard/alerts  ?resolved, ?severity, ?limit, ?skip: {alerts, count, total}
--   PUT  /api/dashboard/alerts/:id  {"resolved": true|false}
--
-- How riskd's answers map: is_anomaly is "at or above the alert level"
-- (high and critical), risk_score is riskd's score over 100, and severity
-- is the Flask system's: high from 0.8, medium from 0.6, low below, and
-- "normal" for an attempt that is no anomaly. An event's device is the
-- device_info fields joined into a device id (the Flask system sends no
-- device id). Lists page by skip and limit up to 1,000 records deep.
local cjson = require("cjson")
local auth = require("riskd.auth")
local response = require("lib.response")
local store = require("riskd.store")
local time = require("lib.time")

local M = {}

local MAX_DEPTH = 1000   -- skip + limit: the merged lists read this many records at most

local function db() return store.worker() end

local function err(status, text, headers) return status, { error = text }, headers end

-- {"error": {"code", "message"}} -> {"error": "message"} (lib/dispatch.lua applies it to every answer)
function M.error_body(body) return { error = body.error.message or body.error.code } end

local int_arg = require("lib.query").int

local function bool_arg(q, name)
    local v = q[name]
    if v == nil then return nil end
    v = v:lower()
    if v == "true" or v == "1" then return true end
    if v == "false" or v == "0" then return false end
    return nil, name .. " must be true or false"
end

local function severity_of(risk)
    if risk >= 0.8 then return "high" end
    if risk >= 0.6 then return "medium" end
    return "low"
end

local ANOMALY_LEVELS = { high = true, critical = true }
local function risk01(score) return math.floor((score or 0) * 10 + 0.5) / 1000 end

-- ---- accounts ----------------------------------------------------------------

function M.register(req)
    local b = req.body
    if type(b) ~= "table" or type(b.username) ~= "string" or type(b.password) ~= "string" then
        return err(400, "username and password are required")
    end
    if not b.username:match("^[%w._-]+$") or #b.username > 64 then
        return err(400, "username: 1 to 64 letters, digits, '.', '_' or '-'")
    end
    if b.email ~= nil and (type(b.email) ~= "string" or #b.email > 254) then return err(400, "email must be a string") end
    local ok, why = auth.policy(b.username, b.password)
    if not ok then return err(400, why) end
    local d = db()
    if not d then return err(503, "the store is unavailable") end
    local hash, herr = auth.hash(b.password)
    if not hash then return err(503, herr) end
    -- the Flask system's users analyse logins and read the dashboard: riskd's analyst role, which the
    -- compatible analyze route takes too
    local u, uerr, code = d:user_create({ username = b.username, email = b.email, role = "analyst", password_hash = hash })
    if not u then
        if code == "conflict" then return err(409, "Username already exists") end
        return err(503, uerr)
    end
    return 201, { message = "User registered successfully", user_id = u.id }
end

function M.verify(req)
    local s, body = require("api.auth").verify(req)
    if s == 200 then return s, body end
    return 401, { valid = false, error = type(body) == "table" and body.error and body.error.message or "invalid token" }
end

-- ---- logins ------------------------------------------------------------------

local function device_id(info)
    if type(info) ~= "table" then return nil end
    local parts = {}
    for _, k in ipairs({ "device_type", "browser", "os" }) do
        if info[k] ~= nil and type(info[k]) ~= "string" then return nil, "device_info." .. k .. " must be a string" end
        parts[#parts + 1] = info[k] or ""
    end
    return "flask:" .. table.concat(parts, "/")
end

function M.analyze(req)
    local b = req.body
    if type(b) ~= "table" then return err(400, "Invalid input: the body must be a JSON object") end
    if b.username ~= nil and type(b.username) ~= "string" then return err(400, "Invalid input: username must be a string") end
    if b.device_info ~= nil and type(b.device_info) ~= "table" then
        return err(400, "Invalid input: device_info must be an object")
    end
    local dev, derr = device_id(b.device_info)
    if derr then return err(400, "Invalid input: " .. derr) end
    local info = b.device_info or {}
    local native = { user_id = b.user_id, ip_address = b.ip_address, timestamp = b.timestamp, success = b.success,
                     location = b.location,
                     device = dev and { device_id = dev, os = info.os, browser = info.browser } or nil }
    local s, r, h = require("api.login").analyze({ body = native, query = {}, headers = req.headers })
    if s ~= 200 then return s, r, h end
    local risk = risk01(r.risk_score)
    local anomaly = ANOMALY_LEVELS[r.risk_level] == true
    return 200, {
        login_event_id = r.event_id, is_anomaly = anomaly, risk_score = risk,
        severity = anomaly and severity_of(risk) or "normal", reasons = r.reasons,   -- already an array (api.login)
        alert_id = r.alert_id, message = "Login analyzed successfully",
    }
end

local function flask_event(e)
    local info = {}
    local t, br, os_ = (e.device_id or ""):match("^flask:([^/]*)/([^/]*)/(.*)$")
    if t then info = { device_type = t ~= "" and t or nil, browser = br ~= "" and br or nil, os = os_ ~= "" and os_ or nil }
    else info = { browser = e.browser, os = e.os, device_id = e.device_id, user_agent = e.user_agent } end
    return {
        _id = e.id, user_id = e.user_id, username = e.user_id, timestamp = time.format(e.ts), ip_address = e.ip_address,
        location = { latitude = e.latitude, longitude = e.longitude, city = e.city, country = e.country },
        device_info = info, success = e.success, risk_score = risk01(e.risk_score),
        is_anomaly = ANOMALY_LEVELS[e.risk_level] == true, anomaly_reasons = response.array(e.reasons or {}),
        alert_id = e.alert_id or cjson.null,
    }
end

-- limit and skip of a list query; nil, why when they are not what the
-- Flask system takes or reach past the merged lists' depth.
local function paging(q)
    local limit, e1 = int_arg(q, "limit", 50, 1, MAX_DEPTH)
    if not limit then return nil, e1 end
    local skip, e2 = int_arg(q, "skip", 0, 0, MAX_DEPTH)
    if not skip then return nil, e2 end
    if skip + limit > MAX_DEPTH then return nil, "skip + limit must be at most " .. MAX_DEPTH end
    return limit, skip
end

-- The Flask list answer {<field>, count, total}: the records of several
-- store filters (d:<field>(filter), newest first by key) merged newest
-- first, skip and limit over the merge, each shaped.
local function merged_list(d, field, filters, limit, skip, key, shape)
    local all, total = {}, 0
    for _, f in ipairs(filters) do
        f.page, f.per_page = 1, skip + limit
        local page, perr = d[field](d, f)
        if not page then return err(503, perr) end
        total = total + page.total
        for _, it in ipairs(page[field]) do all[#all + 1] = it end
    end
    table.sort(all, function(a, b)
        if key(a) ~= key(b) then return key(a) > key(b) end
        return a.id > b.id
    end)
    local out = {}
    for i = skip + 1, math.min(#all, skip + limit) do out[#out + 1] = shape(all[i]) end
    return 200, { [field] = response.array(out), count = #out, total = total }
end

function M.events(req)
    local q = req.query
    local limit, skip = paging(q)
    if not limit then return err(400, skip) end
    local anomaly, e3 = bool_arg(q, "is_anomaly")
    if e3 then return err(400, e3) end
    local d = db()
    if not d then return err(503, "the store is unavailable") end
    local levels = anomaly == true and { "high", "critical" } or anomaly == false and { "low", "medium" } or { false }
    local filters = {}
    for i, l in ipairs(levels) do filters[i] = { user_id = q.user_id, risk_level = l or nil } end
    return merged_list(d, "events", filters, limit, skip, function(e) return e.ts end, flask_event)
end

function M.event(req)
    local d = db()
    if not d then return err(503, "the store is unavailable") end
    local e, eerr, code = d:event(req.params.id)
    if not e then
        if code == "not_found" then return err(404, "Login event not found") end
        return err(503, eerr)
    end
    return 200, flask_event(e)
end

-- ---- alerts ------------------------------------------------------------------

-- riskd's alert levels as the Flask system's severities, and back
local SEVERITY = { critical = "high", high = "medium", medium = "low", low = "low" }
local LEVELS_OF = { high = { "critical" }, medium = { "high" }, low = { "medium", "low" } }
local RESOLVED = { resolved = true, false_positive = true }

local function flask_alert(a)
    local e = a.event_id and a.risk_score and a or nil
    return {
        _id = a.id, alert_type = a.kind == "phishing" and "phishing" or "suspicious_login",
        severity = SEVERITY[a.severity] or a.severity, user_id = a.user_id, username = a.user_id,
        description = string.format("%s: %s", a.cause, table.concat(a.reasons or {}, "; ")),
        timestamp = time.format(a.created), login_event_id = a.event_id or cjson.null,
        details = { risk_score = e and risk01(e.risk_score) or cjson.null, reasons = response.array(a.reasons or {}),
                    ip_address = a.ip_address or cjson.null },
        resolved = RESOLVED[a.status] == true, status = a.status,
    }
end

function M.alerts(req)
    local q = req.query
    local limit, skip = paging(q)
    if not limit then return err(400, skip) end
    local resolved, e3 = bool_arg(q, "resolved")
    if e3 then return err(400, e3) end
    if q.severity and not LEVELS_OF[q.severity] then return err(400, "severity must be high, medium or low") end
    local d = db()
    if not d then return err(503, "the store is unavailable") end
    local statuses = resolved == true and { "resolved", "false_positive" }
        or resolved == false and { "open", "investigating" } or { false }
    local filters = {}
    for _, st in ipairs(statuses) do
        for _, lv in ipairs(q.severity and LEVELS_OF[q.severity] or { false }) do
            filters[#filters + 1] = { status = st or nil, severity = lv or nil, user_id = q.user_id }
        end
    end
    return merged_list(d, "alerts", filters, limit, skip, function(a) return a.created end, flask_alert)
end

function M.update_alert(req)
    local b = req.body
    if type(b) ~= "table" or type(b.resolved) ~= "boolean" then return err(400, "resolved must be true or false") end
    local d = db()
    if not d then return err(503, "the store is unavailable") end
    local a, aerr, code = d:alert(req.params.id)
    if not a then
        if code == "not_found" then return err(404, "Alert not found") end
        return err(503, aerr)
    end
    local want = b.resolved and "resolved" or "open"
    if a.status ~= want and not (b.resolved and RESOLVED[a.status]) then
        local ok, serr = d:alert_set_status(a.id, want, req.user and req.user.username or "anonymous", nil,
                                            math.floor(os.time() * 1000))
        if not ok then return err(503, serr) end
    end
    return 200, { message = "Alert updated successfully", alert_id = a.id, resolved = b.resolved }
end

-- ---- the route table -----------------------------------------------------------

local STAFF = { "admin", "analyst" }
local ROUTES = {
    { "POST", "/api/auth/register", "compat.flask.register", fields = { "username", "password", "email" } },
    { "GET", "/api/auth/verify", "compat.flask.verify" },
    { "POST", "/api/login/analyze", "compat.flask.analyze", roles = { "admin", "analyst", "service" },
      fields = { "user_id", "username", "ip_address", "device_info", "location", "timestamp", "success" } },
    { "GET", "/api/login/events", "compat.flask.events", roles = STAFF, query = { "user_id", "is_anomaly", "limit", "skip" } },
    { "GET", "/api/login/events/:id", "compat.flask.event", roles = STAFF },
    { "GET", "/api/dashboard/alerts", "compat.flask.alerts", roles = STAFF,
      query = { "resolved", "severity", "user_id", "limit", "skip" } },
    { "PUT", "/api/dashboard/alerts/:id", "compat.flask.update_alert", roles = STAFF, fields = { "resolved" } },
}

-- riskd's routes with these in place of the same method and path.
function M.routes(native)
    local by = {}
    for _, r in ipairs(ROUTES) do by[r[1] .. " " .. r[2]] = r end
    local out, used = {}, {}
    for _, r in ipairs(native) do
        local k = r[1] .. " " .. r[2]
        out[#out + 1] = by[k] or r
        used[k] = by[k] ~= nil
    end
    for _, r in ipairs(ROUTES) do
        if not used[r[1] .. " " .. r[2]] then out[#out + 1] = r end
    end
    return out
end

return M
