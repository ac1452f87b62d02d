-- spec/rules_spec.lua — every shipped rule on hand-made contexts. The rules
-- are loaded by riskd.rules.load, the server's own loader: the same sandbox,
-- read-only config and ctx (the budgets apply inside riskd only).
local set = assert(require("riskd.rules").load("rules"))
assert.are.same({}, set:broken())

local config = set:config()

-- The rule of rules/<file>.lua, run as the server runs it.
local function rule(file)
    for _, r in ipairs(set:list()) do
        if r.file == file .. ".lua" then
            return { name = r.name, description = r.description, evaluate = function(ctx) return set:run(r.name, ctx) end }
        end
    end
    error("no rule in rules/" .. file .. ".lua")
end

local function ctx(over)
    local f = { new_device = false, new_country = false, new_prefix = false, hour_surprise = 0, distance_km = 0,
                speed_kmh = 0, failures_1h = 0, ip_users_1h = 0 }
    for k, v in pairs(over.features or {}) do f[k] = v end
    return { features = f, attempt = over.attempt or { ts = 1700000000000, country = "FR", ip_address = "192.0.2.1" },
             anomaly = over.anomaly or { score = nil }, intel = over.intel or require("lib.analyze").intel_view(nil) }
end

-- A real intel folder (riskd.intel over a temporary directory), seen by the
-- rules through the same view the pipeline gives them.
local function intel_folder(files)
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    for name, text in pairs(files) do
        local f = assert(io.open(dir .. "/" .. name, "w"))
        f:write(text)
        f:close()
    end
    local h = require("riskd.intel").open(dir)
    return require("lib.analyze").intel_view(h), h, dir
end

describe("shipped rules", function()
    it("are all well formed and have distinct names", function()
        local seen = {}
        for file in io.popen("ls rules"):lines() do
            if file ~= "config.lua" and file:find("%.lua$") then   -- phishing/: spec/phishing_spec.lua
                local r = rule(file:gsub("%.lua$", ""))
                assert.is_string(r.name)
                assert.is_string(r.description)
                assert.is_function(r.evaluate)
                assert.is_nil(seen[r.name], r.name)
                seen[r.name] = true
                assert.is_falsy((r.evaluate(ctx({}))))   -- a plain login fires nothing
            end
        end
    end)

    it("take their weights from their own files, config.lua overriding; old-style files still load", function()
        local f = assert(io.open("rules/config.lua"))
        local cfg = f:read("a"):gsub("weights = {},", "weights = { new_device = 31 },")
        f:close()
        local other = assert(require("riskd.rules").load("rules", {
            ["config.lua"] = cfg,
            ["zz_old.lua"] = "return { name = 'zz_old', description = 'old style', evaluate = function() return 5, 'old' end }",
        }))
        assert.are.same({}, other:broken())
        assert.are.equal(31, (other:run("new_device", ctx({ features = { new_device = true } }))))
        assert.are.equal(25, (set:run("new_device", ctx({ features = { new_device = true } }))))
        assert.are.equal(25, other:config().weights.new_country_known_device)   -- the rest keep the rules' own
        assert.are.same({ 5, "old" }, { other:run("zz_old", ctx({})) })
    end)

    it("each name a family; a rule without one is in 'other'; a rule may give a likelihood ratio or a least level", function()
        local families = {}
        for _, r in ipairs(set:list()) do families[r.name] = r.family end
        assert.are.equal("device_novelty", families.new_device)
        assert.are.equal("device_novelty", families.new_device_and_network)
        assert.are.equal("network_novelty", families.new_network)
        assert.are.equal("site_novelty", families.unused_network)      -- new to the site, on top of new to the user
        assert.are.equal("velocity", families.brute_force)
        assert.are.equal("familiarity", families.familiarity)          -- the whole attempt: not one more device rule
        for name, fam in pairs(families) do assert.are_not.equal("other", fam, name) end   -- every shipped rule names one
        local other = assert(require("riskd.rules").load("rules", {
            ["zz_old.lua"] = "return { name = 'zz_old', description = 'old style', evaluate = function() return 5, 'old' end }",
            ["zz_lr.lua"] = "return { name = 'zz_lr', family = 'velocity', description = 'a ratio', "
                .. "evaluate = function() return { lr = 4 }, 'four times likelier for an attacker' end }",
            ["zz_badlr.lua"] = "return { name = 'zz_badlr', description = 'no', evaluate = function() return { lr = 0.5 } end }",
            ["zz_badfam.lua"] = "return { name = 'zz_badfam', family = 3, description = 'no', evaluate = function() end }",
            ["zz_least.lua"] = "return { name = 'zz_least', description = 'always seen', "
                .. "evaluate = function() return { score = 20, at_least = 'high' }, 'seen' end }",
            ["zz_badleast.lua"] = "return { name = 'zz_badleast', description = 'no', "
                .. "evaluate = function() return { score = 20, at_least = 'severe' } end }",
            ["zz_both.lua"] = "return { name = 'zz_both', description = 'no', evaluate = function() return { score = 20, lr = 2 } end }",
        }))
        local broken = other:broken()
        assert.are.equal(1, #broken)
        assert.matches("zz_badfam.lua: a rule has a 'family' that is not a string", broken[1].error, 1, true)
        local results, errors = other:evaluate(ctx({}))
        local by = {}
        for _, r in ipairs(results) do by[r.name] = r end
        assert.are.same({ name = "zz_old", family = "other", score = 5, reason = "old" }, by.zz_old)
        assert.are.same({ name = "zz_lr", family = "velocity", score = 75, reason = "four times likelier for an attacker" }, by.zz_lr)
        assert.are.same({ name = "zz_least", family = "other", score = 20, reason = "seen", at_least = "high" }, by.zz_least)
        assert.are.same({ 20, "seen", "high" }, { other:run("zz_least", ctx({})) })
        local why = {}
        for _, e in ipairs(errors) do why[e.rule] = e.error end
        assert.are.equal(3, #errors)
        assert.matches("likelihood ratio", why.zz_badlr, 1, true)
        assert.matches("'at_least' that is not low, medium, high or critical", why.zz_badleast, 1, true)
        assert.matches("neither or both of 'score' and 'lr'", why.zz_both, 1, true)
    end)

    it("answer a failing rule's name and first line; the traceback stays in the admin view", function()
        local set = assert(require("riskd.rules").load("rules", {
            ["zz_boom.lua"] = "return { name = 'zz_boom', description = 'b',\n"
                .. "evaluate = function(ctx) local t = nil; return t.x end }",
        }))
        local _, errors = set:evaluate(ctx({}))
        local boom
        for _, e in ipairs(errors) do if e.rule == "zz_boom" then boom = e.error end end
        assert.are.equal("zz_boom.lua:2: attempt to index a nil value (local 't')", boom)
        local last
        for _, r in ipairs(set:list()) do if r.name == "zz_boom" then last = r.last_error end end
        assert.matches("stack traceback", last, 1, true)
    end)

    it("share helpers through require (rules/lib/), in the same sandbox", function()
        local other = assert(require("riskd.rules").load("rules", {
            ["lib/twice.lua"] = "return { of = function(x) return 2 * x + config.weights.new_device end }",
            ["zz_twice.lua"] = "local twice = require('twice')\n"
                .. "return { name = 'zz_twice', description = 't', evaluate = function() return twice.of(1), 'x' end }",
            ["zz_missing.lua"] = "local nope = require('nope')\nreturn { name = 'zz_missing', evaluate = function() end }",
        }))
        assert.are.equal(27, (other:run("zz_twice", ctx({}))))
        local broken = other:broken()
        assert.are.equal("zz_missing.lua", broken[1].file)
        assert.matches("no rule library 'nope'", broken[1].error)
    end)

    it("cannot change config or ctx, here as in the server", function()
        local other = assert(require("riskd.rules").load("rules", {
            ["zz_writes.lua"] = "return { name = 'zz_writes', description = 'w', evaluate = function(ctx)\n"
                .. "  config.weights.new_device = 0 end }",
            ["zz_ctx.lua"] = "return { name = 'zz_ctx', description = 'w', evaluate = function(ctx) ctx.features.x = 1 end }",
            ["zz_random.lua"] = "return { name = 'zz_random', description = 'r', evaluate = function() return math.random() end }",
        }))
        assert.has_error(function() other:run("zz_writes", ctx({})) end)
        assert.has_error(function() other:run("zz_ctx", ctx({})) end)
        assert.has_error(function() other:run("zz_random", ctx({})) end)   -- not in the sandbox: fails here as live
        assert.are.equal(25, other:config().weights.new_device)
    end)

    it("read config and ctx as tables: fields, #, ipairs, pairs, table.concat; nested reads are views too", function()
        local other = assert(require("riskd.rules").load("rules", {
            ["zz_reads.lua"] = "return { name = 'zz_reads', description = 'r', evaluate = function(ctx)\n"
                .. "  local l = ctx.attempt.list\n"
                .. "  local n = 0\n"
                .. "  for _, v in ipairs(l) do n = n + v end\n"
                .. "  local keys = {}\n"
                .. "  for k, v in pairs(ctx.attempt.nested) do keys[#keys + 1] = k .. '=' .. v.x end\n"
                .. "  table.sort(keys)\n"
                .. "  local same = ctx.attempt.nested == ctx.attempt.nested and ctx.attempt.nested.a == ctx.attempt.nested.a\n"
                .. "  local ok = pcall(function() ctx.attempt.nested.a.x = 0 end)\n"
                .. "  local ok2 = pcall(function() for _, v in pairs(ctx.attempt.nested) do v.x = 0 end end)\n"
                .. "  return n + #l + config.weights.new_device, table.concat(l, ',') .. ' ' .. table.concat(keys, ' ')\n"
                .. "    .. ' ' .. tostring(same) .. ' ' .. tostring(ok) .. ' ' .. tostring(ok2) end }",
        }))
        local c = ctx({ attempt = { list = { 1, 2, 3 }, nested = { a = { x = 1 }, b = { x = 2 } } } })
        assert.are.same({ 6 + 3 + 25, "1,2,3 a=1 b=2 true false false" }, { other:run("zz_reads", c) })
        assert.are.equal(1, c.attempt.nested.a.x)   -- the writes were refused, nothing changed
        -- a table replaced between two runs is read anew, not from the view made for the old one
        c.attempt.nested.a = { x = 7 }
        assert.are.same("1,2,3 a=7 b=2 true false false", select(2, other:run("zz_reads", c)))
    end)

    it("read a stored profile through ctx as the server hands it over, and cannot change it", function()
        local db = assert(require("riskd.store").open("mem:"))
        assert(db:record({ user_id = "pat", ts = 1700000000000, ip_address = "192.0.2.1", success = true,
                           country = "FR", device_id = "d1", user_agent = "UA/1" }))
        local p = assert(db:profile("pat"))
        local other = assert(require("riskd.rules").load("rules", {
            ["zz_profile.lua"] = "return { name = 'zz_profile', description = 'p', evaluate = function(ctx)\n"
                .. "  local p = ctx.profile\n"
                .. "  local n = 0\n"
                .. "  for value, item in pairs(p.devices) do n = n + item.count end\n"
                .. "  local w1 = pcall(function() p.successes = 99 end)\n"
                .. "  local w2 = pcall(function() p.devices.d2 = {} end)\n"
                .. "  p.countries.FR.count = 50   -- a copy: nothing else sees it\n"
                .. "  return p.successes * 10 + n, tostring(w1) .. ' ' .. tostring(w2) .. ' ' .. p.countries.FR.count end }",
        }))
        local c = ctx({})
        c.profile = p
        assert.are.same({ 11, "false false 1" }, { other:run("zz_profile", c) })
        assert.are.equal(1, p.successes)
        db:close()
    end)

    it("new device, country and network", function()
        assert.are.same({ 25, "new device" }, { rule("new_device").evaluate(ctx({ features = { new_device = true } })) })
        local s, why = rule("new_country").evaluate(ctx({ features = { new_country = true, new_device = true },
                                                          attempt = { country = "AU" } }))
        assert.are.equal(30, s)
        assert.are.equal("login from a new country (AU)", why)
        -- the user's own device abroad: travel, mostly (or a replayed cookie, which looks the same)
        s, why = rule("new_country").evaluate(ctx({ features = { new_country = true },
                                                    attempt = { country = "AU", device_id = "laptop" } }))
        assert.are.equal(25, s)
        assert.are.equal("login from a new country (AU) on a known device", why)
        -- no device id sent: nothing says the device is known
        s, why = rule("new_country").evaluate(ctx({ features = { new_country = true }, attempt = { country = "AU" } }))
        assert.are.equal(30, s)
        assert.are.equal("login from a new country (AU)", why)
        assert.are.equal(10, (rule("new_network").evaluate(ctx({ features = { new_prefix = true } }))))
    end)

    it("new network owner, only when enrichment gave one", function()
        local r = rule("new_asn")
        assert.is_nil(r.evaluate(ctx({})))
        local s, why = r.evaluate(ctx({ features = { new_asn = true }, attempt = { asn = "AS64500", asn_org = "Example Hosting" } }))
        assert.are.equal(15, s)
        assert.are.equal("new network owner (AS64500 Example Hosting)", why)
    end)

    it("impossible travel, with the distance and time in words", function()
        local r = rule("impossible_travel")
        local far = { distance_km = 8412.4, speed_kmh = 8412.4 / (2 + 10 / 60), new_prefix = true }
        local s, why = r.evaluate(ctx({ features = far }))
        assert.are.equal(75, s)
        assert.are.equal("impossible travel: 8,412 km in 2 h 10 min", why)
        -- fast but short (geolocation noise), or far but slow: nothing
        assert.is_nil(r.evaluate(ctx({ features = { distance_km = 100, speed_kmh = 6000, new_prefix = true } })))
        assert.is_nil(r.evaluate(ctx({ features = { distance_km = 5000, speed_kmh = 800, new_prefix = true } })))
        -- to a network the user already logs in from (a VPN toggled): nothing
        far.new_prefix = false
        assert.is_nil(r.evaluate(ctx({ features = far })))
        -- to a network many users log in from (shared infrastructure): nothing
        far.new_prefix = true
        local c = ctx({ features = far })
        c.global = { prefixes = { count = 10, total = 1000, distinct = 50 } }
        assert.is_nil(r.evaluate(c))
        c.global.prefixes.count = 9
        assert.are.equal(75, (r.evaluate(c)))
        -- a known device back in the user's main country: the earlier
        -- login (a VPN exit, a stolen cookie) was the odd one
        c.profile = { successes = 20, countries = { FR = { count = 12 } } }
        assert.are.equal(75, (r.evaluate(c)))                   -- no device id sent: not a known device
        c.attempt.device_id = "laptop"
        assert.is_nil(r.evaluate(c))
        c.features.new_device = true                               -- not with a device never seen
        assert.are.equal(75, (r.evaluate(c)))
        c.features.new_device = false
        c.profile.countries.FR.count = 2                         -- nor to a country of a login or two
        assert.are.equal(75, (r.evaluate(c)))
        c.profile.countries = { DE = { count = 20 } }
        assert.are.equal(75, (r.evaluate(c)))
        -- a known device in a country the user keeps signing in from (a VPN
        -- whose exits change, a commute across a border): a habit
        c.profile.countries.FR = { count = config.travel_habit_logins }
        assert.is_nil(r.evaluate(c))
        c.features.new_device = true                               -- a stranger's device there still is travel
        assert.are.equal(75, (r.evaluate(c)))
    end)

    it("a new country weighs less through a network many users log in from", function()
        local r = rule("new_country")
        assert.is_nil(r.evaluate(ctx({})))
        local c = ctx({ features = { new_country = true, new_device = true } })
        local s, why = r.evaluate(c)
        assert.are.equal(30, s)
        assert.are.equal("login from a new country (FR)", why)
        c.global = { prefixes = { count = 40, total = 1000, distinct = 50 } }
        s, why = r.evaluate(c)
        assert.are.equal(10, s)
        assert.matches("through a network many users log in from", why)
    end)

    it("a spike of failures from never-seen devices raises attempts from never-seen devices, failures most", function()
        local r = rule("failure_spike")
        local c = ctx({})
        local spike = { last_hour = 80, baseline = 3, hours = 48 }
        c.site = { never_seen_device = true, new_device_failures = spike }
        local s, why = r.evaluate(c)
        assert.is_true(s >= 55 and s <= 82.5, tostring(s))
        assert.are.equal("80 failed logins from new devices site-wide in the last hour, 27 times the usual 3.0", why)
        spike.last_hour = 1000
        assert.are.equal(82.5, (r.evaluate(c)))                -- capped at 1.5 times the weight
        c.attempt.success = true
        assert.are.equal(45, (r.evaluate(c)))                  -- a success weighs failure_spike_success
        c.attempt.success = nil
        c.site.never_seen_device = false
        assert.is_nil(r.evaluate(c))                           -- a known device is not suspected
        c.site.never_seen_device = true
        spike.last_hour, spike.baseline = 10, 0.1
        assert.is_nil(r.evaluate(c))                           -- too few to be a spike
        spike.last_hour, spike.baseline = 30, 10
        assert.is_nil(r.evaluate(c))                           -- 3 times the usual: not enough
        spike.last_hour, spike.baseline, spike.hours = 80, 3, 10
        assert.is_nil(r.evaluate(c))                           -- no baseline learned yet, nothing else known
        -- before the baseline, failures as most of the hour's attempts from never-seen devices
        c.site.new_device_attempts = { last_hour = 200, baseline = 0, hours = 10 }
        assert.is_nil(r.evaluate(c))                           -- 80 of 200: users mistyping, a busy hour
        c.site.new_device_attempts.last_hour = 100
        s, why = r.evaluate(c)                                  -- 80 of 100: a wave of stolen passwords
        assert.are.equal(82.5, s)
        assert.are.equal("80 failed logins from new devices site-wide in the last hour, 27 times the usual 3.0", why)
        spike.last_hour = 15
        assert.is_nil(r.evaluate(c))                           -- too few, whatever their share
        spike.last_hour = 80
        c.site.new_device_attempts = nil
        spike.hours, spike.baseline = 48, 0
        local s0, why0 = r.evaluate(c)                           -- the usual is never taken below 2: 80 / 2
        assert.are.equal(82.5, s0)
        assert.matches("40 times the usual 0.0", why0)
    end)

    it("a failed sign-in to an account that never signed in, once first sign-ins are rare on the site", function()
        local r = rule("unknown_account")
        local c = ctx({})
        c.attempt.success = false
        local all, first = { last_hour = 30, baseline = 25, hours = 200 }, { last_hour = 0, baseline = 0.25, hours = 200 }
        c.site = { unknown_account = true, successes = all, first_successes = first }
        local s, why = r.evaluate(c)
        assert.are.equal(50, s)
        assert.are.equal("failed sign-in to an account that never signed in (1.0 % of the site's sign-ins are an account's first)", why)
        c.attempt.success = true
        assert.is_nil(r.evaluate(c))                  -- a first sign-in is how every account starts
        c.attempt.success = false
        c.site.unknown_account = false
        assert.is_nil(r.evaluate(c))                  -- an account with a history
        c.site.unknown_account = true
        first.baseline = 5
        assert.is_nil(r.evaluate(c))                  -- a fifth of the sign-ins are first ones: accounts sign up
        first.baseline, all.hours = 0.25, 10
        assert.is_nil(r.evaluate(c))                  -- the site's first day: every account is unknown yet
        all.hours, all.baseline, first.baseline = 200, 0, 0
        assert.is_nil(r.evaluate(c))                  -- no sign-ins to compare with
        all.baseline = 3
        assert.is_nil(r.evaluate(c))                  -- a few sign-ins an hour, none a first: too few to tell
        all.baseline = 12
        assert.are.equal(50, (r.evaluate(c)))         -- a dozen an hour, none a first
        c.site = nil
        assert.is_nil(r.evaluate(c))                  -- no site figures (a rule tested alone)
    end)

    it("a new device and a new network at once, with a history", function()
        local r = rule("new_device_and_network")
        local c = ctx({ features = { new_device = true, new_prefix = true } })
        assert.is_nil(r.evaluate(c))                          -- no history
        c.profile = { successes = 4 }
        assert.is_nil(r.evaluate(c))
        c.profile = { successes = 5 }
        local s, why = r.evaluate(c)
        assert.are.equal(20, s)                               -- half the weight on a young profile
        assert.are.equal("a new device on a network this user never used", why)
        c.profile = { successes = 17 }
        assert.is_true(math.abs(r.evaluate(c) - 29.6) < 1e-9) -- growing with the history
        c.profile = { successes = 30 }
        assert.are.equal(40, (r.evaluate(c)))
        c.profile = { successes = 300 }
        assert.are.equal(40, (r.evaluate(c)))
        c.features.new_prefix = false
        assert.is_nil(r.evaluate(c))                          -- a cleared cookie at home
        c.features.new_prefix, c.features.new_device = true, false
        assert.is_nil(r.evaluate(c))                          -- a phone on a new carrier block
        c.features.new_device, c.features.new_country = true, true
        assert.is_nil(r.evaluate(c))                          -- abroad every network is new: the device alone is news
    end)

    it("a new device on a new network other accounts reached with new devices: a reused exit", function()
        local r = rule("reused_exit")
        local c = ctx({ features = { new_device = true, new_prefix = true } })
        c.cross = { network_new_device_accounts = 1, network_regulars = 0, address_accounts = 0 }
        assert.is_nil(r.evaluate(c))                          -- no history
        c.profile = { successes = 5 }
        local s, why = r.evaluate(c)
        assert.are.equal(45, s)
        assert.are.equal("1 other account signed in with new devices from this network in the last 7 days, none as a usual network", why)
        c.cross.network_regulars = 1
        assert.is_nil(r.evaluate(c))                          -- someone comes back to it: an office, a VPN exit
        c.cross.network_regulars = 0
        c.cross.network_new_device_accounts = 3
        assert.matches("3 other accounts", select(2, r.evaluate(c)), 1, true)
        c.cross.network_new_device_accounts = 0
        assert.is_nil(r.evaluate(c))                          -- nobody else
        c.cross.network_new_device_accounts = 2
        c.features.new_prefix = false
        assert.is_nil(r.evaluate(c))                          -- the user's own network (an office)
        c.features.new_prefix, c.features.new_device = true, false
        assert.is_nil(r.evaluate(c))                          -- the user's own device
    end)

    it("the user's own device from a new address other accounts used lately, none as its own", function()
        local r = rule("shared_session_exit")
        local c = ctx({ features = { new_prefix = true }, attempt = { ts = 1700000000000, ip_address = "192.0.2.9",
                                                                    device_id = "laptop" } })
        c.cross = { network_regulars = 0, address_accounts = 1 }
        local s, why = r.evaluate(c)
        assert.are.equal(55, s)
        assert.are.equal("this device of the user's came from an address 1 other account used in the last 7 days, none as a usual network", why)
        c.cross.address_accounts = 3
        assert.are.equal(75, (r.evaluate(c)))
        c.cross.address_accounts = 9
        assert.are.equal(80, (r.evaluate(c)))                -- the cap
        c.cross.network_regulars = 1
        assert.is_nil(r.evaluate(c))                          -- someone comes back to it: a household, an office
        c.cross.network_regulars, c.cross.address_accounts = 0, 0
        assert.is_nil(r.evaluate(c))                          -- nobody else
        c.cross.address_accounts, c.features.new_prefix = 2, false
        assert.is_nil(r.evaluate(c))                          -- the user's own network
        c.features.new_prefix, c.features.new_device = true, true
        assert.is_nil(r.evaluate(c))                          -- not the user's device: other rules' matter
        c.features.new_device = false
        c.global = { prefixes = { count = config.shared_network_logins, total = 1000, distinct = 50 } }
        assert.is_nil(r.evaluate(c))                          -- a busy network: shared infrastructure
    end)

    it("a spray over many addresses of one wide network that no account uses as its own", function()
        local r = rule("network_spray")
        local c = ctx({ features = { new_device = true } })
        c.site = { never_seen_device = true }
        c.cross = { wide_failing_accounts = config.spray_accounts, wide_regulars = 0 }
        local s, why = r.evaluate(c)
        assert.are.equal(50, s)
        assert.are.equal("4 other accounts failed with new devices from this wide network in the last 24 hours, none uses it as its own", why)
        c.cross.wide_failing_accounts = 7
        assert.are.equal(72.5, (r.evaluate(c)))
        c.cross.wide_failing_accounts = 8
        assert.are.equal(80, (r.evaluate(c)))                -- the most the memory holds of one network
        c.cross.wide_failing_accounts = 100
        assert.are.equal(80, (r.evaluate(c)))                -- the cap
        c.cross.wide_regulars = 1
        assert.is_nil(r.evaluate(c))                          -- a carrier, an office, a VPN: accounts come back to it
        c.cross.wide_regulars, c.cross.wide_failing_accounts = 0, config.spray_accounts - 1
        assert.is_nil(r.evaluate(c))                          -- too few
        c.cross.wide_failing_accounts, c.site.never_seen_device = 9, false
        assert.is_nil(r.evaluate(c))                          -- the user's own device
        -- an account without a history: any device is one it never signed in with
        c.features.new_device, c.site.never_seen_device = false, true
        assert.are.equal(80, (r.evaluate(c)))
    end)

    it("a known device id with another operating system or browser than before", function()
        local r = rule("device_family_changed")
        local c = ctx({ attempt = { ts = 1700000000000, device_id = "dev-1", os = "Windows", browser = "Chrome" } })
        c.cross = { device_other_families = 1 }
        local s, why = r.evaluate(c)
        assert.are.equal(60, s)
        assert.are.equal("this device signed in before with another operating system or browser than Chrome on Windows", why)
        c.cross.device_other_families = 0
        assert.is_nil(r.evaluate(c))                          -- the family it always had
        c.cross.device_other_families, c.features.new_device = 1, true
        assert.is_nil(r.evaluate(c))                          -- a device new to the user says nothing of its family
    end)

    it("a network no account ever signed in from", function()
        local r = rule("unused_network")
        local c = ctx({ features = { new_prefix = true } })
        c.profile, c.global = { successes = 5 }, { prefixes = { count = 0, total = 100, distinct = 30 } }
        local s, why = r.evaluate(c)
        assert.are.equal(30, s)
        assert.are.equal("a network no account ever signed in from", why)
        c.features.new_country = true
        assert.is_nil(r.evaluate(c))                          -- abroad every network is unseen: says nothing
        c.features.new_country = false
        c.global.prefixes.count = 1
        assert.is_nil(r.evaluate(c))                          -- another account's network
        c.global.prefixes = { count = 0, total = 0, distinct = 0 }
        assert.is_nil(r.evaluate(c))                          -- a site with no history says nothing
        c.global.prefixes.total = 100
        c.profile.successes = 4
        assert.is_nil(r.evaluate(c))                          -- nor a user without one
        c.profile.successes, c.features.new_prefix = 5, false
        assert.is_nil(r.evaluate(c))                          -- the user's own network
        c.features.new_prefix, c.global = true, {}
        assert.is_nil(r.evaluate(c))                          -- no site counts (no store)
    end)

    it("a new device with the user's exact browser from a new network", function()
        local r = rule("copied_browser")
        local ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
        local c = ctx({ features = { new_device = true, new_prefix = true } })
        c.attempt.user_agent = ua
        assert.is_nil(r.evaluate(c))                          -- no history
        c.profile = { successes = 4, user_agents = { [ua] = { count = 4 } } }
        assert.is_nil(r.evaluate(c))
        c.profile.successes = 5
        local s, why = r.evaluate(c)
        assert.are.equal(60, s)
        assert.are.equal("a new device with this user's exact browser, from a network the user never used", why)
        c.attempt.user_agent = ua:gsub("120", "121")          -- another browser, or version: a new device
        assert.is_nil(r.evaluate(c))
        c.attempt.user_agent = nil
        assert.is_nil(r.evaluate(c))
        c.attempt.user_agent = ua
        c.features.new_prefix = false                             -- a cleared cookie on a usual network
        assert.is_nil(r.evaluate(c))
        c.features.new_prefix, c.features.new_device = true, false   -- the user's own device on a new network
        assert.is_nil(r.evaluate(c))
        -- with an ASN database: a new network of an owner the user knows (a new carrier block) counts for less
        c.features.new_device, c.attempt.asn, c.features.new_asn = true, "AS64500", false
        assert.are.equal(60 * config.known_owner_share, (r.evaluate(c)))
        assert.is_true(config.known_owner_share < 1)
        c.features.new_asn = true                                  -- an owner the user never used: full weight
        assert.are.equal(60, (r.evaluate(c)))
        c.features.new_country = true
        assert.is_nil(r.evaluate(c))                              -- abroad: a traveller who cleared cookies
    end)

    it("a new device id weighs less for a user who turns up with new ids again and again", function()
        local ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
        local c = ctx({ features = { new_device = true, new_prefix = true } })
        c.attempt.user_agent = ua
        local devices = { laptop = { count = 38 }, phone = { count = 2 } }
        c.profile = { successes = 40, devices = devices, user_agents = { [ua] = { count = 40 } } }
        -- one new id in 40 logins: under config.device_churn_usual, full weight
        assert.are.equal(60, (rule("copied_browser").evaluate(c)))
        assert.are.equal(25, (rule("new_device").evaluate(c)))
        assert.are.equal(40, (rule("new_device_and_network").evaluate(c)))
        -- eight new ids in 40 logins (a private window every few days): 0.1 / 0.2 of the weight
        for i = 1, 7 do devices["cleared" .. i] = { count = 1 } end
        assert.are.equal(30, (rule("copied_browser").evaluate(c)))
        assert.are.equal(12.5, (rule("new_device").evaluate(c)))
        assert.are.equal(20, (rule("new_device_and_network").evaluate(c)))
        c.attempt.user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile Safari/604.1"
        assert.are.equal(25, (rule("new_device").evaluate(c)))   -- a browser the user never used: news
        c.attempt.user_agent = ua
        c.profile.successes = 4                                   -- too little history to know a habit
        assert.are.equal(25, (rule("new_device").evaluate(c)))
    end)

    it("brute force and credential stuffing grow with the count", function()
        local bf = rule("brute_force")
        local n = config.brute_force_failures
        assert.is_nil(bf.evaluate(ctx({ features = { failures_1h = n - 1 } })))
        local s5, why = bf.evaluate(ctx({ features = { failures_1h = n } }))
        assert.are.equal(n .. " failed attempts in the last hour", why)
        local s9 = bf.evaluate(ctx({ features = { failures_1h = n + 4 } }))
        assert.is_true(s9 > s5)
        assert.are.equal(95, (bf.evaluate(ctx({ features = { failures_1h = 500 } }))))
        local cs = rule("credential_stuffing")
        assert.is_nil(cs.evaluate(ctx({ features = { ip_users_1h = 4 } })))
        local s, w = cs.evaluate(ctx({ features = { ip_users_1h = 12 } }))
        assert.are.equal(80, s)
        assert.are.equal("this address tried 12 accounts in the last hour", w)
    end)

    it("brute force and credential stuffing weigh more failing from a device the account never used", function()
        local function failing(features, never_seen)
            local c = ctx({ features = features })
            c.attempt.success = false
            c.site = { never_seen_device = never_seen }
            return c
        end
        local bf, cs = rule("brute_force"), rule("credential_stuffing")
        -- a user who forgot the password fails on the user's own device
        assert.is_nil(bf.evaluate(failing({ failures_1h = config.brute_force_failures - 1 }, false)))
        assert.are.equal(config.weights.brute_force, (bf.evaluate(failing({ failures_1h = config.brute_force_failures }, false))))
        -- a stranger's device: from config.brute_force_failures_stranger failures, heavier
        assert.is_nil(bf.evaluate(failing({ failures_1h = config.brute_force_failures_stranger - 1 }, true)))
        assert.are.equal(config.weights.brute_force_stranger,
            (bf.evaluate(failing({ failures_1h = config.brute_force_failures_stranger }, true))))
        assert.are.equal(config.weights.brute_force_stranger + 16,
            (bf.evaluate(failing({ failures_1h = config.brute_force_failures_stranger + 2 }, true))))
        -- a success from a stranger's device is not failing again
        local ok = failing({ failures_1h = 3, ip_users_1h = 3 }, true)
        ok.attempt.success = true
        assert.is_nil(bf.evaluate(ok))
        assert.is_nil(cs.evaluate(ok))
        -- the same for an address trying many accounts
        assert.is_nil(cs.evaluate(failing({ ip_users_1h = 3 }, false)))
        assert.is_nil(cs.evaluate(failing({ ip_users_1h = config.stuffing_users_stranger - 1 }, true)))
        assert.are.equal(config.weights.stuffing_stranger,
            (cs.evaluate(failing({ ip_users_1h = config.stuffing_users_stranger }, true))))
        assert.are.equal(95, (cs.evaluate(failing({ ip_users_1h = 40 }, true))))
        -- an address where other accounts signed in lately (an office NAT):
        -- colleagues and their typos are not stuffing; accounts failing there
        -- from devices they never used are, counted alone
        local office = ctx({ features = { ip_users_1h = 12 } })
        office.cross = { address_accounts = config.stuffing_shared_accounts, address_failing_accounts = 0 }
        assert.is_nil(cs.evaluate(office))
        local typo = failing({ ip_users_1h = 12 }, false)
        typo.cross = office.cross
        assert.is_nil(cs.evaluate(typo))
        local stranger = failing({ ip_users_1h = 12 }, true)
        stranger.cross = office.cross
        assert.is_nil(cs.evaluate(stranger))                 -- a cleared cookie and a typo among 12 colleagues
        office.cross.address_failing_accounts = config.stuffing_users_stranger - 1
        local s3, why3 = cs.evaluate(stranger)                -- with the others failing so, as many as it takes
        assert.are.equal(config.weights.stuffing_stranger, s3)
        assert.are.equal("this address tried 3 accounts in the last hour", why3)
        office.cross.address_failing_accounts = 40
        local _, why12 = cs.evaluate(stranger)
        assert.are.equal("this address tried 12 accounts in the last hour", why12)   -- never more than it tried
        office.cross = { address_accounts = config.stuffing_shared_accounts - 1, address_failing_accounts = 0 }
        assert.are.equal(80, (cs.evaluate(office)))
    end)

    it("a new country or device at an hour the user is never active at, by the local clock", function()
        local r = rule("odd_hour_away")
        local abroad = { new_country = true, local_hour = 3, local_hour_logins = 0, located_logins = 12 }
        local s, why = r.evaluate(ctx({ features = abroad }))
        assert.are.equal(config.weights.odd_hour_away, s)
        assert.are.equal("login from a new country at 03 h local time, an hour this user is never active at", why)
        abroad.new_country, abroad.new_device = false, 1
        s, why = r.evaluate(ctx({ features = abroad }))
        assert.are.equal(config.weights.odd_hour_away, s)
        assert.matches("a new device at 03 h", why, 1, true)
        -- a habitual local hour (a traveller's), a known place and device,
        -- too short a history, no coordinates: nothing
        for _, over in ipairs({ { local_hour_logins = 1 }, { new_device = false },
                                { located_logins = config.odd_hour_min_logins - 1 },
                                { local_hour = false, local_hour_logins = false, located_logins = false } }) do
            local f = { new_device = true, local_hour = 3, local_hour_logins = 0, located_logins = 12 }
            for k, v in pairs(over) do f[k] = v or nil end
            assert.is_nil(r.evaluate(ctx({ features = f })))
        end
        -- a VPN exit's clock is the provider's
        local c = ctx({ features = { new_country = true, local_hour = 3, local_hour_logins = 0, located_logins = 12 } })
        c.global = { prefixes = { count = config.shared_network_logins } }
        assert.is_nil(r.evaluate(c))
        c.global.prefixes.count = config.shared_network_logins - 1
        assert.are.equal(config.weights.odd_hour_away, (r.evaluate(c)))
    end)

    it("unusual hour names the hour", function()
        local s, why = rule("unusual_hour").evaluate(ctx({ features = { hour_surprise = 4 },
                                                          attempt = { ts = 1700017200000 } }))  -- 03:00 UTC
        assert.are.equal(20, s)
        assert.are.equal("unusual hour for this user (03:00 UTC)", why)
    end)

    it("familiarity weighs each value's global against its personal frequency", function()
        local rr, familiarity = rule("familiarity"), require("lib.analyze").familiarity
        -- the pipeline computes ctx.familiarity from the profile, values and global counts
        local r = { evaluate = function(c)
            c.familiarity = familiarity(c.profile, c.values, c.global)
            return rr.evaluate(c)
        end }
        -- 40 logins, always the same network, country, device and browser
        local profile = { successes = 40, prefixes = { ["192.0.2.0/24"] = { count = 40 } },
                          countries = { FR = { count = 40 } }, devices = { laptop = { count = 40 } },
                          user_agents = { ["Firefox/120"] = { count = 40 } } }
        local global = function(c) return { count = c, total = 10000, distinct = 500 } end
        local usual = { prefixes = "192.0.2.0/24", countries = "FR", devices = "laptop", user_agents = "Firefox/120" }
        local c = { profile = profile, values = usual, global = { prefixes = global(40), countries = global(3000),
                    devices = global(40), user_agents = global(2500) } }
        assert.is_nil(r.evaluate(c))                             -- familiar: negative bits
        c.values = { prefixes = "203.0.113.0/24", countries = "AU", devices = "phone", user_agents = "Chrome/119" }
        c.global = { prefixes = global(5), countries = global(200), devices = global(0), user_agents = global(1800) }
        local s, why = r.evaluate(c)
        assert.is_true(s >= 10 and s <= 50, tostring(s))
        assert.matches("^unfamiliar browser, country, device, network for this user %(%d+%.%d bits%)$", why)
        -- one new value alone is not enough
        c.values = { prefixes = "192.0.2.0/24", countries = "FR", devices = "phone", user_agents = "Firefox/120" }
        c.global = { prefixes = global(40), countries = global(3000), devices = global(0), user_agents = global(2500) }
        assert.is_nil(r.evaluate(c))
        -- too little history to judge
        c.profile = { successes = 2 }
        assert.is_nil(r.evaluate(c))
    end)

    it("model anomaly scales with the score and names the top features", function()
        local r = rule("model_anomaly")
        assert.is_nil(r.evaluate(ctx({ anomaly = { score = 0.55 } })))
        local low = r.evaluate(ctx({ anomaly = { score = 0.63, contributions = {} } }))
        local s, why = r.evaluate(ctx({ anomaly = { score = 0.81, contributions = { new_device = 0.1, speed_kmh = 0.2,
                                                                                  hour_sin = -0.05, weekday = 0.01 } } }))
        assert.is_true(s > low)
        assert.matches("anomaly score 0.81 %(mostly speed kmh, new device, weekday%)", why)
    end)

    it("what an analyst said of the account: compromised and at risk weigh, safe does not", function()
        local r = rule("account_state")
        local c = ctx({})
        assert.is_nil(r.evaluate(c))                                    -- no profile
        c.profile = { successes = 9 }
        assert.is_nil(r.evaluate(c))                                    -- no state
        c.profile.state = { state = "compromised", by = "ana", at = 1700000000000 }
        local s, why, least = r.evaluate(c)
        assert.are.equal(70, s)
        assert.are.equal("an analyst (ana) marked this account compromised on 2023-11-14", why)
        assert.are.equal("high", least)                                 -- an alert whatever the thresholds
        c.profile.state = { state = "at_risk", at = 1700000000000 }
        s, why, least = r.evaluate(c)
        assert.are.equal(30, s)
        assert.are.equal("an analyst marked this account at risk on 2023-11-14", why)
        assert.are.equal("medium", least)                               -- a challenge at least
        c.profile.state = { state = "safe", by = "ana", at = 1700000000000 }
        assert.is_nil(r.evaluate(c))
    end)

    it("the site's trusted networks (offices, VPN egress): no network novelty, shared for geography", function()
        local view, _, dir = intel_folder({ ["trusted_networks.txt"] = "203.0.113.0/24\n" })
        local function at(ip)
            local far = { distance_km = 8412.4, speed_kmh = 8412.4 / 2, new_prefix = true, new_device = true,
                          new_country = true, new_asn = true }
            local c = ctx({ features = far, intel = view,
                            attempt = { ts = 1700000000000, ip_address = ip, country = "US", asn = "AS64500" } })
            c.profile = { successes = 20 }
            c.global = { prefixes = { count = 0, total = 1000, distinct = 50 } }
            c.cross = { network_new_device_accounts = 2, network_regulars = 0, address_accounts = 0,
                        wide_failing_accounts = 9, wide_regulars = 0 }
            c.site = { never_seen_device = true }
            return c
        end
        local inside, outside = at("203.0.113.40"), at("198.51.100.40")
        for _, name in ipairs({ "new_network", "unused_network", "new_asn", "reused_exit", "network_spray", "impossible_travel" }) do
            -- unused_network speaks only in a country the user knows
            local home = name == "unused_network"
            inside.features.new_country, outside.features.new_country = not home, not home
            assert.is_nil(rule(name).evaluate(inside), name)
            assert.is_not_nil(rule(name).evaluate(outside), name)
            inside.features.new_country, outside.features.new_country = true, true
        end
        assert.are.equal(config.shared_network_country, (rule("new_country").evaluate(inside)))
        assert.is_true(rule("new_country").evaluate(outside) > config.shared_network_country)
        for _, c in ipairs({ inside, outside }) do   -- the user's own device, through an address others used
            c.features.new_device, c.attempt.device_id, c.cross.address_accounts = false, "laptop", 2
        end
        assert.is_nil(rule("shared_session_exit").evaluate(inside))
        assert.is_not_nil(rule("shared_session_exit").evaluate(outside))
        os.execute("rm -rf " .. dir)
    end)

    it("addresses on a list of shared ones (a VPN's exits) are shared infrastructure from the first login", function()
        local view, _, dir = intel_folder({ ["vpn.txt"] = "185.10.20.0/24\n" })
        local function at(ip)
            local far = { distance_km = 8412.4, speed_kmh = 8412.4 / 2, new_prefix = true, new_country = true }
            local c = ctx({ features = far, intel = view, attempt = { ts = 1700000000000, ip_address = ip, country = "US",
                                                                      device_id = "laptop" } })
            c.profile = { successes = 20, countries = { FR = { count = 20 } } }
            c.global = { prefixes = { count = 0, total = 1000, distinct = 50 } }
            return c
        end
        local exit, other = at("185.10.20.7"), at("198.51.100.40")
        assert.is_nil(rule("impossible_travel").evaluate(exit))
        assert.are.equal(75, (rule("impossible_travel").evaluate(other)))
        assert.are.equal(config.shared_network_country, (rule("new_country").evaluate(exit)))
        assert.is_true(rule("new_country").evaluate(other) > config.shared_network_country)
        assert.are.equal(config.intel_anonymous.vpn.weight, (rule("anonymous_network").evaluate(exit)))   -- still said
        os.execute("rm -rf " .. dir)
    end)

    describe("threat intelligence", function()
        local view, h, dir = intel_folder({
            ["tor_exits.txt"] = "185.220.101.0/24\n",
            ["hosting.netset"] = "203.0.113.0/24\n185.220.101.7\n",
            ["known_bad.list"] = "198.51.100.0/24\n",
            ["bot_agents.patterns"] = "python-requests\nheadlesschrome\n",
        })
        teardown(function() os.execute("rm -rf " .. dir) end)
        local function at(ip, extra)
            local a = { ts = 1700000000000, ip_address = ip, success = true }
            for k, v in pairs(extra or {}) do a[k] = v end
            return ctx({ attempt = a, intel = view })
        end

        it("anonymous networks: the heaviest set the address is in", function()
            local r = rule("anonymous_network")
            assert.are.same({ 45, "the address is a Tor exit node" }, { r.evaluate(at("185.220.101.7")) })
            assert.are.same({ 25, "the address is in a hosting or cloud network, not a home or office" },
                { r.evaluate(at("203.0.113.9")) })
            assert.is_nil(r.evaluate(at("192.0.2.1")))
            assert.is_nil(r.evaluate(at("2001:db8::1")))
        end)

        it("known bad addresses, operator lists and confirmed attacks", function()
            local r = rule("known_bad_address")
            assert.are.equal(60, (r.evaluate(at("198.51.100.20"))))
            assert.is_nil(r.evaluate(at("192.0.2.77")))
            assert.is_true(h:confirm("confirmed_attacks", "192.0.2.77", 3600))
            assert.is_nil(select(3, r.evaluate(at("198.51.100.20"))))      -- a block list: evidence only
            local s, why, least = r.evaluate(at("192.0.2.77"))
            assert.are.equal(70, s)
            assert.are.equal("the address was used in an attack an analyst confirmed", why)
            assert.are.equal("high", least)                             -- confirmed: high on any site
            assert.is_nil(h:confirm("confirmed_attacks", "not an ip", 3600))
        end)

        it("breached passwords, as the caller reports them", function()
            local r = rule("breached_password")
            assert.is_nil(r.evaluate(at("192.0.2.1")))
            assert.is_nil(r.evaluate(at("192.0.2.1", { password_breached = false })))
            assert.are.equal(40, (r.evaluate(at("192.0.2.1", { password_breached = true }))))
            local s, why = r.evaluate(at("192.0.2.1", { password_breached = true, success = false }))
            assert.are.equal(20, s)
            assert.matches("tried a password", why)
        end)

        it("bots: tool user agents, and headers that contradict the user agent", function()
            local r = rule("bot_client")
            local s, why = r.evaluate(at("192.0.2.1", { user_agent = "python-requests/2.31.0" }))
            assert.are.equal(55, s)
            assert.matches("python%-requests", why)
            local chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
            local good = { ["sec-ch-ua"] = '"Chromium";v="120", "Google Chrome";v="120"', ["sec-ch-ua-platform"] = '"Windows"',
                           ["sec-ch-ua-mobile"] = "?0", ["accept-language"] = "fr-FR,fr;q=0.9" }
            assert.is_nil(r.evaluate(at("192.0.2.1", { user_agent = chrome, headers = good })))
            assert.is_nil(r.evaluate(at("192.0.2.1", { user_agent = chrome })))   -- no headers: nothing to compare
            local liar = { ["sec-ch-ua-platform"] = '"Linux"', ["sec-ch-ua-mobile"] = "?1",
                           ["sec-ch-ua"] = '"HeadlessChrome";v="120"' }
            s, why = r.evaluate(at("192.0.2.1", { user_agent = chrome, headers = liar }))
            assert.are.equal(80, s)
            assert.matches("headless", why)
            assert.matches("windows but the client hints say linux", why)
            assert.matches("reports itself mobile", why)
            assert.matches("Accept%-Language", why)
            s, why = r.evaluate(at("192.0.2.1", { user_agent = chrome, headers = { ["accept-language"] = "en" } }))
            assert.are.equal(20, s)
            assert.matches("no client hints", why)
            s, why = r.evaluate(at("192.0.2.1", { user_agent = chrome, os = "iOS" }))
            assert.are.equal("the device says ios but the user agent says windows", why)
            assert.are.equal(20, (r.evaluate(at("192.0.2.1", { headers = {} }))))   -- headers but no user agent
        end)
    end)
end)
