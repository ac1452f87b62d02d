-- api/rule_source.lua — a rule's Lua source from the console (admins):
--   GET  /api/admin/rules/:name/source          -> {name, file, source, history}
--   PUT  /api/admin/rules/:name/source {source}  -> saves it, when it compiles
--   POST /api/admin/rules/:name/restore {version} -> saves an earlier version
-- A source that does not compile is refused (400 invalid_rule, with its
-- line); a saved one is written to a temporary name and renamed into the
-- rules folder, where the server's watcher loads it like any edit (and the
-- sandboxed load there still rejects a rule that compiles but is not a rule:
-- GET /api/admin/rules and the rules stream say so). Every save is kept in
-- <rules>/.history/<name>.jsonl (the loader and the watcher skip hidden
-- entries) with who, when, the source and a line diff from the version
-- before.
local cjson = require("cjson")
local engine = require("riskd.engine")
local response = require("lib.response")
local time = require("lib.time")

local M = {}

local MAX_SOURCE = 64 * 1024

local function paths(name)
    if type(name) ~= "string" or not name:match("^[%w_]+$") or #name > 64 then return nil end
    local dir = engine.config().rules
    return dir .. "/" .. name .. ".lua", dir .. "/.history", dir .. "/.history/" .. name .. ".jsonl"
end

local function read(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local s = f:read("a")
    f:close()
    return s
end

local function history(hist)
    local list = {}
    local f = io.open(hist, "r")
    if not f then return list end
    for line in f:lines() do
        local ok, v = pcall(cjson.decode, line)
        if ok and type(v) == "table" then list[#list + 1] = v end
    end
    f:close()
    return list
end

local function lines(s)
    local t = {}
    for l in (s .. "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = l end
    if t[#t] == "" then t[#t] = nil end
    return t
end

-- A line diff ("-" removed, "+" added, " " kept) by longest common
-- subsequence; rules are short, so the quadratic table is small (capped).
function M.diff(old, new)
    local a, b = lines(old or ""), lines(new or "")
    if #a * #b > 4000000 then return "(too long to compare)" end
    local L = {}
    for i = #a + 1, 1, -1 do
        L[i] = {}
        for j = #b + 1, 1, -1 do
            if i > #a or j > #b then L[i][j] = 0
            elseif a[i] == b[j] then L[i][j] = L[i + 1][j + 1] + 1
            else L[i][j] = math.max(L[i + 1][j], L[i][j + 1]) end
        end
    end
    local out, i, j = {}, 1, 1
    while i <= #a or j <= #b do
        if i <= #a and j <= #b and a[i] == b[j] then out[#out + 1] = " " .. a[i]; i, j = i + 1, j + 1
        elseif i <= #a and (j > #b or L[i + 1][j] >= L[i][j + 1]) then out[#out + 1] = "-" .. a[i]; i = i + 1
        else out[#out + 1] = "+" .. b[j]; j = j + 1 end
    end
    return table.concat(out, "\n")
end

function M.get(req)
    local file, _, hist = paths(req.params.name)
    if not file then return response.bad_request("a rule name is letters, digits and _", "invalid_field") end
    local source = read(file)
    if not source then return response.not_found("no rule file " .. req.params.name .. ".lua") end
    local h = {}
    for i, v in ipairs(history(hist)) do
        h[i] = { version = v.version, saved_at = v.saved_at, by = v.by, diff = v.diff, note = v.note }
    end
    return 200, { name = req.params.name, file = req.params.name .. ".lua", source = source, history = response.array(h) }
end

-- Compiles, records and writes source as the rule's new version.
local function save(name, source, who, note)
    local file, hdir, hist = paths(name)
    if #source > MAX_SOURCE then return response.bad_request("a rule is at most 64 KiB", "invalid_field") end
    local fn, err = load(source, "=" .. name .. ".lua", "t", {})
    if not fn then
        return 400, { error = { code = "invalid_rule", message = err, line = tonumber(err:match(":(%d+):")) } }
    end
    local old = read(file)
    local list = history(hist)
    os.execute("mkdir -p '" .. hdir:gsub("'", "") .. "'")
    local hf, herr = io.open(hist, "a")
    if not hf then return response.error(503, "rules_read_only", "cannot record the history: " .. tostring(herr)) end
    if #list == 0 and old then   -- the version as it was before the first edit from here
        hf:write(cjson.encode({ version = 1, saved_at = time.format(math.floor(os.time() * 1000)), by = "(file)",
                                source = old, diff = M.diff("", old) }), "\n")
        list[1] = true
    end
    local version = #list + 1
    local at = time.format(math.floor(os.time() * 1000))
    hf:write(cjson.encode({ version = version, saved_at = at, by = who, source = source, note = note,
                            diff = M.diff(old or "", source) }), "\n")
    hf:close()
    local tmp = file:gsub("([^/]+)$", ".%1.tmp")
    local f, ferr = io.open(tmp, "wb")
    if not f then return response.error(503, "rules_read_only", "cannot write the rule: " .. tostring(ferr)) end
    f:write(source)
    f:close()
    local ok, rerr = os.rename(tmp, file)
    if not ok then return response.error(503, "rules_read_only", "cannot write the rule: " .. tostring(rerr)) end
    return 200, { name = name, version = version, saved_at = at }
end

function M.put(req)
    local name = req.params.name
    if not paths(name) then return response.bad_request("a rule name is letters, digits and _", "invalid_field") end
    local b = req.body
    if type(b) ~= "table" or type(b.source) ~= "string" then return response.bad_request("source is required", "invalid_field") end
    if b.note ~= nil and (type(b.note) ~= "string" or #b.note > 1000) then
        return response.bad_request("note is a string of at most 1000 characters", "invalid_field")
    end
    return save(name, b.source, req.user and req.user.username or "anonymous", b.note)
end

function M.restore(req)
    local name = req.params.name
    local file, _, hist = paths(name)
    if not file then return response.bad_request("a rule name is letters, digits and _", "invalid_field") end
    local b = req.body
    local version = type(b) == "table" and math.tointeger(b.version)   -- cjson gives numbers as floats
    if not version then return response.bad_request("version is required: an integer", "invalid_field") end
    for _, v in ipairs(history(hist)) do
        if v.version == version then
            return save(name, v.source, req.user and req.user.username or "anonymous", "restored version " .. version)
        end
    end
    return response.not_found("no version " .. version .. " of " .. name)
end

return M
