-- spec/replay_stage_spec.lua — what riskd score and riskd eval do with a
-- line before and after the pipeline (lib/replay_stage.lua), on whichever
-- thread runs it.
local stage = require("lib.replay_stage")
local response = require("lib.response")
local cjson = require("cjson")

local NOW = 1767225600000   -- 2026-01-01T00:00:00Z

describe("replay stage", function()
    it("reads a line into the attempt and the decoded line", function()
        local a, body = stage.parse('{"user_id":"u1","ip_address":"192.0.2.1","extra":{"k":[1,2]},'
            .. '"timestamp":"2026-01-02T00:00:00Z","success":false}', nil, NOW)
        assert.are.equal("u1", a.user_id)
        assert.are.equal("192.0.2.1", a.ip_address)
        assert.are.equal(NOW + 86400000, a.ts)
        assert.is_false(a.success)
        assert.are.same({ k = { 1, 2 } }, body.extra)
        a = stage.parse('{"user_id":"u1","ip_address":"192.0.2.1"}', nil, NOW)
        assert.are.equal(NOW, a.ts)   -- no timestamp: now
    end)

    it("refuses what the API refuses, saying why", function()
        local cases = {
            { 'not json', "not valid JSON" },
            { '{"user_id":"a","user_id":"b","ip_address":"192.0.2.1"}', "duplicate" },
            { '"just a string"', "not a JSON object" },
            { '{"user_id":"a"}', "ip_address is required" },
            { '{"user_id":"a","ip_address":"999.1.1.1"}', "not an IPv4 or IPv6 address" },
        }
        for _, c in ipairs(cases) do
            local a, why = stage.parse(c[1], nil, NOW)
            assert.is_nil(a)
            assert.truthy(why:find(c[2], 1, true), c[1] .. " -> " .. tostring(why))
        end
    end)

    it("applies a named extra check (eval's labels)", function()
        local a, why = stage.parse('{"user_id":"a","ip_address":"192.0.2.1"}', "label", NOW)
        assert.is_nil(a)
        assert.truthy(why:find("no label", 1, true))
        a = stage.parse('{"user_id":"a","ip_address":"192.0.2.1","label":"normal"}', "label", NOW)
        assert.are.equal("a", a.user_id)
    end)

    it("writes the input's fields with the answer's, empty lists as []", function()
        local out = cjson.decode(stage.line({ user_id = "u", label = "normal", extra = { kept = true } },
            { risk_score = 12.5, reasons = response.EMPTY_ARRAY, alert_id = cjson.null }))
        assert.are.equal("normal", out.label)
        assert.are.same({ kept = true }, out.extra)
        assert.are.equal(12.5, out.risk_score)
        assert.are.same({}, out.reasons)
        assert.are.equal(cjson.null, out.alert_id)
        assert.truthy(stage.line({}, { reasons = response.EMPTY_ARRAY }):find('"reasons":[]', 1, true))
    end)

    it("does a helper's chunk of work, and refuses an unknown one", function()
        local r = stage({ op = "parse", lines = { '{"user_id":"a","ip_address":"192.0.2.1"}', "x" }, now = NOW })
        assert.are.equal(2, #r.items)
        assert.are.equal("a", r.items[1].a.user_id)
        assert.truthy(r.items[2].bad:find("not valid JSON", 1, true))
        assert.is_true(r.cpu >= 0)
        local e = stage({ op = "encode", items = { { { user_id = "a" }, { risk_score = 1 } }, { { user_id = "b" }, {} } } })
        local l1, l2 = e.text:match("^([^\n]*)\n([^\n]*)$")
        assert.are.equal("a", cjson.decode(l1).user_id)
        assert.are.equal("b", cjson.decode(l2).user_id)
        assert.has_error(function() stage({ op = "nope" }) end)
    end)

    it("has no helper threads outside riskd (the replay then runs on one thread)", function()
        local g, err = require("riskd.parallel").start("lib.replay_stage", 1)
        assert.is_nil(g)
        assert.truthy(err:find("riskd run", 1, true))
        assert.is_true(require("riskd.parallel").cpus() >= 1)
    end)
end)
