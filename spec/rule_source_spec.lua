-- spec/rule_source_spec.lua — the line diff recorded with every rule edit.
local rs = require("api.rule_source")

describe("rule_source.diff", function()
    it("marks removed, added and kept lines in order", function()
        assert.are.equal(" a\n-b\n+B\n c", rs.diff("a\nb\nc\n", "a\nB\nc\n"))
        assert.are.equal("+x\n+y", rs.diff("", "x\ny"))
        assert.are.equal("-x", rs.diff("x\n", ""))
        assert.are.equal(" same", rs.diff("same", "same"))
    end)

    it("keeps the longest common run of lines", function()
        local d = rs.diff("1\n2\n3\n4\n5", "0\n1\n2\n4\n5\n6")
        assert.are.equal("+0\n 1\n 2\n-3\n 4\n 5\n+6", d)
    end)
end)
