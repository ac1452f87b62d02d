-- spec/dashboard_api_spec.lua — the /api/dashboard handlers on a real SQLite
-- store (the e2e story checks them over HTTP with hand-counted numbers).
local dashboard = require("api.dashboard")
local response = require("lib.response")
local store = require("riskd.store")

describe("api.dashboard", function()
    local path = os.tmpname()
    os.remove(path)
    local db = assert(store.open("sqlite:" .. path))
    dashboard.use(db)
    local now = os.time() * 1000
    local H = 3600000
    local ev = {}
    for i = 1, 4 do
        ev[i] = assert(db:record({ user_id = i <= 2 and "erin" or "finn", ip_address = "192.0.2." .. i, ts = now - i * H,
                                   risk_score = i * 20, risk_level = i >= 4 and "critical" or (i == 3 and "high" or "low") }))
    end
    local aid = assert(db:alert_insert({ user_id = "finn", severity = "critical", cause = "impossible_travel",
                                         created = now - 4 * H, reasons = { "far away" }, rules = { "impossible_travel" } }, ev[4]))
    teardown(function() db:close() os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") os.remove(path .. "-accounts") end)

    it("has stats", function()
        local s, b = dashboard.stats()
        assert.are.equal(200, s)
        assert.are.equal(4, b.total.attempts)
        assert.are.equal(1, b.total.alerts_by_status.open)
        assert.are.equal(2, b.last_24h.distinct_users)
    end)

    it("lists alerts, shows one, and changes its status", function()
        local s, b = dashboard.alerts({ query = { status = "open", severity = "critical", since = "2000-01-01T00:00:00Z" } })
        assert.are.equal(200, s)
        assert.are.equal(1, b.total)
        assert.are.same({ "far away" }, b.alerts[1].reasons)
        local s2, a = dashboard.alert({ params = { id = aid } })
        assert.are.equal(200, s2)
        assert.are.equal(1, #a.events)
        assert.are.equal("open", a.history[1].status)
        local s3, a3 = dashboard.update_alert({ params = { id = aid }, body = { status = "resolved", note = "ok" },
                                                user = { username = "ana", role = "analyst" } })
        assert.are.equal(200, s3)
        assert.are.equal("resolved", a3.status)
        assert.are.equal("ana", a3.history[2].by)
        assert.are.equal(400, (dashboard.update_alert({ params = { id = aid }, body = { status = "investigating" } })))
        assert.are.equal(400, (dashboard.update_alert({ params = { id = aid }, body = "x" })))
        assert.are.equal(400, (dashboard.update_alert({ params = { id = aid }, body = { status = "open", note = 5 } })))
        assert.are.equal(404, (dashboard.alert({ params = { id = "nope" } })))
        assert.are.equal(404, (dashboard.update_alert({ params = { id = "nope" }, body = { status = "open" } })))
    end)

    it("has a timeline and top risks", function()
        local s, t = dashboard.timeline({ query = { hours = "6" } })
        assert.are.equal(200, s)
        local n = 0
        for _, b in ipairs(t.buckets) do n = n + b.attempts end
        assert.are.equal(4, n)
        local s2, top = dashboard.top_risks({ query = { hours = "24", limit = "5" } })
        assert.are.equal(200, s2)
        assert.are.equal("finn", top.users[1].user_id)
        assert.are.equal(80, top.users[1].max_risk)
        assert.are.equal(0, top.users[1].open_alerts)
        local s3, all = dashboard.top_risks({ query = { hours = "0" } })
        assert.are.equal(2, #all.users)
    end)

    it("refuses bad parameters", function()
        assert.are.equal(400, (dashboard.alerts({ query = { status = "closed" } })))
        assert.are.equal(400, (dashboard.alerts({ query = { severity = "severe" } })))
        assert.are.equal(400, (dashboard.alerts({ query = { since = "soon" } })))
        assert.are.equal(400, (dashboard.alerts({ query = { page = "0" } })))
        assert.are.equal(400, (dashboard.alerts({ query = { per_page = "500" } })))
        assert.are.equal(400, (dashboard.timeline({ query = { bucket = "week" } })))
        assert.are.equal(400, (dashboard.timeline({ query = { hours = "x" } })))
        assert.are.equal(400, (dashboard.top_risks({ query = { limit = "0" } })))
        assert.are.equal(400, (dashboard.top_risks({ query = { hours = "-1" } })))
        local _, none = dashboard.alerts({ query = { user_id = "nobody" } })
        assert.are.equal(response.EMPTY_ARRAY, none.alerts)
    end)
end)

describe("api.dashboard breakdown and the event filters", function()
    local dashboard = require("api.dashboard")
    local login = require("api.login")
    local path = os.tmpname()
    os.remove(path)
    local db = assert(require("riskd.store").open("sqlite:" .. path))
    local now = os.time() * 1000
    local function rec(i, country, level, rules)
        local r = {}
        for k, name in ipairs(rules) do r[k] = { name = name, score = 10 } end
        return assert(db:record({ user_id = "u" .. i, ip_address = "198.51.100." .. (i % 3), ts = now - i * 60000,
                                  country = country, risk_score = 10 * i, risk_level = level, rules = r }))
    end
    rec(1, "FR", "low", {})
    rec(2, "FR", "high", { "new_device", "new_country" })
    rec(3, "DE", "critical", { "new_device" })
    rec(4, "FR", "medium", { "new_network" })
    teardown(function() db:close() os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") os.remove(path .. "-accounts") end)

    it("counts the window by level, country and rule, most first", function()
        dashboard.use(db)
        local s, b = dashboard.breakdown({ query = { hours = "1" } })
        assert.are.equal(200, s)
        assert.are.equal(4, b.counted)
        assert.is_false(b.sampled)
        assert.are.same({ country = "FR", attempts = 3 }, b.countries[1])
        assert.are.same({ rule = "new_device", attempts = 2 }, b.rules[1])
        assert.are.equal(3, #b.rules)
        local levels = {}
        for _, l in ipairs(b.levels) do levels[l.level] = l.attempts end
        assert.are.same({ low = 1, medium = 1, high = 1, critical = 1 }, levels)
        assert.are.equal(400, (dashboard.breakdown({ query = { hours = "0" } })))
    end)

    it("filters events by address, and by country and rule within a time range", function()
        login.use({ store = db })
        local since = require("lib.time").format(now - 3600000)
        local function total(q) local s, b = login.events({ query = q }) assert.are.equal(200, s) return b.total end
        assert.are.equal(2, total({ ip_address = "198.51.100.1" }))   -- u1, u4
        assert.are.equal(3, total({ country = "FR", since = since }))
        assert.are.equal(2, total({ rule = "new_device", since = since }))
        assert.are.equal(1, total({ rule = "new_device", country = "DE", since = since }))
        local s, b = login.events({ query = { country = "FR" } })
        assert.are.equal(400, s)
        assert.matches("needs since", b.error.message)
        login.use(nil)
    end)
end)
