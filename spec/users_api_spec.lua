-- spec/users_api_spec.lua — GET /api/users/:id/profile on a real store.
local users = require("api.users")
local store = require("riskd.store")

describe("api.users.profile", function()
    local db = assert(store.open("mem:"))
    local T = 1700000000000
    local function rec(ts, ip, device, country, success)
        assert(db:record({ user_id = "al", ts = ts, ip_address = ip, success = success ~= false, device_id = device,
                           country = country, user_agent = "Mozilla/5.0 Firefox/120.0", risk_score = 10,
                           risk_level = "low", latitude = 48.85, longitude = 2.35, city = "Paris" }))
    end
    rec(T, "192.0.2.4", "phone", "FR")
    rec(T + 3600000, "192.0.2.5", "laptop", "FR")
    rec(T + 7200000, "192.0.2.6", "laptop", "FR")
    rec(T + 9000000, "198.51.100.7", "laptop", "DE", false)   -- a failure teaches no values
    users.use(db)

    it("lists devices, countries and networks, the most used first, with habits and the last success", function()
        local s, p = users.profile({ params = { id = "al" } })
        assert.are.equal(200, s)
        assert.are.same({ 4, 3, 1 }, { p.attempts, p.successes, p.failures })
        assert.are.same({ "laptop", "phone" }, { p.devices[1].device_id, p.devices[2].device_id })
        assert.are.same({ 2, 1 }, { p.devices[1].logins, p.devices[2].logins })
        assert.are.equal("2023-11-15T00:13:20.000Z", p.devices[1].last_seen_at)
        assert.are.equal(1, #p.countries)
        assert.are.same({ "FR", 3 }, { p.countries[1].country, p.countries[1].logins })
        assert.are.same({ "192.0.2.0/24", 3 }, { p.networks[1].network, p.networks[1].logins })
        assert.are.equal(3, p.browsers[1].logins)
        assert.are.equal(24, #p.habits.hours_utc)
        local n = 0
        for _, c in pairs(p.habits.weekdays) do n = n + c end
        assert.are.equal(3, n)
        assert.are.same({ "192.0.2.6", "Paris" }, { p.last_success.ip_address, p.last_success.city })
    end)

    it("sets, shows and clears an analyst's word on the account", function()
        users.clock = function() return 1700000000 end
        local req = function(body, id) return { params = { id = id or "al" }, body = body, user = { username = "ana" } } end
        local s, r = users.state(req({ state = "compromised" }))
        assert.are.equal(200, s)
        assert.are.same({ "al", "compromised", "ana", "2023-11-14T22:13:20.000Z" }, { r.user_id, r.state, r.set_by, r.set_at })
        local _, p = users.profile({ params = { id = "al" } })
        assert.are.same({ state = "compromised", set_by = "ana", set_at = "2023-11-14T22:13:20.000Z" }, p.risk_state)
        assert.are.equal(200, (users.state(req({ state = require("cjson").null }))))
        _, p = users.profile({ params = { id = "al" } })
        assert.are.equal(require("cjson").null, p.risk_state)
        assert.are.equal(400, (users.state(req({ state = "hacked" }))))
        assert.are.equal(400, (users.state(req("safe"))))
        assert.are.equal(404, (users.state(req({ state = "safe" }, "nobody"))))
        users.clock = os.time
    end)

    it("answers 404 for a user riskd never saw, 503 without a store", function()
        local s, b = users.profile({ params = { id = "nobody" } })
        assert.are.equal(404, s)
        assert.are.equal("not_found", b.error.code)
        users.use({ profile = function() return nil, "sqlite: disk I/O error", "store_error" end })
        assert.are.equal(503, (users.profile({ params = { id = "al" } })))
        users.use(db)
    end)
end)
