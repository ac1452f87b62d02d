-- cli/score.lua — `riskd score --input FILE.jsonl [--output FILE.jsonl]
-- [--db URI] [--skip-bad] [--explain]`: every attempt of a file through the
-- full pipeline, in the order of the file, as if each had been posted to
-- POST /api/login/analyze in that order: the same checks (the strict JSON
-- check, the field validation), the same profiles, global signals (users
-- per address, failures per user) and rules, the same answer. Profiles and
-- events live in a store in memory unless --db names one.
--
-- One output line per input line, in input order: the input's fields, the
-- unknown ones too, with the answer's fields added. A bad line is reported
-- on stderr with its number and skipped; their count ends the run, whose
-- status is 1 if there were any, unless --skip-bad. A progress line with
-- rate and ETA is drawn on a terminal only.
local cjson = require("cjson")
local cliargs = require("lib.cliargs")
local analyze = require("lib.analyze")
local login = require("api.login")
local time = require("lib.time")
local engine = require("riskd.engine")
local features = require("riskd.features")
local iforest = require("riskd.iforest")
local rules = require("riskd.rules")
local store = require("riskd.store")
local strict = require("riskd.json")
local fix_empty = require("lib.response").fix_empty

local SPEC = {
    input = { kind = "str" },
    output = { kind = "str", default = "-" },
    db = { kind = "str", default = "sqlite::memory:" },
    skip_bad = { kind = "flag", default = false },
    explain = { kind = "flag", default = false },
    timing = { kind = "flag", default = false },
}
local USAGE = "usage: riskd score --input FILE.jsonl [--output FILE.jsonl] [--db URI] [--skip-bad] [--explain] [--timing]\n"

-- The dispatcher's decoder settings (lib/dispatch.lua).
local json = cjson.new()
json.encode_sparse_array(true)
json.decode_max_depth(64)
json.decode_invalid_numbers(false)

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

return function(...)
    local o, err = cliargs.parse({ ... }, SPEC)
    if not o or not o.input then return cliargs.fail("score", err or "--input is required", USAGE) end
    local inf, ierr = io.open(o.input, "rb")
    if not inf then io.stderr:write("riskd score: ", ierr, "\n") return 1 end
    local out = io.stdout
    if o.output ~= "-" then
        local oerr
        out, oerr = io.open(o.output, "wb")
        if not out then io.stderr:write("riskd score: ", oerr, "\n") return 1 end
    end
    local db, derr = store.open(o.db)
    if not db then io.stderr:write("riskd score: ", derr, "\n") return 1 end
    local deps = { store = db, model = iforest.current(), geo = require("riskd.geo").current(), intel = require("riskd.intel").current(), rules = rules,
                   features = features, config = rules.config(), format_time = time.format }
    local tty = engine.isatty(2)
    local total = tty and count_lines(o.input) or nil
    local n, bad, t0 = 0, 0, os.clock()
    local buf, nbuf = {}, 0
    local timing = o.timing and {} or nil
    local opts = { explain = o.explain, timing = timing }
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
        else a, msg = login.attempt(body, now) end
        if not a then
            bad = bad + 1
            io.stderr:write(string.format("%s%s:%d: %s\n", tty and "\n" or "", o.input, n, msg))
        else
            if timing then timing.parsing = (timing.parsing or 0) + clock() - t1 end
            local r = login.response(analyze.analyze(a, deps, opts))
            t1 = timing and clock()
            for k, v in pairs(r) do body[k] = v end
            nbuf = nbuf + 1
            buf[nbuf] = fix_empty(json.encode(body))
            if nbuf == 512 then
                out:write(table.concat(buf, "\n", 1, nbuf), "\n")
                nbuf = 0
            end
            if timing then timing.output = (timing.output or 0) + clock() - t1 end
        end
        if tty and n % 1000 == 0 then progress(n, total, t0) end
    end
    assert(db:batch_end())
    if nbuf > 0 then out:write(table.concat(buf, "\n", 1, nbuf), "\n") end
    inf:close()
    if out ~= io.stdout then out:close() end
    db:close()
    if tty then progress(n, total, t0) io.stderr:write("\n") end
    local secs = os.clock() - t0
    io.stderr:write(string.format("riskd score: %d attempts in %.1f s (%.0f/s), %d bad line%s%s\n", n - bad, secs,
        secs > 0 and (n - bad) / secs or 0, bad, bad == 1 and "" or "s", bad > 0 and o.skip_bad and " (skipped)" or ""))
    if timing then
        local total_t, names = 0, {}
        for k, v in pairs(timing) do total_t = total_t + v; names[#names + 1] = k end
        table.sort(names, function(x, y) return timing[x] > timing[y] end)
        for _, k in ipairs(names) do
            io.stderr:write(string.format("  %-12s %6.1f us per attempt  %5.1f %%\n", k, timing[k] / math.max(1, n - bad) * 1e6,
                100 * timing[k] / total_t))
        end
    end
    if bad > 0 and not o.skip_bad then return 1 end
    return 0
end
