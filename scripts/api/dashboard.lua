-- api/dashboard.lua — the analyst dashboard (the Flask system's
-- /api/dashboard/* paths). Every number comes from the store's aggregates.
local cjson = require("cjson")
local response = require("lib.response")
local time = require("lib.time")
local store = require("riskd.store")

local M = {}

local HOUR = 3600000
local STATUSES = { open = true, investigating = true, resolved = true, false_positive = true }
local LEVELS = require("lib.vocab").level_rank

local db
local function get_db()
    db = db or store.worker()
    return db
end

-- For specs: a store other than the worker's.
function M.use(d) db = d end

local function now_ms() return math.floor(os.time() * 1000) end

local unavailable = response.unavailable

local int_param = require("lib.query").int

local function counts(c)
    return {
        attempts = c.attempts, failures = c.failures, anomalies = c.anomalies,
        anomaly_rate = math.floor(c.anomaly_rate * 10000 + 0.5) / 10000,
        by_risk_level = c.by_level, alerts_by_status = c.alerts_by_status,
        alerts_by_severity = c.alerts_by_severity, distinct_users = c.distinct_users, distinct_ips = c.distinct_ips,
    }
end

-- GET /api/dashboard/stats
function M.stats()
    local d = get_db()
    if not d then return unavailable() end
    local ok, err = d:sync()
    if not ok then return unavailable(err) end
    local s
    s, err = d:stats(now_ms())
    if not s then return unavailable(err) end
    return 200, { total = counts(s.all), last_24h = counts(s.last_24h), generated_at = time.format(now_ms()) }
end

local function public_alert(a)
    return {
        alert_id = a.id, user_id = a.user_id, severity = a.severity, status = a.status, cause = a.cause,
        created_at = time.format(a.created), updated_at = time.format(a.updated), event_count = a.event_count,
        reasons = response.array(a.reasons), rules = response.array(a.rules),
    }
end

-- GET /api/dashboard/alerts
function M.alerts(req)
    local d = get_db()
    if not d then return unavailable() end
    local q, f = req.query, {}
    if q.status then
        if not STATUSES[q.status] then return response.bad_request("unknown status '" .. q.status .. "'", "invalid_field") end
        f.status = q.status
    end
    if q.severity then
        if not LEVELS[q.severity] then return response.bad_request("unknown severity '" .. q.severity .. "'", "invalid_field") end
        f.severity = q.severity
    end
    f.user_id = q.user_id
    local rs, rb = require("lib.query").range(q, f)
    if rs then return rs, rb end
    local err
    f.page, err = int_param(q, "page", 1, 1, 1000000)
    if not f.page then return response.bad_request(err, "invalid_field") end
    f.per_page, err = int_param(q, "per_page", 20, 1, 100)
    if not f.per_page then return response.bad_request(err, "invalid_field") end
    local page, e = d:alerts(f)
    if not page then return unavailable(e) end
    local out = {}
    for i, a in ipairs(page.alerts) do out[i] = public_alert(a) end
    return 200, { alerts = response.array(out), total = page.total, page = page.page, per_page = page.per_page }
end

local function load_alert(d, id)
    local a, err, code = d:alert(id)
    if not a then
        if code == "not_found" then return nil, response.not_found("no alert " .. id) end
        return nil, unavailable(err)
    end
    return a
end

-- GET /api/dashboard/alerts/:id: with its history and events
function M.alert(req)
    local d = get_db()
    if not d then return unavailable() end
    local a, s, b = load_alert(d, req.params.id)
    if not a then return s, b end
    local out = public_alert(a)
    local history = {}
    for i, h in ipairs(a.history) do
        history[i] = { status = h.status, by = h.who, at = time.format(h.ts), note = h.note or cjson.null }
    end
    out.history = response.array(history)
    local events = {}
    for _, id in ipairs(a.events) do
        local e = d:event(id)
        if e then
            events[#events + 1] = { event_id = e.id, timestamp = time.format(e.ts), ip_address = e.ip_address,
                                    risk_score = e.risk_score, risk_level = e.risk_level, reasons = response.array(e.reasons) }
        end
    end
    out.events = response.array(events)
    return 200, out
end

-- Allowed: from open or investigating to any other status; from resolved or
-- false_positive only back to open (reopen).
local function allowed(from, to)
    if from == to then return false end
    if from == "open" or from == "investigating" then return true end
    return to == "open"
end

-- PUT /api/dashboard/alerts/:id {"status", "note"}
function M.update_alert(req)
    local d = get_db()
    if not d then return unavailable() end
    local b = req.body
    if type(b) ~= "table" then return response.bad_request("expected a JSON object", "invalid_field") end
    if type(b.status) ~= "string" or not STATUSES[b.status] then
        return response.bad_request("status must be open, investigating, resolved or false_positive", "invalid_field")
    end
    if b.note ~= nil and (type(b.note) ~= "string" or #b.note > 4000) then
        return response.bad_request("note must be a string of at most 4000 characters", "invalid_field")
    end
    local users = require("api.users")
    if b.user_state ~= nil and b.user_state ~= cjson.null and not users.STATES[b.user_state] then
        return response.bad_request("user_state must be " .. table.concat(require("riskd.store").user_states, ", ")
                                    .. " or null", "invalid_field")
    end
    local a, s, body = load_alert(d, req.params.id)
    if not a then return s, body end
    if not allowed(a.status, b.status) then
        return response.bad_request("cannot go from " .. a.status .. " to " .. b.status, "invalid_transition")
    end
    -- Who: the caller the route's role check found (lib/dispatch.lua).
    local who = req.user and req.user.username or "anonymous"
    local ok, err = d:alert_set_status(a.id, b.status, who, b.note, now_ms())
    if not ok then return unavailable(err) end
    local confirmed = b.status == "resolved" and M.confirm_addresses(d, a) or nil
    -- what the analyst says of the account, from the alert (api/users.lua)
    local user_state
    if b.user_state ~= nil then
        local st, us, ubody = users.set_state(d, a.user_id, b.user_state ~= cjson.null and b.user_state or nil, who, a)
        if not st then return us, ubody end
        user_state = st
    end
    require("lib.realtime").publish("alerts", "status_changed", {
        alert_id = a.id, user_id = a.user_id, severity = a.severity, status = b.status, previous = a.status,
        by = who, note = b.note,
    })
    local s, out = M.alert(req)
    if s == 200 and confirmed then out.confirmed_addresses = response.array(confirmed) end
    if s == 200 and user_state then out.user_state = user_state end
    return s, out
end

-- An alert resolved as a real attack: its addresses go into the intel
-- folder's automatic set confirmed_attacks for config.confirmed_attack_days,
-- so that the rule known_bad_address flags them on any account. Returns the
-- addresses (none without an intel folder).
function M.confirm_addresses(d, a)
    local intel = require("riskd.intel").current()
    if not intel then return {} end
    local days = require("riskd.rules").config().confirmed_attack_days or 30
    local seen, out = {}, {}
    for _, id in ipairs(a.events) do
        local e = d:event(id)
        if e and e.ip_address and not seen[e.ip_address] then
            seen[e.ip_address] = true
            local ok, err = intel:confirm("confirmed_attacks", e.ip_address, math.floor(days * 86400))
            if ok then out[#out + 1] = e.ip_address
            else require("riskd.log").warn("cannot add a confirmed attacker", { error = err }) end
        end
    end
    return out
end

-- GET /api/dashboard/timeline?hours=24&bucket=hour|day
function M.timeline(req)
    local d = get_db()
    if not d then return unavailable() end
    local q = req.query
    local hours, err = int_param(q, "hours", 24, 1, 24 * 366)
    if not hours then return response.bad_request(err, "invalid_field") end
    local bucket = q.bucket or "hour"
    if bucket ~= "hour" and bucket ~= "day" then return response.bad_request("bucket must be hour or day", "invalid_field") end
    local ok, e = d:sync()
    if not ok then return unavailable(e) end
    local now = now_ms()
    local list
    list, e = d:timeline(now - hours * HOUR + 1, now + 1, bucket)
    if not list then return unavailable(e) end
    local out = {}
    for i, k in ipairs(list) do
        out[i] = { start = time.format(k.start), attempts = k.attempts, failures = k.failures, anomalies = k.anomalies,
                   alerts = k.alerts, mean_risk = math.floor(k.mean_risk * 100 + 0.5) / 100 }
    end
    return 200, { bucket = bucket, hours = hours, buckets = response.array(out) }
end

-- GET /api/dashboard/top-risks?limit=10&hours=24 (hours=0: all time)
function M.top_risks(req)
    local d = get_db()
    if not d then return unavailable() end
    local q = req.query
    local limit, err = int_param(q, "limit", 10, 1, 100)
    if not limit then return response.bad_request(err, "invalid_field") end
    local hours
    hours, err = int_param(q, "hours", 24, 0, 24 * 366)
    if not hours then return response.bad_request(err, "invalid_field") end
    local since = hours > 0 and now_ms() - hours * HOUR or 0
    local ok, e = d:sync()
    if not ok then return unavailable(e) end
    local top
    top, e = d:top_users(since, limit)
    if not top then return unavailable(e) end
    local out = {}
    for i, u in ipairs(top) do
        local open = d:alerts({ user_id = u.user_id, status = "open", per_page = 1 })
        local p = d:profile(u.user_id)
        out[i] = { user_id = u.user_id, max_risk = u.max_risk, mean_risk = math.floor(u.mean_risk * 100 + 0.5) / 100,
                   attempts = u.attempts, anomalies = u.anomalies, high_risk = u.high_risk,
                   open_alerts = open and open.total or 0,
                   last_seen = p and time.format(p.last_seen) or cjson.null }
    end
    return 200, { hours = hours, users = response.array(out) }
end

-- GET /api/dashboard/breakdown?hours=24: the window's attempts by risk
-- level, country and the rules that fired, over its newest events (sampled
-- says the window held more than were counted).
function M.breakdown(req)
    local d = get_db()
    if not d then return unavailable() end
    local hours, err = int_param(req.query, "hours", 24, 1, 24 * 366)
    if not hours then return response.bad_request(err, "invalid_field") end
    local b, e = d:breakdown(now_ms() - hours * HOUR)
    if not b then return unavailable(e) end
    local function list(items, field)
        local out = {}
        for i, c in ipairs(items) do out[i] = { [field] = c.key, attempts = c.n } end
        return response.array(out)
    end
    return 200, { hours = hours, counted = b.counted, sampled = b.counted >= b.sample,
                  levels = list(b.levels, "level"), countries = list(b.countries, "country"), rules = list(b.rules, "rule") }
end

return M
