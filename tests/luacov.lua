-- tests/luacov.lua — line coverage for Lua, since Debian 12 packages no
-- luacov. Two halves:
--   require("luacov").start(out_file)  -- in spec/helper.lua: count lines run
--   lua5.4 tests/luacov.lua HITS DIR... -- report: lines run / lines that hold
--                                          code, the latter from `luac -l -l`
local M = {}

function M.start(out)
    local hits = {}
    local function hook(_, line)
        local src = debug.getinfo(2, "S").source
        if src:sub(1, 1) == "@" then
            local f = hits[src] or {}
            hits[src] = f
            f[line] = true
        end
    end
    debug.sethook(hook, "l")
    -- busted runs tests in coroutines; hooks are per coroutine.
    local create, wrap = coroutine.create, coroutine.wrap
    coroutine.create = function(fn)
        local co = create(fn)
        debug.sethook(co, hook, "l")
        return co
    end
    coroutine.wrap = function(fn)
        local co = coroutine.create(fn)
        return function(...)
            local res = table.pack(coroutine.resume(co, ...))
            if not res[1] then error(res[2], 0) end
            return table.unpack(res, 2, res.n)
        end
    end
    local function save()
        local fh = assert(io.open(out, "a"))
        for src, lines in pairs(hits) do
            for line in pairs(lines) do fh:write(src:sub(2), "\t", line, "\n") end
        end
        fh:close()
    end
    -- Write at exit: a __gc on a global sentinel runs when the state closes.
    M.sentinel = setmetatable({}, { __gc = save })
    _G.__luacov_sentinel = M.sentinel
end

local function code_lines(path)
    local p = assert(io.popen("luac5.4 -l -l -p '" .. path .. "' 2>/dev/null"))
    local lines = {}
    for l in p:lines() do
        local n = l:match("^%s+%d+%s+%[(%d+)%]")
        if n then lines[tonumber(n)] = true end
    end
    p:close()
    return lines
end

-- Paths as the report lists them: relative to here (the server names its
-- chunks with the scripts folder it was given, often absolute).
local cwd = (os.getenv("PWD") or ""):gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
local function normalise(path) return (path:gsub("^%./", ""):gsub("^" .. cwd .. "/", "")) end

if arg and arg[0] and arg[0]:match("luacov%.lua$") then
    local hits = {}
    for l in io.lines(arg[1]) do
        local src, n = l:match("^(.-)\t(%d+)$")
        src = normalise(src)
        hits[src] = hits[src] or {}
        hits[src][tonumber(n)] = true
    end
    local total, covered = 0, 0
    for i = 2, #arg do
        local p = io.popen("find '" .. arg[i] .. "' -name '*.lua' | sort")
        for file in p:lines() do
            file = normalise(file)
            local code, t, c = code_lines(file), 0, 0
            for n in pairs(code) do
                t = t + 1
                if hits[file] and hits[file][n] then c = c + 1 end
            end
            total, covered = total + t, covered + c
            if t > 0 then print(string.format("%-40s %5d %5d %6.1f%%", file, t, c, 100 * c / t)) end
        end
        p:close()
    end
    print(string.format("%-40s %5d %5d %6.1f%%", "TOTAL (lines, covered)", total, covered,
        total > 0 and 100 * covered / total or 100))
end

return M
