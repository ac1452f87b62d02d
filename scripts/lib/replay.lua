-- lib/replay.lua — a file of attempts (JSON lines) through the full
-- pipeline in the order of the file, as if each had been posted to
-- POST /api/login/analyze in that order: the same strict JSON check, the
-- same field validation, the same profiles, global signals and rules. What
-- `riskd score` and `riskd eval` share.
local cjson = require("cjson")
local analyze = require("lib.analyze")
local login = require("api.login")
local time = require("lib.time")
local engine = require("riskd.engine")
local features = require("riskd.features")
local iforest = require("riskd.iforest")
local rules = require("riskd.rules")
local store = require("riskd.store")
local strict = require("riskd.json")

local M = {}

-- The dispatcher's decoder settings (lib/dispatch.lua).
local json = cjson.new()
json.encode_sparse_array(true)
json.decode_max_depth(64)
json.decode_invalid_numbers(false)
M.json = json

local function count_lines(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local n = 0
    for _ in f:lines() do n = n + 1 end
    f:close()
    return n
end

local function progress(done, total, t0)
    local secs = os.clock() - t0
    local rate = secs > 0 and done / secs or 0
    local eta = rate > 0 and total and (total - done) / rate or 0
    local width = 30
    local filled = total and total > 0 and math.floor(width * done / total) or 0
    io.stderr:write(string.format("\r[%s%s] %d%s  %.0f/s  ETA %ds ", string.rep("#", filled),
        string.rep(".", width - filled), done, total and ("/" .. total) or "", rate, math.floor(eta)))
end

-- Replays o.input (o.db: the store, o.explain, o.timing) and calls
-- on_result(body, response, line_number) for every good line, where body is
-- the decoded input line and response the answer the API would give.
-- check(body) may refuse a line for the caller's own reasons (nil, why).
-- Bad lines are reported on stderr as "FILE:LINE: why". Returns the
-- counts { lines, bad, seconds, timing } or nil, error.
function M.run(o, on_result, check)
    local inf, ierr = io.open(o.input, "rb")
    if not inf then return nil, ierr end
    local db, derr = store.open(o.db)
    if not db then inf:close() return nil, derr end
    local deps = { store = db, model = iforest.current(), geo = require("riskd.geo").current(),
                   intel = require("riskd.intel").current(), rules = rules, features = features,
                   config = rules.config(), format_time = time.format }
    local tty = engine.isatty(2)
    local total = tty and count_lines(o.input) or nil
    local n, bad, t0 = 0, 0, os.clock()
    local timing = o.timing and {} or nil
    local opts = { explain = o.explain, timing = timing, reference = o.reference }
    local clock = os.clock
    local now = math.floor(os.time() * 1000)
    -- Writes commit in groups of 1000 attempts: reads see the group's own
    -- writes, so results are the same as one commit per attempt.
    assert(db:batch_begin())
    for line in inf:lines() do
        n = n + 1
        if n % 1000 == 0 then assert(db:batch_end()); assert(db:batch_begin()) end
        local t1 = timing and clock()
        local ok, body = false, nil
        local good, why = strict.check(line)
        if good then ok, body = pcall(json.decode, line) end
        local a, msg
        if not good then msg = "not valid JSON: " .. why
        elseif not ok then msg = "not valid JSON: " .. tostring(body):gsub("^.-: ", "")
        elseif type(body) ~= "table" then msg = "not a JSON object"
        elseif check then a, msg = check(body) end
        if not msg then a, msg = login.attempt(body, now) end
        if not a then
            bad = bad + 1
            io.stderr:write(string.format("%s%s:%d: %s\n", tty and "\n" or "", o.input, n, msg))
        else
            if timing then timing.parsing = (timing.parsing or 0) + clock() - t1 end
            local r = analyze.analyze(a, deps, opts)
            t1 = timing and clock()
            on_result(body, login.response(r), n, r)
            if timing then timing.output = (timing.output or 0) + clock() - t1 end
        end
        if tty and n % 1000 == 0 then progress(n, total, t0) end
    end
    assert(db:batch_end())
    inf:close()
    db:close()
    if tty then progress(n, total, t0) io.stderr:write("\n") end
    return { lines = n, bad = bad, seconds = os.clock() - t0, timing = timing }
end

-- Where the time went (--timing), on stderr.
function M.report_timing(timing, attempts)
    local total_t, names = 0, {}
    for k, v in pairs(timing) do total_t = total_t + v; names[#names + 1] = k end
    table.sort(names, function(x, y) return timing[x] > timing[y] end)
    for _, k in ipairs(names) do
        io.stderr:write(string.format("  %-12s %6.1f us per attempt  %5.1f %%\n", k, timing[k] / math.max(1, attempts) * 1e6,
            100 * timing[k] / total_t))
    end
end

return M
