-- spec/login_api_spec.lua — the /api/login handlers on a real SQLite store,
-- with the real features and a stand-in for the sandboxed rules (which only
-- run inside riskd; the e2e story covers them there).
local cjson = require("cjson")
local login = require("api.login")
local response = require("lib.response")
local store = require("riskd.store")
local time = require("lib.time")

describe("api.login", function()
    local path = os.tmpname()
    os.remove(path)
    local db = assert(store.open("sqlite:" .. path))
    login.use({
        store = db, model = nil, features = require("riskd.features"), format_time = time.format,
        config = assert(loadfile("rules/config.lua", "t"))(),
        rules = { evaluate = function(ctx)
            if ctx.features.new_device then return { { name = "new_device", score = 25, reason = "new device" } }, {} end
            return {}, {}
        end },
    })
    teardown(function() db:close() os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") os.remove(path .. "-accounts") end)

    local function post(body) return login.analyze({ body = body, query = {}, params = {} }) end

    it("analyses and records", function()
        for day = 1, 3 do
            local s, r = post({ user_id = "alice", ip_address = "192.0.2.1", timestamp = ("2023-11-0%dT09:00:00Z"):format(day),
                                device = { device_id = "laptop" } })
            assert.are.equal(200, s)
            assert.is_string(r.event_id)
            assert.are.equal(cjson.null, r.alert_id)
            assert.are.equal(response.EMPTY_ARRAY, r.rule_errors)
        end
        local s, r = post({ user_id = "alice", ip_address = "192.0.2.1", timestamp = "2023-11-04T09:00:00Z",
                            device = { device_id = "phone" } })
        assert.are.equal(200, s)
        assert.are.same({ "new device" }, r.reasons)
        assert.are.equal(25, r.risk_score)
    end)

    it("refuses bad input with a 400 naming the field", function()
        local s, b, h = post({ user_id = "x", ip_address = "300.1.1.1" })
        assert.are.equal(400, s)
        assert.matches("ip_address", b.error.message)
        s, b, h = post({ user_id = "x" })
        assert.are.equal(400, s)
        assert.are.equal("ip_address", h["X-Invalid-Field"])
        -- a field of location or device riskd does not know is named, never dropped
        s, b, h = post({ user_id = "x", ip_address = "192.0.2.1", device = { device_id = "d", model = "Pixel" } })
        assert.are.equal(400, s)
        assert.are.equal("device.model", h["X-Invalid-Field"])
        assert.are.equal("unknown field 'device.model'", b.error.message)
        s, b, h = post({ user_id = "x", ip_address = "192.0.2.1", location = { country = "FR", altitude = 35 } })
        assert.are.equal("location.altitude", h["X-Invalid-Field"])
    end)

    it("lists, fetches and explains events", function()
        local s, page = login.events({ query = { user_id = "alice", per_page = "2" } })
        assert.are.equal(200, s)
        assert.are.equal(4, page.total)
        assert.are.equal(2, #page.events)
        assert.are.equal("2023-11-04T09:00:00.000Z", page.events[1].timestamp)
        local id = page.events[1].event_id
        local s2, e = login.event({ params = { id = id } })
        assert.are.equal(200, s2)
        assert.are.equal("phone", e.device.device_id)
        local s3, x = login.explain({ params = { id = id } })
        assert.are.equal(200, s3)
        assert.are.equal("new_device", x.rules[1].name)
        assert.are.equal(404, (login.event({ params = { id = "nope" } })))
        assert.are.equal(404, (login.explain({ params = { id = "nope" } })))
    end)

    it("validates list filters", function()
        local function status(q) return (login.events({ query = q })) end
        assert.are.equal(200, status({ risk_level = "low", min_risk = "0", since = "2023-11-01T00:00:00Z",
                                       ["until"] = "2023-12-01T00:00:00Z", anomaly = "false" }))
        assert.are.equal(400, status({ risk_level = "severe" }))
        assert.are.equal(400, status({ min_risk = "lots" }))
        assert.are.equal(400, status({ since = "yesterday" }))
        assert.are.equal(400, status({ page = "0" }))
        assert.are.equal(400, status({ per_page = "101" }))
        local _, empty = login.events({ query = { user_id = "nobody" } })
        assert.are.equal(response.EMPTY_ARRAY, empty.events)
    end)
end)

describe("api.admin", function()
    it("lists the rules (none outside riskd)", function()
        local s, b = require("api.admin").rules()
        assert.are.equal(200, s)
        assert.are.equal(response.EMPTY_ARRAY, b.rules)
    end)
end)
