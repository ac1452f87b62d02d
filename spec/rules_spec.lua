-- spec/rules_spec.lua — every shipped rule on hand-made contexts. Each rule
-- is loaded as the engine loads it: text only, in an environment holding
-- only the sandbox's allow-list and the shared config.
local function sandbox(config)
    local env = {
        assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
        select = select, tonumber = tonumber, tostring = tostring, type = type, xpcall = xpcall,
        os = { time = os.time, date = os.date, clock = os.clock }, string = string, table = table, math = math,
        utf8 = utf8, config = config,
    }
    return setmetatable(env, { __index = function(_, k) error("unknown global '" .. tostring(k) .. "'") end })
end

local config = assert(loadfile("rules/config.lua", "t"))()

local function rule(name)
    return assert(loadfile("rules/" .. name .. ".lua", "t", sandbox(config)))()
end

local function ctx(over)
    local f = { new_device = 0, new_country = 0, new_prefix = 0, hour_surprise = 0, distance_km = 0,
                speed_kmh = 0, failures_1h = 0, ip_users_1h = 0 }
    for k, v in pairs(over.features or {}) do f[k] = v end
    return { features = f, attempt = over.attempt or { ts = 1700000000000, country = "FR" },
             anomaly = over.anomaly or { score = nil } }
end

describe("shipped rules", function()
    it("are all well formed and have distinct names", function()
        local seen = {}
        for file in io.popen("ls rules"):lines() do
            if file ~= "config.lua" then
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

    it("new device, country and network", function()
        assert.are.same({ 25, "new device" }, { rule("new_device").evaluate(ctx({ features = { new_device = 1 } })) })
        local s, why = rule("new_country").evaluate(ctx({ features = { new_country = 1 }, attempt = { country = "AU" } }))
        assert.are.equal(35, s)
        assert.are.equal("login from a new country (AU)", why)
        assert.are.equal(10, (rule("new_network").evaluate(ctx({ features = { new_prefix = 1 } }))))
    end)

    it("new network owner, only when enrichment gave one", function()
        local r = rule("new_asn")
        assert.is_nil(r.evaluate(ctx({})))
        local s, why = r.evaluate(ctx({ features = { new_asn = 1 }, attempt = { asn = "AS64500", asn_org = "Example Hosting" } }))
        assert.are.equal(15, s)
        assert.are.equal("new network owner (AS64500 Example Hosting)", why)
    end)

    it("impossible travel, with the distance and time in words", function()
        local r = rule("impossible_travel")
        local s, why = r.evaluate(ctx({ features = { distance_km = 8412.4, speed_kmh = 8412.4 / (2 + 10 / 60) } }))
        assert.are.equal(75, s)
        assert.are.equal("impossible travel: 8,412 km in 2 h 10 min", why)
        -- fast but short (geolocation noise), or far but slow: nothing
        assert.is_nil(r.evaluate(ctx({ features = { distance_km = 100, speed_kmh = 6000 } })))
        assert.is_nil(r.evaluate(ctx({ features = { distance_km = 5000, speed_kmh = 800 } })))
    end)

    it("brute force and credential stuffing grow with the count", function()
        local bf = rule("brute_force")
        assert.is_nil(bf.evaluate(ctx({ features = { failures_1h = 4 } })))
        local s5, why = bf.evaluate(ctx({ features = { failures_1h = 5 } }))
        assert.are.equal("5 failed attempts in the last hour", why)
        local s9 = bf.evaluate(ctx({ features = { failures_1h = 9 } }))
        assert.is_true(s9 > s5)
        assert.are.equal(95, (bf.evaluate(ctx({ features = { failures_1h = 500 } }))))
        local cs = rule("credential_stuffing")
        assert.is_nil(cs.evaluate(ctx({ features = { ip_users_1h = 4 } })))
        local s, w = cs.evaluate(ctx({ features = { ip_users_1h = 12 } }))
        assert.are.equal(80, s)
        assert.are.equal("this address tried 12 accounts in the last hour", w)
    end)

    it("unusual hour names the hour", function()
        local s, why = rule("unusual_hour").evaluate(ctx({ features = { hour_surprise = 4 },
                                                          attempt = { ts = 1700017200000 } }))  -- 03:00 UTC
        assert.are.equal(20, s)
        assert.are.equal("unusual hour for this user (03:00 UTC)", why)
    end)

    it("familiarity weighs each value's global against its personal frequency", function()
        local r = rule("familiarity")
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
end)
