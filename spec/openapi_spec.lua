-- spec/openapi_spec.lua — every route in scripts/routes.lua is documented
-- in docs/openapi.yaml, and nothing documented is missing from the routes.
local function documented()
    local ops, path = {}, nil
    for line in io.lines("docs/openapi.yaml") do
        local p = line:match("^  (/[^:]*):%s*$")
        if p then path = p end
        local m = line:match("^    (%a+):")
        if path and m and ({ get = 1, post = 1, put = 1, delete = 1, patch = 1 })[m] then
            ops[m:upper() .. " " .. path] = true
        end
        if line:match("^%S") then path = nil end
    end
    return ops
end

describe("docs/openapi.yaml", function()
    it("documents every route, and only routes", function()
        local routes = dofile("scripts/routes.lua")
        local docs = documented()
        local seen = {}
        for _, r in ipairs(routes) do
            local key = r[1] .. " " .. r[2]:gsub(":(%w+)", "{%1}")
            assert.is_true(docs[key] ~= nil, "undocumented route: " .. key)
            seen[key] = true
        end
        for key in pairs(docs) do assert.is_true(seen[key] ~= nil, "documented but not routed: " .. key) end
        assert.is_true(next(docs) ~= nil)
    end)
end)
