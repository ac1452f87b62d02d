-- api/users.lua — what riskd knows about one of the site's users, for
-- analysts: GET /api/users/:id/profile, and PUT /api/users/:id/state, an
-- analyst's word on the account (also set from an alert):
--   at_risk      the rule account_state makes every attempt at least a challenge
--   compromised  every attempt high (an alert, a challenge) until an analyst says otherwise
--   safe         a false alarm: the state is cleared of the above, and set
--                from an alert, its held successes are learned as passed
--                challenges, so the device and network stop being new
--   null         no word
--
-- The behavioural profile the analysis reads: the devices (by device_id),
-- countries, networks, browsers and network owners the user signed in with
-- (the most used first, with counts and last use), the hours and weekdays
-- of the successful logins, where the last one came from, and the totals.
local response = require("lib.response")
local store = require("riskd.store")
local time = require("lib.time")

local M = {}

local STATES = {}
for _, s in ipairs(store.user_states) do STATES[s] = true end
M.STATES = STATES
M.clock = os.time   -- specs replace it

local handle = require("lib.worker_store").new()
M.use = handle.use   -- specs
local get_db = handle.get

-- profile kind -> (list name in the answer, field naming the value)
local KINDS = {
    { "devices", "devices", "device_id" },
    { "countries", "countries", "country" },
    { "prefixes", "networks", "network" },
    { "user_agents", "browsers", "user_agent" },
    { "asns", "network_owners", "asn" },
}
local WEEKDAYS = { "sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday" }

local function values(map, field)
    local out = {}
    for value, v in pairs(map or {}) do
        out[#out + 1] = { [field] = value, logins = v.count, last_seen_at = time.format(v.last_seen) }
    end
    table.sort(out, function(a, b)
        if a.logins ~= b.logins then return a.logins > b.logins end
        return a[field] < b[field]
    end)
    return response.array(out)
end

local function round2(x) return math.floor(x * 100 + 0.5) / 100 end

function M.profile(req)
    local d = get_db()
    if not d then return response.unavailable() end
    local p, err, code = d:profile(req.params.id)
    if not p then
        if code == "not_found" then return response.not_found("riskd has no profile of user " .. req.params.id) end
        return response.unavailable(err)
    end
    local out = {
        user_id = p.user_id, attempts = p.attempts, successes = p.successes, failures = p.failures,
        anomalies = p.anomalies, high_risk = p.high_risk, max_risk = round2(p.max_risk), mean_risk = round2(p.mean_risk),
        first_seen_at = time.format(p.first_seen), last_seen_at = time.format(p.last_seen),
    }
    for _, k in ipairs(KINDS) do out[k[2]] = values(p[k[1]], k[3]) end
    local weekdays = {}
    for i, name in ipairs(WEEKDAYS) do weekdays[name] = p.weekdays[i] end
    out.habits = { hours_utc = p.hours, local_hours = p.local_hours, weekdays = weekdays }
    out.risk_state = p.state and { state = p.state.state, set_by = p.state.by, set_at = time.format(p.state.at) }
        or require("cjson").null
    local ls = p.last_success
    if ls then
        out.last_success = { at = time.format(ls.ts), ip_address = ls.ip_address, country = ls.country, city = ls.city,
                             latitude = ls.latitude, longitude = ls.longitude }
    end
    return 200, out
end

-- Sets what an analyst says of user_id (a state, or nil for none), by who;
-- with "safe" and an alert, the alert's held successes are learned. nil,
-- status, body when it cannot.
function M.set_state(d, user_id, state, who, alert)
    if state ~= nil and not M.STATES[state] then
        return nil, response.bad_request("state must be " .. table.concat(store.user_states, ", ") .. " or null",
                                         "invalid_field")
    end
    local now = math.floor(M.clock() * 1000)
    local ok, err, code = d:user_state(user_id, state, who, now)
    if not ok then
        if code == "not_found" then return nil, response.not_found("riskd has no profile of user " .. user_id) end
        return nil, response.unavailable(err)
    end
    local learned = 0
    if state == "safe" and alert then
        for _, id in ipairs(alert.events or {}) do
            local e = d:event(id)
            if e and e.success and e.outcome == nil then
                local done, did = d:outcome(id, "passed_challenge", true)
                if done and did then learned = learned + 1 end
            end
        end
    end
    return { user_id = user_id, state = state or require("cjson").null, set_by = who, set_at = time.format(now),
             learned_events = alert and learned or nil }
end

-- PUT /api/users/:id/state {"state": "compromised"}
function M.state(req)
    local d = get_db()
    if not d then return response.unavailable() end
    local b = req.body
    if type(b) ~= "table" then return response.bad_request("expected a JSON object", "invalid_field") end
    local state = b.state
    if state == require("cjson").null then state = nil end
    local out, s, body = M.set_state(d, req.params.id, state, req.user and req.user.username or "anonymous")
    if not out then return s, body end
    require("lib.realtime").publish("alerts", "user_state", out)
    return 200, out
end

return M
