-- spec/analyze_spec.lua — lib/analyze.lua with fake collaborators: input
-- validation, score combination, levels, degraded answers.
local analyze = require("lib.analyze")
local time = require("lib.time")

local config = assert(loadfile("rules/config.lua", "t"))()

local NOW = 1700000000000

describe("analyze.validate", function()
    local function v(body) return analyze.validate(body, NOW, time.parse) end

    it("keeps what the caller knows: a breached password, the headers with lower-case names", function()
        local a = assert(v({ user_id = "u", ip_address = "192.0.2.1", password_breached = true,
                             headers = { ["Accept-Language"] = "fr", ["User-Agent"] = "x" } }))
        assert.is_true(a.password_breached)
        assert.are.same({ ["accept-language"] = "fr", ["user-agent"] = "x" }, a.headers)
        local many = {}
        for i = 1, 65 do many["h" .. i] = "v" end
        assert.is_nil((v({ user_id = "u", ip_address = "192.0.2.1", headers = many })))
    end)

    it("fills defaults", function()
        local a = assert(v({ user_id = "u", ip_address = "192.0.2.1" }))
        assert.are.equal(NOW, a.ts)
        assert.is_true(a.success)
    end)

    it("names the field that is wrong", function()
        local cases = {
            { {}, "user_id" }, { { user_id = "" }, "user_id" }, { { user_id = "u" }, "ip_address" },
            { { user_id = "u", ip_address = "1.2.3.4", timestamp = "soon" }, "timestamp" },
            { { user_id = "u", ip_address = "1.2.3.4", success = "yes" }, "success" },
            { { user_id = "u", ip_address = "1.2.3.4", location = "Paris" }, "location" },
            { { user_id = "u", ip_address = "1.2.3.4", location = { latitude = 1 } }, "location" },
            { { user_id = "u", ip_address = "1.2.3.4", location = { latitude = 91, longitude = 0 } }, "location.latitude" },
            { { user_id = "u", ip_address = "1.2.3.4", location = { country = 3 } }, "location.country" },
            { { user_id = "u", ip_address = "1.2.3.4", device = { device_id = {} } }, "device.device_id" },
            { { user_id = "u", ip_address = "1.2.3.4", password_breached = "yes" }, "password_breached" },
            { { user_id = "u", ip_address = "1.2.3.4", headers = "Accept: */*" }, "headers" },
            { { user_id = "u", ip_address = "1.2.3.4", headers = { "a", "b" } }, "headers" },
            { { user_id = "u", ip_address = "1.2.3.4", headers = { accept = 3 } }, "headers" },
            { { user_id = "u", ip_address = "1.2.3.4", outcome = "passed" }, "outcome" },
            { { user_id = "u", ip_address = "1.2.3.4", challenge = true }, "challenge" },
            { "not an object", "body" },
        }
        for _, c in ipairs(cases) do
            local a, field, msg = v(c[1])
            assert.is_nil(a)
            assert.are.equal(c[2], field)
            assert.is_string(msg)
        end
    end)
end)

describe("analyze.combine and level", function()
    it("is monotone and continuous", function()
        assert.are.equal(0, analyze.combine({}))
        assert.are.equal(25, analyze.combine({ { score = 25 } }))
        assert.are.equal(43.75, analyze.combine({ { score = 25 }, { score = 25 } }))
        assert.are.equal(100, analyze.combine({ { score = 100 }, { score = 5 } }))
        assert.is_true(analyze.combine({ { score = 30 }, { score = 10 } }) > analyze.combine({ { score = 30 } }))
    end)

    it("counts the strongest rule of a family, and families as independent evidence", function()
        local fam = config.families
        local dev = { score = 40, family = "device_novelty" }
        local dev2 = { score = 25, family = "device_novelty" }
        local net = { score = 10, family = "network_novelty" }
        -- two rules of one family score no more than the stronger alone
        assert.are.equal(40, analyze.combine({ dev, dev2 }, fam))
        assert.are.equal(40, analyze.combine({ dev2, dev }, fam))
        -- independent families add: 1 - 0.6 * 0.9
        assert.are.equal(46, analyze.combine({ dev, dev2, net }, fam))
        -- a family declared "or" counts each of its rules (rules naming none are in "other")
        assert.are.equal("or", fam.other.combine)
        assert.are.equal(43.75, analyze.combine({ { score = 25, family = "other" }, { score = 25, family = "other" } }, fam))
        assert.are.equal(43.75, analyze.combine({ { score = 25, family = "x" }, { score = 25, family = "x" } },
                                                { x = { combine = "or" } }))
        -- a family config does not list combines by "max"
        assert.are.equal(25, analyze.combine({ { score = 25, family = "x" }, { score = 25, family = "x" } }, {}))
        -- monotone still: a further family never lowers the score
        assert.is_true(analyze.combine({ dev, net, { score = 1, family = "geography" } }, fam) > 46)
    end)

    it("weighs a history_logins family by the user's successful logins", function()
        local fam = { geo = { history_logins = 3 } }
        local function travel() return { score = 75, family = "geo" } end
        -- a user never seen: nothing; at n = k half the log-ratio (ratio 4 -> 2); a long history nearly all
        local r = travel()
        assert.are.equal(0, analyze.combine({ r }, fam, 0))
        assert.are.equal(0, r.counted)
        r = travel()
        assert.are.equal(50, analyze.combine({ r }, fam, 3))
        assert.are.equal(50, r.counted)
        assert.are.equal(75, r.score)   -- the rule's own answer stays as it said
        local long = analyze.combine({ travel() }, fam, 300)
        assert.is_true(long > 74.5 and long < 75)
        -- more history never lowers it; unknown history (nil) and other families are not discounted
        local last = -1
        for n = 0, 50 do
            local v = analyze.combine({ travel() }, fam, n)
            assert.is_true(v >= last)
            last = v
        end
        r = travel()
        assert.are.equal(75, analyze.combine({ r }, fam))
        assert.is_nil(r.counted)
        assert.are.equal(75, analyze.combine({ { score = 75, family = "dev" } }, fam, 0))
        -- as shipped, geography declares it
        assert.is_true(config.families.geography.history_logins > 0)
    end)

    it("levels follow the calibration once it has the history, within floors and ceilings", function()
        local c = require("riskd.calib").new()
        local t, calibrated = c:thresholds(config)
        assert.is_false(calibrated)
        assert.are.same({ high = config.levels.high, critical = config.levels.critical }, t)
        -- a site where a twentieth of successful logins score 70: high moves above 70 over the hours
        for i = 1, 20000 do c:add(i % 20 == 0 and 70 or (i % 50), NOW + i * 60000, config) end
        t, calibrated = c:thresholds(config)
        assert.is_true(calibrated)
        assert.are.equal(70.01, t.high)
        assert.are.equal(config.levels.critical, t.critical)
        assert.are.equal("medium", analyze.level(70, config, t))       -- would be high on fixed levels
        assert.are.equal("high", analyze.level(70, config))
        assert.are.equal("high", analyze.level(70.01, config, t))
        -- a rule's at_least raises the level whatever the thresholds, never lowers it
        assert.are.equal("high", analyze.level(10, config, t, { { score = 10, at_least = "high" } }))
        assert.are.equal("critical", analyze.level(85, config, t, { { score = 85, at_least = "medium" } }))
        assert.are.equal("medium", analyze.level(10, config, t, { { score = 5, at_least = "medium" }, { score = 5 } }))
        local th = analyze.thresholds(c, config)
        assert.are.same({ medium = config.levels.medium, high = 70.01, critical = config.levels.critical, calibrated = true },
                        { medium = th.medium, high = th.high, critical = th.critical, calibrated = th.calibrated })
        assert.is_nil(analyze.thresholds(c, {}))
        local copy = require("riskd.calib").new()
        assert.is_true(copy:decode(c:encode()))
        assert.are.same(t, (copy:thresholds(config)))
        assert.are.same({ nil, "not a calibration riskd wrote", "bad_state" }, { copy:decode("x") })
        assert.has_error(function() c:thresholds({}) end)   -- a config without levels is a bug
        -- an older config.lua, without the calibration's keys: the fixed levels
        local old = { levels = config.levels }
        local o = require("riskd.calib").new()
        for i = 1, 20000 do o:add(i % 20 == 0 and 70 or (i % 50), NOW + i * 60000, old) end
        assert.are.same({ high = config.levels.high, critical = config.levels.critical }, (o:thresholds(old)))
    end)

    it("as shipped, a wave of high-scoring successes stays at high or above while it lasts", function()
        local c = require("riskd.calib").new()
        local ts = NOW
        -- a day of a site's usual successes: mostly low, a few in the 60s
        for i = 1, 20000 do ts = ts + 4000; c:add(i % 100 == 0 and 65 or (i % 50), ts, config) end
        local before = (c:thresholds(config)).high
        assert.is_true(before > config.levels.high and before < 70, tostring(before))
        -- five hours of a takeover campaign: 600 successes an hour at 85, as
        -- many as the site's own logins
        for i = 1, 3000 do
            ts = ts + 3000
            local t = c:thresholds(config)
            local level = analyze.level(85, config, t)
            assert.is_true(analyze.LEVEL_RANK[level] >= analyze.LEVEL_RANK.high, "wave attempt " .. i .. ": " .. level)
            c:add(85, ts, config)
            c:add(i % 50, ts + 1, config)
        end
        local after = (c:thresholds(config)).high
        assert.is_true(after <= before + 5 * config.calibration_max_rise_per_hour + 1e-9, tostring(after))
    end)

    it("maps scores to levels", function()
        assert.are.equal("low", analyze.level(29.99, config))
        assert.are.equal("medium", analyze.level(30, config))
        assert.are.equal("high", analyze.level(60, config))
        assert.are.equal("critical", analyze.level(80, config))
    end)
end)

describe("analyze.analyze", function()
    local recorded
    local function deps(over)
        local d = {
            store = {
                profile = function() return nil, "no profile", "not_found" end,
                recent = function() return 0, 1 end,
                record = function(_, e) recorded = e; return "evt1" end,
                due = function() return false end,
                settle = function() return 0 end,
                global_counts = function(_, values) return { countries = { count = 1, total = 2, distinct = 2 } } end,
            },
            features = require("riskd.features"),
            rules = { evaluate = function(ctx)
                assert(ctx.global and ctx.values, "the rules see global counts and the attempt's values")
                assert(type(ctx.features.new_device) == "boolean" and type(ctx.features.weekend) == "boolean",
                    "yes/no features are booleans for rules")
                assert(type(ctx.features.failures_1h) == "number")
                local r = {}
                if ctx.features.failures_1h >= 5 then r[1] = { name = "brute_force", score = 50, reason = "many" } end
                r[#r + 1] = { name = "small", score = 10, reason = "small" }
                return r, {}
            end },
            config = config,
            format_time = time.format,
        }
        for k, v in pairs(over or {}) do d[k] = v end
        return d
    end
    local attempt = { user_id = "u", ip_address = "192.0.2.1", ts = NOW, success = true }

    it("scores, explains and records", function()
        local r = analyze.analyze(attempt, deps())
        assert.are.equal("evt1", r.event_id)
        assert.are.equal(10, r.risk_score)
        assert.are.equal("low", r.risk_level)
        assert.are.equal("allow", r.action)
        assert.are.same({ "small" }, r.reasons)
        assert.are.equal(10, recorded.risk_score)
        assert.are.equal("u", recorded.user_id)
        assert.is_nil(r.degraded)
    end)

    it("teaches the calibration successes only, and not known attackers'", function()
        local c = require("riskd.calib").new()
        analyze.analyze(attempt, deps({ calib = c }))
        assert.are.equal(1, c:count())
        analyze.analyze({ user_id = "u", ip_address = "192.0.2.1", ts = NOW, success = false }, deps({ calib = c }))
        assert.are.equal(1, c:count())                                  -- a failure is not counted
        local bad = deps({ calib = c })
        bad.rules = { evaluate = function() return { { name = "known_bad_address", score = 20, reason = "x" } }, {} end }
        assert.is_true(config.calibration_excludes.known_bad_address)
        analyze.analyze(attempt, bad)
        assert.are.equal(1, c:count())                                  -- nor a known attacker
    end)

    it("remembers whether the network was new to an account with a history: an exit has no regulars", function()
        local x = require("riskd.xacct").new(64)
        local values = { prefixes = "198.51.100.0/24" }
        local history, none = { successes = 8 }, nil
        local function at(user, ts, new_prefix, profile)
            analyze.cross_note(x, { user_id = user, ip_address = "198.51.100.7", ts = ts, success = true }, values,
                               { new_device = 0, new_prefix = new_prefix }, profile)
        end
        at("v1", NOW, 1, history)                                     -- a newcomer
        at("n1", NOW + 1, 0, none)                                    -- a new account: neither
        local c = analyze.cross(x, { user_id = "z", ip_address = "198.51.100.9", ts = NOW + 2 }, values, config)
        assert.are.equal(0, c.network_regulars)
        assert.are.equal(1, x:others("n:198.51.100.0/24", "z", 0, "new_network"))
        at("r1", NOW + 3, 0, history)                                 -- comes back to a network of its own
        c = analyze.cross(x, { user_id = "z", ip_address = "198.51.100.9", ts = NOW + 4 }, values, config)
        assert.are.equal(1, c.network_regulars)
        -- regulars count from the whole memory, not only the last days
        local later = NOW + (config.cross_account_days + 1) * 86400000
        c = analyze.cross(x, { user_id = "z", ip_address = "198.51.100.9", ts = later }, values, config)
        assert.are.same({ network_new_device_accounts = 0, network_regulars = 1, address_accounts = 0, wide_failing_accounts = 0, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }, c)
        assert.has_error(function() x:note("n:k", "u", NOW, "sideways") end)
    end)

    it("gives the rules what other accounts did from the network, and remembers successes", function()
        local x = require("riskd.xacct").new(64)
        local seen
        local d = deps({ xacct = x })
        d.rules = { evaluate = function(ctx) seen = ctx.cross return {}, {} end }
        local function try(user, ip, ts, success)
            analyze.analyze({ user_id = user, ip_address = ip, ts = ts, success = success ~= false }, d)
            return seen
        end
        assert.are.same({ network_new_device_accounts = 0, network_regulars = 0, address_accounts = 0, wide_failing_accounts = 0, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }, try("a", "203.0.113.5", NOW))
        -- a failure is not remembered by network or address; by wide network, as a device b never signed in with
        try("b", "203.0.113.9", NOW + 1000, false)
        -- a new user's success is not from a device "new to them" (no history): c counts on the network, not as a new device
        assert.are.same({ network_new_device_accounts = 0, network_regulars = 0, address_accounts = 0, wide_failing_accounts = 1, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }, try("c", "203.0.113.7", NOW + 2000))
        assert.are.equal(2, x:others("n:203.0.113.0/24", "z", NOW))                   -- a and c, not b
        x:note("n:203.0.113.0/24", "f", NOW + 2500, "new_device")                              -- as a new device would be
        assert.are.same({ network_new_device_accounts = 1, network_regulars = 0, address_accounts = 1, wide_failing_accounts = 1, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }, try("d", "203.0.113.5", NOW + 3000))
        -- b's failure is remembered by its address too, for the hour
        assert.are.equal(1, try("g", "203.0.113.9", NOW + 4000, false).address_failing_accounts)
        assert.are.equal(0, try("h", "203.0.113.9", NOW + 3600000 + 4001, false).address_failing_accounts)
        local later = NOW + (config.cross_account_days + 1) * 86400000
        assert.are.same({ network_new_device_accounts = 0, network_regulars = 0, address_accounts = 0, wide_failing_accounts = 0, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }, try("e", "203.0.113.5", later))
        assert.are.same({ network_new_device_accounts = 0, network_regulars = 0, address_accounts = 0, wide_failing_accounts = 0, wide_regulars = 0, device_other_families = 0, address_failing_accounts = 0 }, analyze.cross(nil, {}, {}, config))
    end)

    it("remembers failures with new devices by wide network (/16), and who comes back to it", function()
        local x = require("riskd.xacct").new(64)
        local history = { successes = 8 }
        local function at(user, ip, ts, success, new_device, new_prefix)
            analyze.cross_note(x, { user_id = user, ip_address = ip, ts = ts, success = success }, { prefixes = "p" },
                               { new_device = new_device, new_prefix = new_prefix }, history)
        end
        local function cross(ip, ts)
            return analyze.cross(x, { user_id = "z", ip_address = ip, ts = ts }, { prefixes = "q" }, config)
        end
        at("s1", "198.51.7.1", NOW, false, 1, 1)
        at("s2", "198.51.200.9", NOW + 1, false, 1, 1)
        at("s3", "198.51.3.3", NOW + 2, false, 0, 1)          -- a typo on a known device: not a spray's
        at("s4", "198.52.3.3", NOW + 3, false, 1, 1)          -- another /16
        local c = cross("198.51.9.9", NOW + 4)
        assert.are.equal(2, c.wide_failing_accounts)
        assert.are.equal(0, c.wide_regulars)
        at("r1", "198.51.8.8", NOW + 5, true, 0, 0)            -- an account back on a network of its own
        assert.are.equal(1, cross("198.51.9.9", NOW + 6).wide_regulars)
        at("r2", "198.51.8.9", NOW + 7, true, 0, 1)            -- a success on a network new to the account: no regular
        assert.are.equal(1, cross("198.51.9.9", NOW + 8).wide_regulars)
        -- the failures count over config.spray_hours only
        assert.are.equal(0, cross("198.51.9.9", NOW + (config.spray_hours + 1) * 3600000).wide_failing_accounts)
        assert.are.equal("2001:db8::/48", analyze.wide_network({ ip_address = "2001:db8::1" }, { prefixes = "2001:db8::/48" }))
        assert.are.equal("198.51", analyze.wide_network({ ip_address = "198.51.9.9" }, {}))
    end)

    it("remembers the OS and browser families each device id signed in with", function()
        local x = require("riskd.xacct").new(64)
        local function a(user, os_, browser, success, ts)
            return { user_id = user, ip_address = "192.0.2.1", ts = ts, success = success, device_id = "dev-1",
                     os = os_, browser = browser }
        end
        local function note(at) analyze.cross_note(x, at, {}, { new_device = 0, new_prefix = 0 }, { successes = 9 }) end
        note(a("u", "iOS", "Safari", true, NOW))
        note(a("u", "iOS", "Safari", true, NOW + 1))
        assert.are.equal(0, analyze.cross(x, a("u", "iOS", "Safari", true, NOW + 2), {}, config).device_other_families)
        assert.are.equal(1, analyze.cross(x, a("u", "Windows", "Chrome", true, NOW + 2), {}, config).device_other_families)
        note(a("u", "Windows", "Chrome", false, NOW + 3))         -- a failure is not remembered: nobody signed in
        assert.are.equal(1, analyze.cross(x, a("u", "Linux", "Firefox", true, NOW + 4), {}, config).device_other_families)
        assert.is_nil(analyze.device_family(a("u", nil, "Safari", true, NOW)))   -- the caller did not say
        assert.are.equal("iOS/Safari", analyze.device_family(a("u", "iOS", "Safari", true, NOW)))
    end)

    it("holds a success until the service says it let the user in", function()
        local opts
        local function run(a, score, over)
            local d = deps(over)
            d.store.record = function(_, e, o) recorded, opts = e, o return "evt1" end
            d.store.alert_find_open = function() return nil end
            d.store.alert_insert = function() return "alert1" end
            d.rules = { evaluate = function() return score and { { name = "r", score = score, reason = "r" } } or {}, {} end }
            local full = { user_id = "u", ip_address = "192.0.2.1", ts = NOW, success = true }
            for k, v in pairs(a) do full[k] = v end
            return analyze.analyze(full, d), opts
        end
        local grace = config.learning.grace_minutes * 60000
        assert.is_nil(select(2, run({}, nil)))                                                -- allowed: learned at once
        assert.are.same({ held = "grace", learn_at = NOW + grace }, select(2, run({}, 50)))    -- challenged: the attempts' clock
        assert.are.same({ held = "outcome" }, select(2, run({}, 95)))                         -- blocked: never by itself
        assert.are.same({ held = "outcome" }, select(2, run({ outcome = "failed_challenge" }, 50)))
        assert.is_nil(select(2, run({ outcome = "passed_challenge" }, 50)))
        assert.is_nil(select(2, run({ success = false }, 95)))                                -- failures count as such
        -- a replay of generated traffic: the outcome a service acting on the answer would report
        local r, o = run({ challenge = "fail" }, 50)
        assert.are.same({ held = "outcome" }, o)
        assert.are.equal("failed_challenge", recorded.outcome)
        assert.are.equal("challenge", r.action)
        run({ challenge = "pass" }, 50)
        assert.are.equal("passed_challenge", recorded.outcome)
        run({ challenge = "fail" }, 95)
        assert.are.equal("blocked", recorded.outcome)
        -- a config.lua from before: every success teaches at once
        local old = {}
        for k, v in pairs(config) do old[k] = v end
        old.learning = nil
        assert.is_nil(select(2, run({}, 95, { config = old })))
        assert.is_true(analyze.outcome_learns("passed_challenge", config))
        assert.is_false(analyze.outcome_learns("blocked", config))
        assert.is_false(analyze.outcome_learns("allowed", old))
    end)

    it("learns the held successes whose grace has ended before reading the profile", function()
        local calls = {}
        local d = deps()
        d.store.due = function(_, ts) calls[#calls + 1] = "due " .. ts return true end
        d.store.settle = function(_, ts) calls[#calls + 1] = "settle " .. ts return 1 end
        local profile = d.store.profile
        d.store.profile = function(...) calls[#calls + 1] = "profile" return profile(...) end
        analyze.analyze(attempt, d)
        assert.are.same({ "due " .. NOW, "settle " .. NOW, "profile" }, calls)
        d.store.due = function() return nil, "disk I/O error" end
        assert.is_true(analyze.analyze(attempt, d).degraded)
    end)

    it("orders reasons by score", function()
        local d = deps()
        d.store.recent = function() return 7, 1 end
        local r = analyze.analyze(attempt, d)
        assert.are.same({ "many", "small" }, r.reasons)
        assert.are.equal(55, r.risk_score)
        assert.are.equal("medium", r.risk_level)
        assert.are.equal("challenge", r.action)
    end)

    it("answers degraded when the store fails", function()
        local d = deps()
        d.store.recent = function() return nil, "database is locked", "store_error" end
        local r = analyze.analyze(attempt, d)
        assert.is_true(r.degraded)
        assert.are.equal(config.degraded_action, r.action)
        assert.is_nil(r.event_id)
        local r2 = analyze.analyze(attempt, deps({ store = false }))
        assert.is_true(r2.degraded)
        -- never less than what the analysis found: a block stays a block
        local d3 = deps({ store = false })
        d3.rules = { evaluate = function() return { { name = "x", score = 95, reason = "x" } }, {} end }
        local r3 = analyze.analyze(attempt, d3)
        assert.is_true(r3.degraded)
        assert.are.equal("block", r3.action)
    end)

    it("uses the model when there is one", function()
        local model = {
            score = function(_, row) assert.are.equal(15, #row) return 0.9 end,
            explain = function() return { new_device = 0.3 }, 0.45 end,
        }
        local r = analyze.analyze(attempt, deps({ model = model }))
        assert.is_true(r.is_anomaly)
        assert.are.equal(0.9, r.anomaly_score)
    end)
end)

describe("site-wide signals", function()
    local rates = require("riskd.rates")
    it("count failures from never-seen devices, then read the hour against the baseline", function()
        rates.reset()
        local t0 = 480000 * 3600000
        local known = { successes = 3 }
        -- a failure on a known device is not counted; one with no history, or a new device, is
        local s = analyze.site({ ts = t0, success = false }, known, { new_device = 0 })
        assert.is_false(s.never_seen_device)
        assert.are.equal(0, s.new_device_failures.last_hour)
        s = analyze.site({ ts = t0 + 1000, success = false }, nil, {})
        assert.is_true(s.never_seen_device)
        assert.are.equal(1, s.new_device_failures.last_hour)
        s = analyze.site({ ts = t0 + 2000, success = false }, known, { new_device = 1 })
        assert.are.equal(2, s.new_device_failures.last_hour)
        -- a success from a new device is suspected in a spike, but not counted as a failure
        s = analyze.site({ ts = t0 + 3000, success = true }, known, { new_device = 1 })
        assert.is_true(s.never_seen_device)
        assert.are.equal(2, s.new_device_failures.last_hour)
        -- every attempt from a never-seen device is counted as one, failed or not
        assert.are.equal(3, s.new_device_attempts.last_hour)
        -- a sign-in to riskd itself is not the monitored service's traffic
        s = analyze.site({ ts = t0 + 4000, success = false }, nil, {}, true)
        assert.is_true(s.never_seen_device)
        assert.are.equal(2, s.new_device_failures.last_hour)
        assert.are.equal(3, s.new_device_attempts.last_hour)
        -- the next hours learn the baseline from this one
        s = analyze.site({ ts = t0 + 2 * 3600000, success = true }, known, { new_device = 0 })
        assert.are.equal(2, s.new_device_failures.hours)
        assert.is_true(s.new_device_failures.baseline > 0)
        rates.reset()
    end)

    it("count successful sign-ins, and those that were an account's first", function()
        rates.reset()
        local t0 = 480000 * 3600000
        local s = analyze.site({ ts = t0, success = true }, nil, {})          -- a first sign-in
        assert.is_true(s.unknown_account)
        assert.are.equal(1, s.successes.last_hour)
        assert.are.equal(1, s.first_successes.last_hour)
        s = analyze.site({ ts = t0 + 1000, success = true }, { successes = 0, failures = 2 }, {})
        assert.are.equal(2, s.first_successes.last_hour)                      -- failures alone make no history
        s = analyze.site({ ts = t0 + 2000, success = true }, { successes = 4 }, { new_device = 0 })
        assert.is_false(s.unknown_account)
        assert.are.equal(3, s.successes.last_hour)
        assert.are.equal(2, s.first_successes.last_hour)
        s = analyze.site({ ts = t0 + 3000, success = false }, nil, {})       -- a failure is no sign-in
        assert.is_true(s.unknown_account)
        assert.are.equal(3, s.successes.last_hour)
        assert.are.equal(2, s.first_successes.last_hour)
        s = analyze.site({ ts = t0 + 4000, success = true }, nil, {}, true)   -- nor is a sign-in to riskd itself
        assert.are.equal(3, s.successes.last_hour)
        assert.are.equal(2, s.first_successes.last_hour)
        rates.reset()
    end)

    it("riskd.rates' table is kept as text: what a restarted server reads back", function()
        rates.reset()
        local t0 = 480000 * 3600000
        for h = 0, 29 do
            for k = 0, h % 4 do rates.hit("f", t0 + h * 3600000 + k) end
        end
        local text = rates.encode()
        local before = rates.get("f", t0 + 30 * 3600000 + 60000)
        rates.reset()
        assert.are.equal(0, rates.get("f", t0 + 30 * 3600000).hours)
        assert.is_true(rates.decode(text))
        assert.are.same(before, rates.get("f", t0 + 30 * 3600000 + 60000))
        local ok, err = rates.decode("riskd-rates 9\n")
        assert.is_nil(ok)
        assert.matches("not a text rates.encode wrote", err)
        assert.are.same(before, rates.get("f", t0 + 30 * 3600000 + 60000))   -- nothing changed
        assert.are.equal("rates", rates.STATE_KEY)
        rates.reset()
    end)
end)

