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
        if a == "--help" or a == "-h" then return nil, M.HELP end
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

M.HELP = "help"

-- What a command returns when parse failed: its usage on standard output
-- and 0 when help was asked for, else the error and the usage on standard
-- error and 2.
function M.fail(cmd, err, usage)
    if err == M.HELP then io.stdout:write(usage) return 0 end
    io.stderr:write("riskd ", cmd, ": ", err, "\n", usage)
    return 2
end

return M
