-- riskd.strings: the budgeted find/match/gmatch/gsub must answer exactly as
-- Lua's own do, errors included, since every script and rule uses them in
-- place of Lua's in the server.
local rs = require("riskd.strings")

local function pack(ok, ...)
    return { ok = ok, n = select("#", ...), ... }
end

local function same(a, b)
    if a.ok ~= b.ok or a.n ~= b.n then return false end
    for i = 1, a.n do
        local x, y = a[i], b[i]
        if not a.ok then   -- error messages: the text, without the position prefix
            x, y = tostring(x):gsub("^.-:%d+: ", ""), tostring(y):gsub("^.-:%d+: ", "")
        end
        if x ~= y or math.type(x) ~= math.type(y) then return false end
    end
    return true
end

local function show(t)
    local parts = {}
    for i = 1, t.n do parts[#parts + 1] = string.format("%q", tostring(t[i])) end
    return (t.ok and "ok " or "error ") .. table.concat(parts, ", ")
end

local function gmatch_all(lib, s, p, init)
    local out = {}
    for a, b in lib.gmatch(s, p, init) do
        out[#out + 1] = tostring(a) .. "|" .. tostring(b)
        if #out > 200 then break end
    end
    return table.concat(out, ";")
end

local TOKENS = { "a", "b", "%a", "%d", "%s", "%w", "%p", "%A", ".", "[ab]", "[^a]", "[a-c]", "[%d_]", "(", ")", "()",
                 "*", "+", "-", "?", "^", "$", "%1", "%2", "%b()", "%f[%w]", "%f[%W]", "%", "[", "]", "x", " ", "%%",
                 "%.", "[]", "[^]", "%z", "%b", "%f", "%f[", "[%]]", "[a-]", "[-a]", "%g", "%c",
                 "%u", "%l", "%x", "%S", "%0", "%b\"\"" }
local CHARS = { "a", "b", "c", "x", "1", "2", " ", "(", ")", "_", ".", "%", "\n", "\0", "A", "\"", "\255", "-" }

local function random_from(list, n, rnd)
    local out = {}
    for _ = 1, n do out[#out + 1] = list[rnd(#list)] end
    return table.concat(out)
end

describe("riskd.strings", function()
    it("answers as Lua's string library on random patterns and subjects", function()
        local rnd = math.random
        math.randomseed(20261206)
        local cases, differ = 0, {}
        for _ = 1, 20000 do
            local p = random_from(TOKENS, rnd(0, 6), rnd)
            local s = random_from(CHARS, rnd(0, 24), rnd)
            local init = ({ nil, 1, 2, -3, 0, 40 })[rnd(6)]
            local checks = {
                { "find", function(lib) return lib.find(s, p, init) end },
                { "find plain", function(lib) return lib.find(s, p, init, true) end },
                { "match", function(lib) return lib.match(s, p, init) end },
                { "gsub string", function(lib) return lib.gsub(s, p, "<%0%1>") end },
                { "gsub plain text", function(lib) return lib.gsub(s, p, "-", 2) end },
                { "gsub function", function(lib) return lib.gsub(s, p, function(a, b) return b and a .. b or nil end) end },
                { "gsub table", function(lib) return lib.gsub(s, p, { a = "A", [1] = "one" }) end },
                { "gmatch", function(lib) return gmatch_all(lib, s, p, init) end },
            }
            for _, c in ipairs(checks) do
                cases = cases + 1
                local want, got = pack(pcall(c[2], string)), pack(pcall(c[2], rs))
                if not same(want, got) and #differ < 5 then
                    differ[#differ + 1] = string.format("%s(%q, %q): Lua %s, riskd %s", c[1], s, p, show(want), show(got))
                end
            end
        end
        assert.are.same({}, differ)
        assert.is_true(cases >= 160000)
    end)

    it("keeps Lua's argument errors", function()
        assert.has_error(function() rs.gsub("x", "x", true) end)
        assert.has_error(function() rs.find(nil, "x") end)
        assert.has_error(function() rs.gsub("abc", "b", "%x") end, "invalid use of '%' in replacement string")
        assert.has_error(function() rs.gsub("abc", "b", function() return {} end) end, "invalid replacement value (a table)")
    end)

    it("finds a plain needle in linear time where a naive scan is quadratic", function()
        local s = string.rep("a", 400000)
        local needle = string.rep("a", 200000) .. "b"
        assert.is_nil(rs.find(s, needle, 1, true))
        assert.are.equal(399997, (rs.find(s .. "b", "aaaab", 399996, true)))
    end)

    it("gives captures, positions and back-references", function()
        assert.are.same({ "key", "value" }, { rs.match("key = value", "^(%w+)%s*=%s*(%w+)$") })
        assert.are.same({ 1, 4 }, { rs.match("abc", "()a.-()$") })
        assert.are.same({ 1, 5, "\"" }, { rs.find([["abc" x]], [[(["'])%w*%1]]) })
        assert.are.same({ "(a(b))", 1 }, { rs.gsub("(a(b))", "%b()", "%0") })
    end)
end)
