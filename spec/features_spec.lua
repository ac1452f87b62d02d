-- spec/features_spec.lua — riskd.features from Lua, with a profile that
-- came out of riskd.store (the real round trip the pipeline does).
local features = require("riskd.features")
local store = require("riskd.store")

local H = 3600000
local TUE9 = 1699952400000

describe("riskd.features", function()
    local path = os.tmpname()
    os.remove(path)
    local db = assert(store.open("sqlite:" .. path))
    for i = 1, 30 do
        assert(db:record({ user_id = "alice", ts = TUE9 - i * 24 * H, ip_address = "192.0.2.10",
                           country = "FR", latitude = 48.85, longitude = 2.35, device_id = "laptop",
                           user_agent = "Firefox/120" }))
    end
    local profile = assert(db:profile("alice"))
    teardown(function() db:close() os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") os.remove(path .. "-accounts") end)

    it("names the columns in model order", function()
        assert.are.equal(15, #features.names)
        assert.are.equal("hour_sin", features.names[1])
    end)

    it("finds nothing new in a habitual login", function()
        local f, row = features.extract({ ts = TUE9, ip_address = "192.0.2.99", country = "FR", latitude = 48.86,
                                          longitude = 2.34, device_id = "laptop", user_agent = "Firefox/120" },
                                        profile, { failures = 0, ip_users = 1 })
        assert.are.equal(0, f.new_device)
        assert.are.equal(0, f.new_country)
        assert.are.equal(0, f.new_prefix)
        assert.are.equal(0, f.ua_novelty)
        assert.are.equal(0, f.hour_surprise)
        assert.is_true(f.distance_km < 2)
        -- for rules: the local hour (Paris: UTC + 9 min by the sun) and the
        -- logins around it, through the store's profile and back
        assert.are.equal(9, f.local_hour)
        assert.are.equal(30, f.local_hour_logins)
        assert.are.equal(30, f.located_logins)
        assert.are.equal(#features.names, #row)
        for i, name in ipairs(features.names) do assert.are.equal(f[name], row[i]) end
    end)

    it("sees a takeover", function()
        local f = features.extract({ ts = TUE9 - 6 * H, ip_address = "203.0.113.5", country = "AU",
                                     latitude = -33.87, longitude = 151.21, device_id = "new-phone",
                                     user_agent = "Chrome/119" }, profile, { failures = 5, ip_users = 40 })
        assert.are.equal(1, f.new_device)
        assert.are.equal(1, f.new_country)
        assert.are.equal(1, f.new_prefix)
        assert.are.equal(1, f.ua_novelty)
        assert.is_true(f.hour_surprise > 1.5)   -- 30 logins at 9:00, none near 3:00
        assert.is_true(f.distance_km > 16000)
        assert.is_true(f.speed_kmh > 800)
        assert.are.equal(40, f.ip_users_1h)
        assert.are.equal(13, f.local_hour)   -- 03:00 UTC is 13:04 in Sydney
        assert.are.equal(0, f.local_hour_logins)
    end)

    it("treats a new user as neutral and checks its arguments", function()
        local f = features.extract({ ts = TUE9, ip_address = "192.0.2.1", device_id = "x" })
        assert.are.equal(0, f.new_device)
        assert.are.equal(0, f.log_maturity)
        assert.is_nil(f.local_hour)   -- no coordinates
        assert.has_error(function() features.extract({ ip_address = "1.2.3.4" }) end)
        assert.has_error(function() features.extract({ ts = 1 }) end)
        assert.has_error(function() features.extract({ ts = 1, ip_address = "1.2.3.4", country = 7 }) end)
        assert.is_true(math.abs(features.distance_km(51.5074, -0.1278, 40.7128, -74.006) - 5570) < 15)
    end)
end)
