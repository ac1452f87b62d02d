-- lib/analyze.lua — the analysis of one login attempt:
--   1. profile and recent activity from the store
--   2. features (riskd.features, C)
--   3. the model's anomaly score and its explanation (riskd.iforest, C)
--   4. the risk rules (rules/*.lua, sandboxed; riskd.rules)
--   5. combine: rule scores -> risk score, level, action, reasons
--   6. record the event and update the profile
-- Its collaborators are passed in (deps), so specs can drive it with fakes.
local realtime = require("lib.realtime")
local delivery = require("lib.delivery")
local rates = require("riskd.rates")

local M = {}

local HOUR = 3600000

local function round2(x) return math.floor(x * 100 + 0.5) / 100 end

-- What a service reports of an attempt once it acted on the answer.
M.OUTCOMES = { allowed = true, passed_challenge = true, failed_challenge = true, blocked = true }
M.OUTCOME_LIST = "allowed, passed_challenge, failed_challenge, blocked"

-- The fields of an attempt's location and device objects.
M.LOCATION_FIELDS = { "country", "city", "latitude", "longitude" }
M.DEVICE_FIELDS = { "device_id", "user_agent", "os", "browser" }

-- The first field of location or device the attempt has that riskd does not
-- know, as "location.x", or nil: the API refuses them (riskd score keeps
-- them, as it keeps unknown top-level fields, in its output lines).
function M.unknown_nested(body)
    for _, part in ipairs({ { "location", M.LOCATION_FIELDS }, { "device", M.DEVICE_FIELDS } }) do
        local t = type(body) == "table" and body[part[1]]
        if type(t) == "table" then
            for k in pairs(t) do
                local known = false
                for _, f in ipairs(part[2]) do if f == k then known = true break end end
                if not known then return part[1] .. "." .. tostring(k):sub(1, 64) end
            end
        end
    end
end

-- Validates the body of POST /api/login/analyze. Returns the attempt, or
-- nil, field, message.
function M.validate(body, now_ms, parse_time)
    if type(body) ~= "table" then return nil, "body", "the body must be a JSON object" end
    local a = {}
    if type(body.user_id) ~= "string" or body.user_id == "" or #body.user_id > 128 then
        return nil, "user_id", "user_id is required: a string of 1 to 128 characters"
    end
    a.user_id = body.user_id
    if type(body.ip_address) ~= "string" then return nil, "ip_address", "ip_address is required" end
    a.ip_address = body.ip_address
    if body.timestamp == nil then
        a.ts = now_ms
    else
        local ms, why = parse_time(body.timestamp)
        if not ms then return nil, "timestamp", "timestamp: " .. why end
        a.ts = ms
    end
    if body.success == nil then a.success = true
    elseif type(body.success) == "boolean" then a.success = body.success
    else return nil, "success", "success must be true or false" end
    local loc = body.location
    if loc ~= nil then
        if type(loc) ~= "table" then return nil, "location", "location must be an object" end
        for _, k in ipairs({ "country", "city" }) do
            if loc[k] ~= nil and (type(loc[k]) ~= "string" or #loc[k] > 128) then
                return nil, "location." .. k, "location." .. k .. " must be a string of at most 128 characters"
            end
            a[k] = loc[k]
        end
        if (loc.latitude == nil) ~= (loc.longitude == nil) then
            return nil, "location", "latitude and longitude go together"
        end
        if loc.latitude ~= nil then
            if type(loc.latitude) ~= "number" or loc.latitude < -90 or loc.latitude > 90 then
                return nil, "location.latitude", "location.latitude must be a number from -90 to 90"
            end
            if type(loc.longitude) ~= "number" or loc.longitude < -180 or loc.longitude > 180 then
                return nil, "location.longitude", "location.longitude must be a number from -180 to 180"
            end
            a.latitude, a.longitude = loc.latitude, loc.longitude
        end
    end
    local dev = body.device
    if dev ~= nil then
        if type(dev) ~= "table" then return nil, "device", "device must be an object" end
        for _, k in ipairs(M.DEVICE_FIELDS) do
            if dev[k] ~= nil and (type(dev[k]) ~= "string" or #dev[k] > 512) then
                return nil, "device." .. k, "device." .. k .. " must be a string of at most 512 characters"
            end
            a[k] = dev[k]
        end
    end
    -- What the caller knows that riskd cannot see: whether the password
    -- tried is in a breach corpus (checked by the caller, e.g. with
    -- GET /api/passwords/range), and the client's request headers.
    if body.password_breached ~= nil then
        if type(body.password_breached) ~= "boolean" then
            return nil, "password_breached", "password_breached must be true or false"
        end
        a.password_breached = body.password_breached
    end
    -- What came of the attempt when the service already knows (riskd score
    -- input; a server usually hears it later, POST /api/login/events/:id/outcome),
    -- and, for replays of generated traffic, how a challenge would end.
    if body.outcome ~= nil and not M.OUTCOMES[body.outcome] then
        return nil, "outcome", "outcome must be one of " .. M.OUTCOME_LIST
    end
    a.outcome = body.outcome
    if body.challenge ~= nil and body.challenge ~= "pass" and body.challenge ~= "fail" then
        return nil, "challenge", "challenge must be \"pass\" or \"fail\""
    end
    a.challenge = body.challenge
    if body.headers ~= nil then
        if type(body.headers) ~= "table" then return nil, "headers", "headers must be an object of strings" end
        local h, n = {}, 0
        for k, v in pairs(body.headers) do
            n = n + 1
            if type(k) ~= "string" or type(v) ~= "string" or #k > 128 or #v > 2048 or n > 64 then
                return nil, "headers", "headers must be an object of at most 64 strings (names up to 128, values up to 2048 characters)"
            end
            h[k:lower()] = v
        end
        a.headers = h
    end
    return a
end

-- What rules see of the intel folder (riskd.intel): set membership and
-- pattern matches, as plain functions (ctx.intel.contains("tor_exits", ip)).
-- Without a folder every set is empty.
local NO_INTEL = { contains = function() return false end, match = function() return nil end,
                   heaviest = function() return nil end }
local views = setmetatable({}, { __mode = "k" })
function M.intel_view(h)
    if not h then return NO_INTEL end
    local v = views[h]
    if not v then
        v = {
            contains = function(set, ip) return h:contains(set, ip) == true end,
            match = function(set, text) return h:match(set, text) end,
        }
        -- sets: { name = { weight =, reason =, ... } }; the weight, reason
        -- and whole entry of the heaviest set holding ip, or nothing (the
        -- IP-reputation rules)
        v.heaviest = function(sets, ip)
            local best, why, entry, name
            for set, s in pairs(sets) do
                -- ties go to the first name, whatever order pairs() walks in
                if (not best or s.weight > best or (s.weight == best and set < name)) and h:contains(set, ip) == true then
                    best, why, entry, name = s.weight, s.reason, s, set
                end
            end
            return best, why, entry
        end
        views[h] = v
    end
    return v
end

-- The features as rules see them: the yes/no ones as booleans (`if
-- f.new_device then` means what it says; a 0 would be true in Lua), the
-- others as numbers. The answer and the model keep the numbers.
M.FLAGS = { new_device = true, new_country = true, new_prefix = true, new_asn = true, weekend = true }
function M.rule_features(features)
    local out = {}
    for k, v in pairs(features) do
        if M.FLAGS[k] then out[k] = v == 1 else out[k] = v end
    end
    return out
end

-- Rule scores (0..100) into the attempt's score. A score s stands for a
-- likelihood ratio, attacker against this user, of 1 / (1 - s/100) (25 is
-- 1.33, 60 is 2.5, 90 is 10). Rules of one evidence family say the same
-- thing in different words (a new device, a new device on a new network),
-- so within a family the strongest counts ("max"; config.families may
-- declare "or" for a family whose rules are independent, as it does for
-- rules that name no family). A result without a family is independent.
-- Across families the ratios multiply: score = 100 * (1 - 1 / product).
-- Monotone: a firing rule never lowers the score; continuous for ranking.
--
-- A family may declare history_logins = k: its evidence is worth less from
-- a user with few successful logins, whose usual places riskd has barely
-- seen (a first trip, a VPN switched on in the first week). With n logins
-- the ratio counts to the power n / (n + k): nothing for a user never
-- seen, half its log at n = k, nearly all of it once the history is long.
-- Such a result gets `counted`, the score it counted for (logins: the
-- user's successful logins so far; nil, no discount).
function M.combine(results, families, logins)
    families = families or {}
    local strongest, order, keep = {}, {}, 1
    for _, r in ipairs(results) do
        local s = math.min(r.score, 100) / 100
        local fam = r.family
        local k = fam and families[fam] and families[fam].history_logins
        if k and k > 0 and logins and s < 1 then
            s = 1 - (1 - s) ^ (logins / (logins + k))
            r.counted = round2(100 * s)
        end
        local how = fam and (families[fam] and families[fam].combine or "max") or "or"
        if how == "or" then
            keep = keep * (1 - s)
        else
            if not strongest[fam] then order[#order + 1] = fam; strongest[fam] = 0 end
            if s > strongest[fam] then strongest[fam] = s end
        end
    end
    -- in the order the families first came (not pairs()): the same product to the last bit every run
    for _, fam in ipairs(order) do keep = keep * (1 - strongest[fam]) end
    return round2(100 * (1 - keep))
end

-- Whether the account never signed in successfully (no profile, or only failures).
local function unknown_account(profile) return not profile or (profile.successes or 0) == 0 end

-- Whether the account never signed in with the attempt's device: any
-- device, for an account without a successful login.
function M.never_seen_device(profile, features)
    return unknown_account(profile) or features.new_device == 1
end

-- Site-wide signals (riskd.rates: per hour against a learned baseline,
-- shared by the workers): failures from devices the account never used
-- successfully. A botnet trying stolen passwords, one attempt per account
-- from another address each, is invisible account by account and loud
-- here. And successful sign-ins, with those that were an account's first:
-- once a site knows its active accounts, a first sign-in is rare, and a
-- failure on an account that never signed in is what a list of stolen or
-- guessed usernames looks like. This attempt is counted first, then the
-- figures are read; not when it is a sign-in to riskd itself (own): the
-- rates are the monitored service's.
function M.site(a, profile, features, own)
    local never_seen = M.never_seen_device(profile, features)
    local unknown = unknown_account(profile)
    if not own then
        if never_seen then
            rates.hit("new_device_attempts", a.ts)
            if not a.success then rates.hit("new_device_failures", a.ts) end
        end
        if a.success then
            rates.hit("successes", a.ts)
            if unknown then rates.hit("first_successes", a.ts) end
        end
    end
    return { never_seen_device = never_seen, unknown_account = unknown,
             new_device_failures = rates.get("new_device_failures", a.ts),
             new_device_attempts = rates.get("new_device_attempts", a.ts),
             successes = rates.get("successes", a.ts), first_successes = rates.get("first_successes", a.ts) }
end

-- Familiarity, after Freeman et al., "Who Are You? A Statistical Approach to
-- Measuring User Authenticity" (NDSS 2016). For each of the attempt's
-- values (IP prefix, country, device, user agent, network owner), compare
-- how likely it is from an attacker, whom the whole population stands in
-- for (the value's global frequency, add-one smoothed), with how likely it
-- is from this user (the user's own frequency, backed off towards the
-- global one by one pseudo-login). The log2 likelihood ratios add up:
-- familiar values count against the alarm, strange ones for it. Returns
-- { bits, strange = { kind whose value is over 1 bit strange, ... },
-- logins = the user's successful logins so far }; the familiarity rule
-- reads it (ctx.familiarity), `riskd eval` ranks on bits as its reference.
-- The kinds in a fixed order: a sum of floats depends on its order, and
-- pairs() walks a table in an order that differs from process to process,
-- so the API and `riskd score` would disagree in the last digits.
local FAMILIAR_KINDS = { "asns", "countries", "devices", "prefixes", "user_agents" }
function M.familiarity(profile, values, global)
    local bits, strange = 0, {}
    local logins = profile and profile.successes or 0
    for _, kind in ipairs(FAMILIAR_KINDS) do
        local value, g = values[kind], global and global[kind]
        if value ~= nil and g and g.total > 0 then
            local p_global = (g.count + 1) / (g.total + g.distinct + 1)
            local mine = profile and profile[kind] and profile[kind][value]
            local p_user = ((mine and mine.count or 0) + p_global) / (logins + 1)
            local r = math.log(p_global / p_user, 2)
            bits = bits + r
            if r > 1 then strange[#strange + 1] = kind end
        end
    end
    table.sort(strange)
    return { bits = bits, strange = strange, logins = logins }
end

-- The level of a score: config.levels, or the calibrated thresholds of
-- high and critical (riskd.calib) when given; raised to the strongest
-- `at_least` of the rules that fired (results), if any.
function M.level(score, cfg, calibrated, results)
    local t = cfg.levels
    local level = "low"
    if score >= (calibrated and calibrated.critical or t.critical) then level = "critical"
    elseif score >= (calibrated and calibrated.high or t.high) then level = "high"
    elseif score >= t.medium then level = "medium" end
    for _, r in ipairs(results or {}) do
        if r.at_least and M.LEVEL_RANK[r.at_least] > M.LEVEL_RANK[level] then level = r.at_least end
    end
    return level
end

-- The wider network of an address, for signals that span many addresses of
-- one operator: the /16 of an IPv4 address, else the /48 the features use.
function M.wide_network(a, values)
    local w = a.ip_address and a.ip_address:match("^(%d+%.%d+)%.%d+%.%d+$")
    return w or values.prefixes
end

-- Cross-account signals (riskd.xacct, shared by the workers): in the last
-- config.cross_account_days, how many other accounts signed in from this
-- network with a device new to them, and from this very address; and how
-- many of those the memory still holds came back to the network as one of
-- their own (its regulars: an office, a VPN exit, a carrier has them; an
-- attacker's exit has only newcomers). Over the wider network (/16), in the
-- last config.spray_hours: other accounts that failed there with devices
-- they never signed in with, and the accounts that came back to it as a
-- network of their own. From this very address, in the last hour: other
-- accounts that failed there with devices they never signed in with.
-- And for the device id, the other OS and browser families it signed in
-- with, over all the memory holds (a session cookie replayed from another
-- browser).
function M.cross(xacct, a, values, cfg)
    if not xacct then
        return { network_new_device_accounts = 0, network_regulars = 0, address_accounts = 0,
                 wide_failing_accounts = 0, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }
    end
    local family = M.device_family(a)
    local since, n = a.ts - cfg.cross_account_days * 86400000, values.prefixes and "n:" .. values.prefixes
    local w = M.wide_network(a, values)
    local spray_since = a.ts - (cfg.spray_hours or 24) * 3600000
    return {
        network_new_device_accounts = n and xacct:others(n, a.user_id, since, "new_device") or 0,
        network_regulars = n and xacct:others(n, a.user_id, 0, "known_network") or 0,
        address_accounts = xacct:others("a:" .. a.ip_address, a.user_id, since),
        address_failing_accounts = xacct:others("g:" .. a.ip_address, a.user_id, a.ts - 3600000, "new_device"),
        wide_failing_accounts = w and xacct:others("f:" .. w, a.user_id, spray_since, "new_device") or 0,
        wide_regulars = w and xacct:others("w:" .. w, a.user_id, 0, "known_network") or 0,
        device_other_families = family and xacct:others("d:" .. a.device_id, family, 0) or 0,
    }
end

-- The OS and browser family a device id came with, when the caller says
-- both (device.os, device.browser): "Windows/Chrome".
function M.device_family(a)
    if not (a.device_id and a.device_id ~= "" and a.os and a.browser) then return nil end
    return a.os .. "/" .. a.browser
end

-- An attempt, remembered for the others' cross-account signals: a success
-- by its network and address (whether the network was new to the account
-- says something only once the account has a history) and its device id's
-- family, a failure from a device the account never signed in with (any,
-- for an account without a history) by its wider network and its address.
function M.cross_note(xacct, a, values, features, profile)
    local w = M.wide_network(a, values)
    if not a.success then
        if M.never_seen_device(profile, features) then
            if w then xacct:note("f:" .. w, a.user_id, a.ts, "new_device") end
            xacct:note("g:" .. a.ip_address, a.user_id, a.ts, "new_device")
        end
        return
    end
    local history = not unknown_account(profile)
    if values.prefixes then
        xacct:note("n:" .. values.prefixes, a.user_id, a.ts, features.new_device == 1 and "new_device",
                   history and (features.new_prefix == 1 and "new_network" or "known_network"))
    end
    if w and history and features.new_prefix ~= 1 then xacct:note("w:" .. w, a.user_id, a.ts, nil, "known_network") end
    xacct:note("a:" .. a.ip_address, a.user_id, a.ts)
    -- the memory's "accounts" of a device id are its families
    local family = M.device_family(a)
    if family then xacct:note("d:" .. a.device_id, family, a.ts) end
end

-- The thresholds in force: { medium, high, critical, calibrated, attempts }
-- (GET /api/admin/rules, /metrics); nil without a config.lua.
function M.thresholds(calib, cfg)
    if not (cfg and cfg.levels) then return nil end
    local t, calibrated = calib:thresholds(cfg)
    return { medium = cfg.levels.medium, high = t.high, critical = t.critical, calibrated = calibrated,
             attempts = math.floor(calib:count()) }
end

-- Whether the attempt's score teaches the calibration: a success that no
-- rule of config.calibration_excludes (known attackers) fired on.
local function calibrates(a, results, cfg)
    if not a.success then return false end
    local ex = cfg.calibration_excludes
    if ex then
        for _, r in ipairs(results) do if ex[r.name] then return false end end
    end
    return true
end

M.LEVEL_RANK = require("lib.vocab").level_rank

-- The outcome of a replayed attempt that says how its challenge would end
-- (a.challenge): what a service acting on the answer would report.
local function simulated_outcome(a, action)
    if not a.challenge then return nil end
    if action == "allow" then return "allowed" end
    if action == "block" then return "blocked" end
    return a.challenge == "pass" and "passed_challenge" or "failed_challenge"
end

-- Whether an outcome reported later teaches a held success.
function M.outcome_learns(outcome, cfg)
    return cfg.learning ~= nil and cfg.learning.outcomes[outcome] == true
end

-- When a success teaches the user's profile and the site's value counts
-- (config.learning): "now"; "grace", learned once the attempts' clock
-- passes the returned time unless an outcome settles it first; or
-- "outcome", learned only if one says so. Without config.learning every
-- success teaches at once.
function M.learning(a, action, outcome, cfg)
    local L = cfg.learning
    if not a.success or not L then return "now" end
    if outcome then return L.outcomes[outcome] and "now" or "outcome" end
    if L.actions[action] then return "now" end
    if not L.unreported[action] then return "outcome" end
    return "grace", a.ts + math.floor((L.grace_minutes or 15) * 60000)
end

-- The grace period runs on the attempts' clock, in the server as in a
-- replay: before an attempt is analysed, the held successes whose grace
-- has ended by its time are learned (one indexed read when none has), so
-- that riskd score and the API learn the same things at the same points.
local function settle_due(store, cfg, ts)
    local L = cfg.learning
    if not (L and next(L.unreported)) then return true end
    local due, err = store:due(ts)
    if due == nil then return nil, err end
    if due then return store:settle(ts) end
    return true
end

-- Opens an alert for the attempt, or adds it to the open alert of the same
-- user and cause (the strongest rule) updated within the window. Returns the
-- alert's id, or nil when the store failed (the analysis stands anyway).
-- A new alert goes to the site's webhooks and SIEM (lib/delivery.lua);
-- event is what the analysis recorded.
function M.raise_alert(store, cfg, a, event_id, level, results, reasons, event)
    local cause = results[1] and results[1].name or "risk"
    local window = (cfg.alert_window_minutes or 10) * 60000
    local open = store:alert_find_open(a.user_id, cause, a.ts - window)
    local data = { user_id = a.user_id, severity = level, cause = cause, event_id = event_id, reasons = reasons }
    if open then
        if not store:alert_add_event(open, event_id, level, a.ts) then return nil end
        data.alert_id = open
        realtime.publish("alerts", "updated", data)
        return open
    end
    local names = {}
    for i, r in ipairs(results) do names[i] = r.name end
    -- the first attempt's id, address and score ride along in the alert's document (lists show them)
    local id = store:alert_insert({ user_id = a.user_id, severity = level, cause = cause, created = a.ts,
                                    reasons = reasons, rules = names, event_id = event_id, ip_address = a.ip_address,
                                    risk_score = event and event.risk_score or nil }, event_id)
    if id then
        data.alert_id, data.status = id, "open"
        realtime.publish("alerts", "created", data)
        delivery.alert(store, { alert_id = id, user_id = a.user_id, severity = level, cause = cause, created = a.ts,
                                reasons = reasons, rules = names }, event)
    end
    return id
end

-- Enrichment: where the address is (when the attempt does not say) and which
-- network owns it, from the operator's MaxMind databases.
local function enrich(a, geo)
    local g = geo:lookup(a.ip_address)
    if not g then return end
    if a.country == nil and a.latitude == nil then
        a.country, a.city, a.latitude, a.longitude = g.country, g.city, g.latitude, g.longitude
        a.location_source = g.country and "geoip" or nil
    end
    a.asn, a.asn_org = g.asn, g.asn_org
end

local ACTION_RANK = { allow = 1, challenge = 2, block = 3 }

-- Stage timers for opts.timing; the server's requests get the no-op and
-- allocate no closure. overhead: what one reading of the clock costs, taken
-- off each stage (a thread's CPU clock is a system call here).
local function no_lap() end
local function timer(timing, clock, overhead)
    clock, overhead = clock or os.clock, overhead or 0
    local t = clock()
    return function(stage)
        local now = clock()
        timing[stage] = (timing[stage] or 0) + math.max(0, now - t - overhead)
        t = now
    end
end

-- deps: { store (or nil), model (or nil), geo (or nil), intel (or nil), rules, features, config, format_time }
-- opts (optional): { keep_row = true } adds the model's input row as .row
-- (training collects them); { explain = true } adds the model's exact
-- Shapley contributions. They cost milliseconds to tens of milliseconds (they
-- run on the server's pool, not its event loop), so by default they are
-- computed on demand (GET /api/login/events/:id/explain) instead.
-- { own_signin = true }: a sign-in to riskd itself, left out of the
-- site-wide rates.
function M.analyze(a, deps, opts)
    local cfg = deps.config
    local degraded = false
    -- opts.timing (a table): CPU seconds added up per stage, for riskd score,
    -- read from opts.clock (default os.clock, the whole process's), less
    -- opts.clock_overhead per reading.
    local lap = opts and opts.timing and timer(opts.timing, opts.clock, opts.clock_overhead) or no_lap
    if deps.geo then enrich(a, deps.geo) end
    local profile, recent = nil, { failures = 0, ip_users = 0 }
    if deps.store and not settle_due(deps.store, cfg, a.ts) then degraded = true end
    if deps.store then
        local p, err, code = deps.store:profile(a.user_id)
        if p then profile = p elseif code ~= "not_found" then degraded = true end
        local f, u = deps.store:recent(a.user_id, a.ip_address, a.ts - HOUR)
        if f then recent = { failures = f, ip_users = u } else degraded = true end
    else
        degraded = true
    end
    lap("store reads")

    local features, row = deps.features.extract(a, profile, recent)
    -- For rules only: the model's columns are fixed per model file, so
    -- turning enrichment on never changes what a loaded model sees.
    if a.asn then
        local known = profile and profile.asns and profile.asns[a.asn]
        features.new_asn = (not unknown_account(profile) and not known) and 1 or 0
    end

    -- How common this attempt's values are across all users (familiarity).
    local values = { devices = a.device_id, countries = a.country, prefixes = deps.features.ip_prefix(a.ip_address),
                     user_agents = a.user_agent, asns = a.asn }
    lap("features")
    local global = {}
    if deps.store and not degraded then
        local g = deps.store:global_counts(values)
        if g then global = g else degraded = true end
    end
    lap("store reads")

    local anomaly = { score = nil, is_anomaly = false }
    if deps.model then
        local s = deps.model:score(row)
        local phi, expected
        if opts and opts.explain then phi, expected = deps.model:explain(row) end
        anomaly = { score = s, is_anomaly = s >= cfg.anomaly_threshold, expected = expected, contributions = phi }
    end
    lap("forest")

    local familiarity = M.familiarity(profile, values, global)
    local cross = M.cross(deps.xacct, a, values, cfg)
    local ctx = { attempt = a, profile = profile, features = M.rule_features(features), anomaly = anomaly, recent = recent,
                  values = values, global = global, familiarity = familiarity, site = M.site(a, profile, features, opts and opts.own_signin),
                  intel = M.intel_view(deps.intel), cross = cross }
    local results, rule_errors = deps.rules.evaluate(ctx)
    table.sort(results, function(x, y) return x.score > y.score end)
    lap("rules")

    local score = M.combine(results, cfg.families, profile and profile.successes or 0)
    local thresholds = deps.calib and deps.calib:thresholds(cfg)
    local level = M.level(score, cfg, thresholds, results)
    if deps.calib and calibrates(a, results, cfg) then deps.calib:add(score, a.ts, cfg) end
    if deps.xacct then M.cross_note(deps.xacct, a, values, features, profile) end
    local action = cfg.actions[level]
    local outcome = a.outcome or simulated_outcome(a, action)
    local held, learn_at = M.learning(a, action, outcome, cfg)
    local reasons = {}
    for _, r in ipairs(results) do reasons[#reasons + 1] = r.reason or r.name end

    local event = {
        user_id = a.user_id, ts = a.ts, ip_address = a.ip_address, success = a.success,
        country = a.country, city = a.city, latitude = a.latitude, longitude = a.longitude,
        device_id = a.device_id, user_agent = a.user_agent, os = a.os, browser = a.browser,
        asn = a.asn, asn_org = a.asn_org, location_source = a.location_source,
        risk_score = score, risk_level = level, action = action,
        is_anomaly = anomaly.is_anomaly, anomaly_score = anomaly.score or 0,
        reasons = reasons, rules = results, features = features, rule_errors = rule_errors,
        contributions = anomaly.contributions, outcome = outcome,
    }
    lap("combine")
    local id
    if deps.store and not degraded then
        id = deps.store:record(event, held ~= "now" and { held = held, learn_at = learn_at } or nil)
        if not id then degraded = true end
    end
    -- Degraded: at least the configured action, never less than the analysis
    -- found (a block stays a block).
    if degraded and ACTION_RANK[cfg.degraded_action] > (ACTION_RANK[action] or 0) then action = cfg.degraded_action end

    local alert_id
    if id and M.LEVEL_RANK[level] >= M.LEVEL_RANK[cfg.alert_level or "high"] then
        event.event_id = id
        alert_id = M.raise_alert(deps.store, cfg, a, id, level, results, reasons, event)
    end
    if id and M.LEVEL_RANK[level] >= M.LEVEL_RANK.high then
        event.event_id, event.alert_id = id, alert_id
        delivery.event(deps.store, event)
    end
    lap("store write")
    if id then
        realtime.publish("events", "analyzed", {
            event_id = id, user_id = a.user_id, timestamp = deps.format_time(a.ts), ip_address = a.ip_address,
            risk_score = score, risk_level = level, action = action, reasons = reasons, alert_id = alert_id,
        }, realtime.LEVELS[level])
    end

    return {
        event_id = id, user_id = a.user_id, timestamp = deps.format_time(a.ts),
        risk_score = score, risk_level = level, action = action,
        is_anomaly = anomaly.is_anomaly, anomaly_score = anomaly.score and math.floor(anomaly.score * 10000 + 0.5) / 10000,
        reasons = reasons, rules = results, features = features,
        alert_id = alert_id, rule_errors = rule_errors, degraded = degraded or nil,
        row = opts and opts.keep_row and row or nil,
        familiarity = opts and opts.reference and familiarity.bits or nil,
        contributions = opts and opts.explain and anomaly.contributions or nil,
    }
end

return M
