-- spec/response_spec.lua — every error has one shape; the empty-array
-- markers of an encoder's output become [], and nothing else is touched.
local response = require("lib.response")
local cjson = require("cjson")

describe("response", function()
    it("builds the error body", function()
        local status, body, headers = response.error(409, "conflict", "name taken", { ["X-A"] = "1" })
        assert.are.equal(409, status)
        assert.are.same({ error = { code = "conflict", message = "name taken" } }, body)
        assert.are.same({ ["X-A"] = "1" }, headers)
    end)

    it("has shorthands", function()
        local s, b = response.bad_request("user_id is required", "missing_field")
        assert.are.equal(400, s)
        assert.are.equal("missing_field", b.error.code)
        s, b = response.not_found()
        assert.are.equal(404, s)
        assert.are.equal("not_found", b.error.code)
    end)
end)

describe("lib.response.fix_empty", function()
    local M = response.EMPTY_ARRAY

    it("turns every quoted marker into [], wherever it is", function()
        local out = cjson.encode({ a = M })
        assert.are.equal('{"a":[]}', response.fix_empty(out))
        assert.are.equal('[[],1,[]]', response.fix_empty('["' .. M .. '",1,"' .. M .. '"]'))
        assert.are.equal('[]', response.fix_empty('"' .. M .. '"'))
        local t = cjson.decode(response.fix_empty(cjson.encode({ x = { y = M, z = { M, M } }, w = "v" })))
        assert.are.same({ x = { y = {}, z = { {}, {} } }, w = "v" }, t)
    end)

    it("leaves text without a marker as it is, and an unquoted or partial marker too", function()
        local plain = '{"reasons":["new device"],"n":1}'
        assert.are.equal(plain, response.fix_empty(plain))
        local inside = '{"note":"' .. M .. ' and more"}'
        assert.are.equal(inside, response.fix_empty(inside))
        assert.are.equal("", response.fix_empty(""))
    end)
end)
