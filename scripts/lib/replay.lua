-- lib/replay.lua — a file of attempts (JSON lines) through the full
-- pipeline in the order of the file, as if each had been posted to
-- POST /api/login/analyze in that order: the same strict JSON check, the
-- same field validation, the same profiles, global signals and rules. What
-- `riskd score` and `riskd eval` share.
local analyze = require("lib.analyze")
local login = require("api.login")
local time = require("lib.time")
local engine = require("riskd.engine")
local features = require("riskd.features")
local iforest = require("riskd.iforest")
local rules = require("riskd.rules")
local store = require("riskd.store")
local calib = require("riskd.calib")
local rates = require("riskd.rates")
local parallel = require("riskd.parallel")
local stage = require("lib.replay_stage")

-- Whether the store outlives the run (the memory store keeps nothing).
local function kept(uri) return uri ~= "mem:" end
-- A store that does not share the site-wide rates (SQLite: one instance)
-- keeps them as its state, as the server does; MongoDB's instances share
-- theirs as per-hour counts (the server's rates thread), which a replay does
-- not write.
local function keeps_rates(db, uri) return kept(uri) and not db:shares_rates() end

-- Stages are timed with two clocks. A thread's CPU clock is a system call
-- here that costs more than the smaller stages and disturbs the caches the
-- next stage runs on, so it is read only around whole chunks (the helpers'
-- work, the hand-offs to them, which may wait) and at the start and end of
-- the run. The stages of the pipeline's own thread are sampled with the
-- monotonic clock, which costs tens of nanoseconds; the wall time it sees
-- includes the moments the thread was not running, so at the end the
-- thread's stages are scaled to what its CPU clock says it spent in all.
local clock = parallel.thread_clock
local wall = parallel.monotonic

local M = {}
M.json = stage.json

local function count_lines(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local n = 0
    for _ in f:lines() do n = n + 1 end
    f:close()
    return n
end

local function progress(done, total, t0)
    local secs = parallel.monotonic() - t0
    local rate = secs > 0 and done / secs or 0
    local eta = rate > 0 and total and (total - done) / rate or 0
    local width = 30
    local filled = total and total > 0 and math.floor(width * done / total) or 0
    io.stderr:write(string.format("\r[%s%s] %d%s  %.0f/s  ETA %ds ", string.rep("#", filled),
        string.rep(".", width - filled), done, total and ("/" .. total) or "", rate, math.floor(eta)))
end

-- Helper threads per stage (parsing, encoding) when o.threads is not given:
-- none on one core; else the cores beside the pipeline's, split between them.
function M.default_threads()
    local cpus = parallel.cpus()
    if cpus < 2 then return 0 end
    return math.max(1, (cpus - 1) // 2)
end

local CHUNK = 256   -- lines per message to a helper

-- --timing times one line in SAMPLE, each stage less what reading the clock
-- costs, and scales the sums up to the whole run.
local SAMPLE = 16

-- What one reading of the wall clock costs, measured.
local function clock_overhead()
    local n, t0 = 2000, wall()
    for _ = 1, n do wall() end
    return (wall() - t0) / (n + 1)
end

-- The run's state: the input, the pipeline, the counters.
local function context(o, h)
    local inf, ierr = io.open(o.input, "rb")
    if not inf then return nil, ierr end
    local db, derr = store.open(o.db)
    if not db then inf:close() return nil, derr end
    local cal = calib.current()
    if kept(o.db) then   -- the levels a server (or an earlier replay) calibrated on this store go on from there
        local text, serr, code = db:state(calib.STATE_KEY)
        if not text and code ~= "not_found" then inf:close() db:close() return nil, serr end
        if text and not cal:decode(text) then
            io.stderr:write("riskd: the stored calibration is unreadable: starting again\n")
        end
    end
    if keeps_rates(db, o.db) then   -- and the site-wide rates' baselines, as a server keeps them
        local text, serr, code = db:state(rates.STATE_KEY)
        if not text and code ~= "not_found" then inf:close() db:close() return nil, serr end
        if text and not rates.decode(text) then
            io.stderr:write("riskd: the stored site-wide rates are unreadable: starting again\n")
        end
    end
    local timing = o.timing and {} or nil
    local overhead = timing and clock_overhead() or 0
    local tty = engine.isatty(2)
    return {
        o = o, h = h, inf = inf, db = db, tty = tty, total = tty and count_lines(o.input) or nil,
        deps = { store = db, model = iforest.current(), geo = require("riskd.geo").current(),
                 intel = require("riskd.intel").current(), calib = cal,
                 xacct = require("riskd.xacct").current(),
                 rules = rules, features = features,
                 config = rules.config(), format_time = time.format },
        opts = { explain = o.explain, reference = o.reference },
        timed_opts = timing and { explain = o.explain, reference = o.reference, timing = {}, clock = wall,
                                  clock_overhead = overhead },
        -- the helpers' CPU per stage (timing); this thread's stages by the
        -- wall clock, per line sampled (lines and good ones sampled: their
        -- counts) and per chunk timed every time (here)
        timing = timing, per_line = timing and {}, here = timing and {}, sampled = 0, sampled_good = 0,
        overhead = overhead,
        n = 0, bad = 0, t0 = parallel.monotonic(), now = math.floor(os.time() * 1000),
    }
end

-- The helpers' CPU for a stage, added as is.
local function add_cpu(c, stage_name, secs)
    if c.timing then c.timing[stage_name] = (c.timing[stage_name] or 0) + secs end
end

-- Wall time this thread spent on a stage since t1 (every time, not sampled).
local function add_time(c, stage_name, t1)
    if t1 then c.here[stage_name] = (c.here[stage_name] or 0) + math.max(0, wall() - t1 - c.overhead) end
end

-- Whether line c.n is one of the sampled.
local function sampled(c) return c.timing and c.n % SAMPLE == 0 end

-- A sampled line's stage: what the clock read since t1, less one reading.
local function add_sample(c, stage_name, t1)
    local t = c.per_line
    t[stage_name] = (t[stage_name] or 0) + math.max(0, wall() - t1 - c.overhead)
end

-- Line c.n through the pipeline: a the attempt and body_or_why the decoded
-- line, or a nil and body_or_why why the line was refused. Returns the API's
-- answer, or nil for a refused line.
local function analyze_one(c, a, body_or_why)
    -- Writes commit in groups of 1000 lines: reads see the group's own
    -- writes, so results are the same as one commit per attempt.
    if c.n % 1000 == 0 then
        local t1 = c.timing and wall()
        assert(c.db:batch_end()); assert(c.db:batch_begin())
        add_time(c, "store write", t1)
    end
    local resp
    if not a then
        c.bad = c.bad + 1
        io.stderr:write(string.format("%s%s:%d: %s\n", c.tty and "\n" or "", c.o.input, c.n, body_or_why))
    else
        local timed = sampled(c)
        if timed then c.sampled_good = c.sampled_good + 1 end
        local r = analyze.analyze(a, c.deps, timed and c.timed_opts or c.opts)
        resp = login.response(r)
        if c.h.result then c.h.result(body_or_why, resp, c.n, r) end
    end
    if c.tty and c.n % 1000 == 0 then progress(c.n, c.total, c.t0) end
    return resp
end

-- Everything on this thread.
local function run_here(c)
    local h, buf, nbuf = c.h, {}, 0
    for line in c.inf:lines() do
        c.n = c.n + 1
        local timed = sampled(c)
        local t1 = timed and wall()
        local a, body = stage.parse(line, h.check, c.now)
        if timed then c.sampled = c.sampled + 1; add_sample(c, "parsing", t1) end
        local resp = analyze_one(c, a, body)
        if resp and h.write then
            t1 = timed and wall()
            nbuf = nbuf + 1
            buf[nbuf] = stage.line(body, resp)
            if timed then add_sample(c, "output", t1) end
            if nbuf == 512 then   -- once per 512 lines: timed every time, not sampled
                t1 = c.timing and wall()
                h.write(table.concat(buf, "\n", 1, nbuf))
                nbuf = 0
                add_time(c, "output", t1)
            end
        end
    end
    if nbuf > 0 then h.write(table.concat(buf, "\n", 1, nbuf)) end
    return true
end

-- Parsing and encoding on helper threads, chunk by chunk, the pipeline here
-- in the order of the file. Chunk k goes to helper (k - 1) % n + 1 of each
-- stage, whose answers come back in the order sent.
local function run_parallel(c, nthreads)
    local h = c.h
    local P = parallel.start("lib.replay_stage", nthreads)
    if not P then return nil end   -- no helpers here (riskd.so in busted): on this thread
    local E = h.write and assert(parallel.start("lib.replay_stage", nthreads))
    local sent, done, enc_sent, enc_recv = 0, 0, 0, 0
    local function send_next()
        local lines = {}
        for line in c.inf:lines() do
            lines[#lines + 1] = line
            if #lines == CHUNK then break end
        end
        if #lines == 0 then return end
        sent = sent + 1
        local t1 = c.timing and clock()
        P:send((sent - 1) % nthreads + 1, { op = "parse", lines = lines, check = h.check, now = c.now })
        if t1 then add_cpu(c, "hand-off", clock() - t1) end
    end
    local function take_output()
        enc_recv = enc_recv + 1
        local t1 = c.timing and clock()
        local res = assert(E:recv((enc_recv - 1) % nthreads + 1))
        if t1 then add_cpu(c, "hand-off", clock() - t1) end
        add_cpu(c, "output", res.cpu)
        if res.text ~= "" then h.write(res.text) end
    end
    for _ = 1, 2 * nthreads do send_next() end
    while done < sent do
        done = done + 1
        local t1 = c.timing and clock()
        local res = assert(P:recv((done - 1) % nthreads + 1))
        if t1 then add_cpu(c, "hand-off", clock() - t1) end
        add_cpu(c, "parsing", res.cpu)
        send_next()
        local outs = {}
        for _, it in ipairs(res.items) do
            c.n = c.n + 1
            local resp = analyze_one(c, it.a, it.a and it.body or it.bad)
            if resp and E then outs[#outs + 1] = { it.body, resp } end
        end
        if E then
            enc_sent = enc_sent + 1
            t1 = c.timing and clock()
            E:send((enc_sent - 1) % nthreads + 1, { op = "encode", items = outs })
            if t1 then add_cpu(c, "hand-off", clock() - t1) end
            while enc_sent - enc_recv > 2 * nthreads do take_output() end
        end
    end
    while enc_recv < enc_sent do take_output() end
    P:close()
    if E then E:close() end
    return true
end

-- Replays o.input (o.db: the store, o.explain, o.timing, o.threads: helper
-- threads per stage, 0 for none, nil for M.default_threads()). h says what
-- to do with each good line:
--   h.check: the name of an extra check in lib.replay_stage's checks;
--   h.result(body, response, line_number, full): called on this thread in
--     the order of the file, with the decoded line, the API's answer and the
--     pipeline's full result;
--   h.write(text): output lines (the input's fields with the answer's),
--     joined by "\n", in the order of the file.
-- Bad lines are reported on stderr as "FILE:LINE: why". Returns the counts
-- { lines, bad, seconds (wall clock), timing (CPU seconds per stage) } or
-- nil, error.
function M.run(o, h)
    local c, err = context(o, h)
    if not c then return nil, err end
    local nthreads = o.threads or M.default_threads()
    assert(c.db:batch_begin())
    local ok, rerr
    local cpu0 = c.timing and clock()
    if nthreads > 0 then ok, rerr = run_parallel(c, nthreads) end
    if not ok and not rerr then ok, rerr = run_here(c) end
    local cpu = c.timing and clock() - cpu0   -- this thread's CPU over the run
    c.inf:close()
    if not ok then c.db:close() return nil, rerr end
    assert(c.db:batch_end())
    -- the calibration as the run left it, for the server that opens this
    -- store next: history replayed before going live spares it the warm-up
    if kept(o.db) then
        local put, perr = c.db:state_put(calib.STATE_KEY, c.deps.calib:encode())
        if not put then c.db:close() return nil, perr end
    end
    if keeps_rates(c.db, o.db) then
        local put, perr = c.db:state_put(rates.STATE_KEY, rates.encode())
        if not put then c.db:close() return nil, perr end
    end
    c.db:close()
    if c.tty then progress(c.n, c.total, c.t0) io.stderr:write("\n") end
    if c.timing then
        -- this thread's stages: the sampled lines' scaled up to every line,
        -- then all of them to the thread's CPU time
        local good = c.n - c.bad
        for k, v in pairs(c.timed_opts.timing) do c.per_line[k] = (c.per_line[k] or 0) + v end
        for k, v in pairs(c.per_line) do
            local scale = k == "parsing" and c.n / math.max(1, c.sampled) or good / math.max(1, c.sampled_good)
            c.here[k] = (c.here[k] or 0) + v * scale
        end
        local seen = 0
        for _, v in pairs(c.here) do seen = seen + v end
        -- (hand-offs were timed on the CPU clock: they wait for the helpers)
        local to_cpu = seen > 0 and math.max(0, cpu - (c.timing["hand-off"] or 0)) / seen or 0
        for k, v in pairs(c.here) do c.timing[k] = (c.timing[k] or 0) + v * to_cpu end
    end
    return { lines = c.n, bad = c.bad, seconds = parallel.monotonic() - c.t0, timing = c.timing }
end

-- The stages that run on the pipeline's thread in the order of the file
-- (everything but reading and writing lines, which helpers can take).
M.SEQUENTIAL = { ["store reads"] = true, features = true, forest = true, rules = true, combine = true,
                 ["store write"] = true, ["hand-off"] = true }

-- Where the time went (--timing), on stderr: each stage, then the share of
-- the stages that must run one after another in the order of the file, and
-- what Amdahl's law makes of it with more cores (a projection, not a
-- measurement: it assumes the other stages spread perfectly).
function M.report_timing(timing, attempts)
    local total_t, seq_t, names = 0, 0, {}
    for k, v in pairs(timing) do
        total_t = total_t + v
        if M.SEQUENTIAL[k] then seq_t = seq_t + v end
        names[#names + 1] = k
    end
    table.sort(names, function(x, y) return timing[x] > timing[y] end)
    local per = 1e6 / math.max(1, attempts)
    for _, k in ipairs(names) do
        io.stderr:write(string.format("  %-12s %6.1f us per attempt  %5.1f %%\n", k, timing[k] * per, 100 * timing[k] / total_t))
    end
    if total_t <= 0 then return end
    local s = seq_t / total_t
    io.stderr:write(string.format("  sequential stages (file order, one thread): %.1f of %.1f us per attempt (%.1f %%)\n",
        seq_t * per, total_t * per, 100 * s))
    if timing["hand-off"] then
        -- with helpers the total holds their CPU and the hand-offs: no
        -- one-core time to project from, but the pipeline's thread bounds it
        io.stderr:write(string.format("  the pipeline's thread bounds the rate at %.0f/s, whatever the cores\n", 1e6 / (seq_t * per)))
        return
    end
    local proj = {}
    for _, n in ipairs({ 2, 16, 64 }) do
        proj[#proj + 1] = string.format("%d cores %.0f/s", n, 1e6 / (total_t * per * (s + (1 - s) / n)))
    end
    io.stderr:write("  Amdahl projection (not measured): " .. table.concat(proj, ", ") .. "\n")
end

return M
