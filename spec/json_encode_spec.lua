-- spec/json_encode_spec.lua — riskd.json.encode writes what the
-- dispatcher's lua-cjson instance (encode_sparse_array(true)) followed by
-- response.fix_empty wrote, byte for byte, with the same errors.
local cjson = require("cjson")
local json = require("riskd.json")
local response = require("lib.response")

local reference = cjson.new()
reference.encode_sparse_array(true)
local function expected(v) return response.fix_empty(reference.encode(v)) end

-- A seeded generator of the values answers carry: every number shape
-- (whole, fractional, huge, tiny, negative zero, Lua integers of every
-- size), strings with every byte that is escaped, nested tables that are
-- arrays, sparse arrays, objects with string and number keys, null.
local function gen(rng, depth)
    local kind = rng(depth > 3 and 6 or 9)
    if kind == 1 then return rng(2) == 1 end
    if kind == 2 then
        local shapes = {
            function() return rng(1000) - 500 end,
            function() return (rng(2000000) - 1000000) / 7 end,
            function() return rng() * 10 ^ rng(-20, 20) end,
            function() return -rng() * 10 ^ rng(-20, 20) end,
            function() return math.tointeger(10 ^ rng(0, 18)) or 0 end,
            function() return 10.0 ^ rng(10, 16) - rng(0, 1) end,
            function() return math.maxinteger - rng(0, 3) end,
            function() return math.mininteger + rng(0, 3) end,
            function() return -0.0 end,
            function() return 99999999999999 + rng(0, 2) end,
            function() return -99999999999999.0 - rng(0, 2) end,
            function() return 1767806114248 + rng(1000) end,
            function() return rng() end,
        }
        return shapes[rng(#shapes)]()
    end
    if kind == 3 or kind == 4 then
        local n, b = rng(0, 12), {}
        for i = 1, n do b[i] = string.char(rng(0, 255)) end
        if rng(4) == 1 then b[#b + 1] = "/\"\\\b\f\n\r\t\127" end
        return table.concat(b)
    end
    if kind == 5 then return cjson.null end
    if kind == 6 then return response.EMPTY_ARRAY end
    if kind == 7 then   -- an array, maybe with holes, maybe too sparse to be one
        local t, n = {}, rng(0, 8)
        for i = 1, n do t[i] = gen(rng, depth + 1) end
        if rng(3) == 1 then t[rng(1, 30)] = gen(rng, depth + 1) end
        return t
    end
    local t = {}   -- an object
    for _ = 1, rng(0, 6) do
        local k = rng(5) == 1 and (rng(2) == 1 and rng(-3, 40) or rng() * 10) or ("k" .. rng(50))
        t[k] = gen(rng, depth + 1)
    end
    return t
end

describe("riskd.json.encode", function()
    it("writes what lua-cjson and fix_empty wrote, on thousands of generated values", function()
        math.randomseed(20261207)
        local rng = math.random
        for i = 1, 5000 do
            local v = gen(rng, 0)
            local ok, want = pcall(expected, v)
            if ok then
                assert.are.equal(want, json.encode(v), "value " .. i)
            else
                local ok2 = pcall(json.encode, v)
                assert.is_false(ok2, "value " .. i .. " should fail as in cjson: " .. tostring(want))
            end
        end
    end)

    it("writes numbers as %.14g does, whole ones digit by digit", function()
        for _, x in ipairs({ 0, -0.0, 1, -1, 3.0, 0.1, 1e13, 99999999999999, 1e14, 123456789012345,
                             2 ^ 53, -2 ^ 63, math.maxinteger, math.mininteger, 1.5e-7, 1767806114248,
                             -0.19509032201613, 48.8566 }) do
            assert.are.equal(reference.encode(x), json.encode(x))
        end
        assert.are.equal("-0", json.encode(-0.0))
        assert.are.equal("9.2233720368548e+18", json.encode(math.maxinteger))
    end)

    it("raises cjson's errors", function()
        local cases = {
            { 0 / 0, "Cannot serialise number: must not be NaN or Inf" },
            { { 1 / 0 }, "Cannot serialise number: must not be NaN or Inf" },
            { { f = print }, "Cannot serialise function: type not supported" },
            { { [{}] = 1 }, "Cannot serialise table: table key must be a number or string" },
        }
        for _, c in ipairs(cases) do
            local ok, err = pcall(json.encode, c[1])
            assert.is_false(ok)
            assert.matches(c[2], err, 1, true)
        end
        local deep = {}
        for _ = 1, 1001 do deep = { deep } end
        local ok, err = pcall(json.encode, deep)
        assert.is_false(ok)
        assert.matches("excessive nesting", err, 1, true)
    end)

    it("writes the empty-list marker as [] only as a value", function()
        assert.are.equal('{"a":[]}', json.encode({ a = response.EMPTY_ARRAY }))
        assert.are.equal('["x@@riskd:empty-array@@"]', json.encode({ "x" .. response.EMPTY_ARRAY }))
    end)

    it("reads no metamethods, as cjson does", function()
        local t = setmetatable({}, { __index = function() error("read") end, __pairs = function() error("pairs") end })
        assert.are.equal("{}", json.encode(t))
    end)
end)
