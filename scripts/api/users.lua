-- api/users.lua — what riskd knows about one of the site's users, for
-- analysts: GET /api/users/:id/profile.
--
-- The behavioural profile the analysis reads: the devices (by device_id),
-- countries, networks, browsers and network owners the user signed in with
-- (the most used first, with counts and last use), the hours and weekdays
-- of the successful logins, where the last one came from, and the totals.
local response = require("lib.response")
local store = require("riskd.store")
local time = require("lib.time")

local M = {}

local db
function M.use(d) db = d end   -- specs
local function get_db()
    db = db or store.worker()
    return db
end

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
    local ls = p.last_success
    if ls then
        out.last_success = { at = time.format(ls.ts), ip_address = ls.ip_address, country = ls.country, city = ls.city,
                             latitude = ls.latitude, longitude = ls.longitude }
    end
    return 200, out
end

return M
