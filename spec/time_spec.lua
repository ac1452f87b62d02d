-- spec/time_spec.lua — ISO 8601 <-> UTC milliseconds.
local time = require("lib.time")

describe("lib.time", function()
    it("parses the forms services send", function()
        assert.are.equal(1700000000000, time.parse("2023-11-14T22:13:20Z"))
        assert.are.equal(1700000000123, time.parse("2023-11-14T22:13:20.123Z"))
        assert.are.equal(1700000000120, time.parse("2023-11-14T22:13:20.12Z"))
        assert.are.equal(1700000000000, time.parse("2023-11-14T23:13:20+01:00"))
        assert.are.equal(1700000000000, time.parse("2023-11-14T17:13:20-0500"))
        assert.are.equal(1700000000000, time.parse("2023-11-14 22:13:20"))
        assert.are.equal(0, time.parse("1970-01-01T00:00:00Z"))
        assert.are.equal(951782400000, time.parse("2000-02-29T00:00:00Z"))
        assert.are.equal(-86400000, time.parse("1969-12-31T00:00:00Z"))
    end)

    it("refuses what is not a time", function()
        for _, bad in ipairs({ "yesterday", "2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z", "1900-02-29T00:00:00Z",
                               "2023-11-14T25:00:00Z", "2023-11-14T22:13:20 CET", 12345 }) do
            local ms, why = time.parse(bad)
            assert.is_nil(ms, tostring(bad))
            assert.is_string(why)
        end
    end)

    it("formats and round-trips", function()
        assert.are.equal("2023-11-14T22:13:20.123Z", time.format(1700000000123))
        assert.are.equal("1969-12-31T23:59:59.999Z", time.format(-1))
        for _, ms in ipairs({ 0, 951782400000, 1700000000123, 4102444800000 }) do
            assert.are.equal(ms, time.parse(time.format(ms)))
        end
    end)
end)
