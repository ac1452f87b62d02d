-- spec/store_spec.lua — riskd.store from Lua, on a fresh SQLite file.
local store = require("riskd.store")

local H = 3600000
local T0 = 1700000000000 // H * H

local function tmpdb()
    local path = os.tmpname()
    os.remove(path)
    return "sqlite:" .. path, path
end

describe("riskd.store", function()
    local uri, path = tmpdb()
    local db = assert(store.open(uri))

    teardown(function()
        db:close()
        os.remove(path)
        os.remove(path .. "-wal")
        os.remove(path .. "-shm")
        os.remove(path .. "-accounts")
    end)

    it("records an event and reads back the whole table", function()
        local id = assert(db:record({
            user_id = "alice", ts = T0, ip_address = "192.0.2.10", success = true,
            country = "FR", city = "Paris", latitude = 48.85, longitude = 2.35, device_id = "d1",
            risk_score = 72.5, risk_level = "high", action = "challenge", is_anomaly = true,
            anomaly_score = 0.66, reasons = { "new device", "unusual hour" },
            features = { hour_sin = 0.5 },
        }))
        assert.are.equal(24, #id)
        local e = assert(db:event(id))
        assert.are.equal("alice", e.user_id)
        assert.are.equal(T0, e.ts)
        assert.are.equal(72.5, e.risk_score)
        assert.is_true(e.is_anomaly)
        assert.are.same({ "new device", "unusual hour" }, e.reasons)
        assert.are.equal(0.5, e.features.hour_sin)
        assert.are.equal(48.85, e.latitude)
    end)

    it("says not_found and raises on misuse", function()
        local e, msg, code = db:event("missing")
        assert.is_nil(e)
        assert.matches("no event", msg)
        assert.are.equal("not_found", code)
        assert.has_error(function() db:record({ user_id = "x" }) end, "an event needs user_id and ip_address")
        assert.has_error(function() db:record({ user_id = "x", ip_address = "1.1.1.1", ts = 1.5 }) end)
        local ok, _, c = db:record({ user_id = "x", ip_address = "1.1.1.1", risk_level = "severe" })
        assert.is_nil(ok)
        assert.are.equal("store_error", c)
    end)

    it("lists with filters and paging, newest first", function()
        for i = 1, 12 do
            assert(db:record({ user_id = i % 2 == 0 and "bob" or "carol", ts = T0 + i * 1000,
                               ip_address = "198.51.100." .. i, success = i % 3 ~= 0,
                               risk_score = i * 5, risk_level = i > 10 and "high" or "low" }))
        end
        local page = db:events({ per_page = 5 })
        assert.are.equal(13, page.total)
        assert.are.equal(5, #page.events)
        assert.are.equal(T0 + 12000, page.events[1].ts)
        local bob = db:events({ user_id = "bob", min_risk = 30, per_page = 100 })
        assert.are.equal(4, bob.total)    -- 6, 8, 10, 12
        local high = db:events({ risk_level = "high", since = T0 + 11000 })
        assert.are.equal(2, high.total)   -- 11 and 12; alice (T0) is before since
        assert.has_error(function() db:events({ page = 0 }) end)
    end)

    it("shares site-wide rates only where the backend does (MongoDB; mem: within a process)", function()
        local rates = require("riskd.rates")
        assert.is_false(db:sync_rates())   -- SQLite: one instance, the rates stay in the process
        assert.is_false(db:shares_rates())
        local m = assert(store.open("mem:"))
        assert.is_true(m:shares_rates())
        rates.reset()
        rates.hit("spec-rate", T0)
        assert.is_true(m:sync_rates())
        rates.reset()
        rates.get("spec-rate", T0)         -- asking registers the name; the store has its hit
        assert.is_true(m:sync_rates())
        assert.are.equal(1, rates.get("spec-rate", T0).last_hour)
        rates.reset()
        m:close()
    end)

    it("keeps a profile per user", function()
        local p = assert(db:profile("alice"))
        assert.are.equal(1, p.attempts)
        assert.are.equal(1, p.devices.d1.count)
        assert.are.equal("Paris", p.last_success.city)
        assert.are.equal(1, p.countries.FR.count)
        assert.is_not_nil(p.prefixes["192.0.2.0/24"])
        local h = os.date("!*t", T0 // 1000).hour
        assert.are.equal(1, p.hours[h + 1])
        local n = 0
        for _, c in ipairs(p.local_hours) do n = n + c end
        assert.are.equal(#p.local_hours == 24 and 1 or -1, n)   -- alice's login has coordinates
        assert.are.equal("not_found", select(3, db:profile("nobody")))
        local fails, ipusers = db:recent("carol", "198.51.100.3", T0)
        assert.are.equal(2, fails)        -- carol: 3 and 9 failed
        assert.are.equal(1, ipusers)
    end)

    it("hands out the profile as a read-only view: fields, lists, pairs, fresh tables", function()
        local p = assert(db:profile("alice"))
        assert.are.equal("userdata", type(p))
        assert.are.equal("alice", p.user_id)
        assert.are.equal("integer", math.type(p.successes))
        assert.is_nil(p.no_such_field)
        assert.is_nil(p.devices.nope)
        assert.is_nil(p.state)                        -- none set for alice
        -- writes raise, to the profile and to its lists
        assert.has_error(function() p.successes = 99 end)
        assert.has_error(function() p.devices.d2 = { count = 1 } end)
        -- the tables it hands out are new at every read: changing one changes nothing else
        p.devices.d1.count = 50
        p.hours[1] = 50
        assert.are.equal(1, p.devices.d1.count)
        assert.are.equal(24, #p.hours)
        assert.are_not.equal(50, p.hours[1])
        -- pairs over a list gives each value once, with its counts
        local seen = {}
        for value, item in pairs(p.countries) do seen[#seen + 1] = value .. "=" .. item.count end
        assert.are.same({ "FR=1" }, seen)
        -- pairs over the profile gives every field it has, each once
        local fields = {}
        for k, v in pairs(p) do
            assert.is_nil(fields[k])
            fields[k] = type(v)
        end
        assert.are.equal("number", fields.successes)
        assert.are.equal("table", fields.last_success)
        assert.are.equal("userdata", fields.devices)
        assert.is_nil(fields.state)
        -- the feature extractor reads the view's struct as it reads an equal table
        local features = require("riskd.features")
        local copy = { attempts = p.attempts, successes = p.successes, failures = p.failures,
                       first_seen = p.first_seen, last_seen = p.last_seen, hours = p.hours,
                       local_hours = p.local_hours, last_success = p.last_success }
        for _, kind in ipairs({ "devices", "countries", "prefixes", "user_agents", "asns" }) do
            copy[kind] = {}
            for value, item in pairs(p[kind]) do copy[kind][value] = item end
        end
        local a = { ts = T0 + 5 * H, ip_address = "203.0.113.9", country = "DE", latitude = 52.5, longitude = 13.4,
                    device_id = "d9", user_agent = "Other/1" }
        local _, row_view = features.extract(a, p, { failures = 1, ip_users = 2 })
        local _, row_table = features.extract(a, copy, { failures = 1, ip_users = 2 })
        assert.are.same(row_table, row_view)
    end)

    it("runs the alert workflow", function()
        local ev = db:events({ user_id = "alice" }).events[1]
        local id = assert(db:alert_insert({ user_id = "alice", severity = "high", cause = "new_device",
                                            created = T0, reasons = { "new device" } }, ev.id))
        assert.are.equal(id, db:alert_find_open("alice", "new_device", T0 - H))
        assert.is_true(db:alert_set_status(id, "resolved", "ann", "confirmed with user", T0 + H))
        local a = assert(db:alert(id))
        assert.are.equal("resolved", a.status)
        assert.are.same({ "new device" }, a.reasons)
        assert.are.equal(2, #a.history)
        assert.are.equal("confirmed with user", a.history[2].note)
        assert.are.same({ ev.id }, a.events)
        assert.are.equal(id, db:event(ev.id).alert_id)
        assert.are.equal(1, db:alerts({ status = "resolved" }).total)
        assert.are.equal("not_found", select(3, db:alert_set_status("nope", "open", "ann", nil, T0)))
    end)

    it("aggregates", function()
        local s = db:stats(T0 + H)
        assert.are.equal(13, s.all.attempts)
        assert.are.equal(4, s.all.failures)     -- 3, 6, 9, 12
        assert.are.equal(3, s.all.by_level.high)
        assert.are.equal(1, s.all.alerts_by_status.resolved)
        assert.are.equal(3, s.all.distinct_users)
        local tl = db:timeline(T0 - H, T0 + 2 * H, "hour")
        assert.are.equal(3, #tl)
        assert.are.equal(13, tl[2].attempts)
        assert.are.equal(1, tl[2].alerts)
        local top = db:top_users(0, 2)
        assert.are.equal("alice", top[1].user_id)
        assert.are.equal(2, #top)
        assert.has_error(function() db:timeline(T0, T0 + H, "week") end)
        assert.are.equal(0, db:purge(T0 + H))
    end)

    it("manages users", function()
        local u = assert(db:user_create({ username = "root", role = "admin", password_hash = "h" }))
        assert.are.equal("root", u.username)
        assert.are.equal("conflict", select(3, db:user_create({ username = "root", role = "admin" })))
        assert.are.equal("admin", db:user("root").role)
        assert.is_true(db:user_set_password("root", "h2"))
        assert.are.equal("h2", db:user("root").password_hash)
        assert.are.equal(1, #db:users())
        assert.is_true(db:user_delete("root"))
        assert.are.equal("not_found", select(3, db:user("root")))
    end)

    it("keeps riskd's own state documents, replaced whole (not on mem:)", function()
        assert.are.equal("not_found", select(3, db:state("calibration")))
        assert.is_true(db:state_put("calibration", "one\ntwo"))
        assert.is_true(db:state_put("calibration", "three"))
        assert.are.equal("three", db:state("calibration"))
        assert.are.equal("not_found", select(3, db:state("other")))
        local mem = assert(store.open("mem:"))
        local ok, msg = mem:state_put("calibration", "x")
        assert.is_nil(ok)
        assert.matches("not kept by the memory store", msg, 1, true)
        mem:close()
    end)

    it("closes with <close> and refuses use after", function()
        local kept
        do
            local other <close> = assert(store.open(uri))
            kept = other
            assert.are.equal("sqlite", other:backend())
        end
        assert.has_error(function() kept:stats(0) end, "attempt to use a closed store")
        local bad, msg = store.open("nosuch:x")
        assert.is_nil(bad)
        assert.matches("unknown store", msg)
    end)
end)
