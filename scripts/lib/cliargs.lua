-- lib/cliargs.lua — "--name value" and "--flag" options for the batch
-- commands (scripts/cli/). spec: { name = { kind = "int"|"num"|"str"|"flag",
-- default = v, min = n, max = n } }. Returns the options, or nil and a
-- message naming the bad option.
local M = {}

function M.parse(args, spec)
    local o = {}
    for k, s in pairs(spec) do o[k] = s.default end
    local i = 1
    while i <= #args do
        local a = args[i]
        local name = a:match("^%-%-([%w%-]+)$")
        local key = name and name:gsub("%-", "_")
        local s = key and spec[key]
        if not s then return nil, "unknown option " .. a end
        if s.kind == "flag" then
            o[key] = true
        else
            local v = args[i + 1]
            if v == nil then return nil, a .. " needs a value" end
            i = i + 1
            if s.kind == "int" or s.kind == "num" then
                local n = tonumber(v)
                if not n or (s.kind == "int" and math.type(n) ~= "integer") then
                    return nil, a .. " must be " .. (s.kind == "int" and "an integer" or "a number")
                end
                if (s.min and n < s.min) or (s.max and n > s.max) then
                    return nil, string.format("%s must be from %s to %s", a, tostring(s.min), tostring(s.max))
                end
                v = n
            end
            o[key] = v
        end
        i = i + 1
    end
    return o
end

return M
