-- api/rule_source.lua — a rule's Lua source from the console (admins):
--   GET  /api/admin/rules/:name/source          -> {name, file, source, history}
--   PUT  /api/admin/rules/:name/source {source}  -> saves it; 200 once it is live
--   POST /api/admin/rules/:name/restore {version} -> saves an earlier version
-- The name is a rule file's (NAME.lua) or "config" (config.lua). A source
-- is first loaded exactly as the server loads rules (riskd.rules.check: the
-- same sandbox and budgets, a rule with a name no other file has): one that
-- would not load is refused with 422 invalid_rule, its file and line, and
-- nothing is written. A good one is written to a temporary name and renamed
-- into the rules folder, and the answer waits until the server serves it
-- (or says why it does not). Every save is kept in
-- <rules>/.history/<name>.jsonl (the loader and the watcher skip hidden
-- entries) with who, when, the source and a line diff from the version
-- before; the server falls back on it at start-up for a file that does not
-- load.
local cjson = require("cjson")
local engine = require("riskd.engine")
local rules = require("riskd.rules")
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

local WAIT_STEP_MS, WAIT_STEPS = 50, 80   -- how long a save waits for the server to serve it

local function invalid(file, message, line)
    return 422, { error = { code = "invalid_rule", message = message, file = file, line = line } }
end

-- Waits until the server serves source as file: 200 body, or 422 with why.
local function until_live(file, source, gen0, body)
    for _ = 1, WAIT_STEPS do
        local state, gen, why = engine.rule_state(file, source)
        if state == nil then return 200, body end   -- no server (specs): nothing to wait for
        if state == "live" then return 200, body end
        if state == "broken" and gen > gen0 then return invalid(file, why, tonumber(why:match("%.lua:(%d+):"))) end
        engine.sleep(WAIT_STEP_MS)
    end
    return response.error(504, "not_live", "saved as version " .. body.version .. ", but the server did not load it in time")
end

-- Checks, records and writes source as the rule's new version.
local function save(name, source, who, note)
    local file, hdir, hist = paths(name)
    if #source > MAX_SOURCE then return response.bad_request("a rule is at most 64 KiB", "invalid_field") end
    local rel = name .. ".lua"
    local ok, err, line = rules.check(rel, source)
    if not ok then return invalid(rel, err, line) end
    local old = read(file)
    if old == source then   -- nothing to save, nothing to wait for
        local list = history(hist)
        return 200, { name = name, version = math.max(#list, 1), saved_at = list[#list] and list[#list].saved_at, unchanged = true }
    end
    local _, gen0 = engine.rule_state(rel)
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
    local renamed, rerr = os.rename(tmp, file)
    if not renamed then return response.error(503, "rules_read_only", "cannot write the rule: " .. tostring(rerr)) end
    return until_live(rel, source, gen0 or 0, { name = name, version = version, saved_at = at })
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
