-- cli/score.lua — `riskd score --input FILE.jsonl [--output FILE.jsonl]
-- [--db URI] [--skip-bad] [--explain] [--timing] [--threads N]`: every attempt of a file through the
-- full pipeline, in the order of the file, as if each had been posted to
-- POST /api/login/analyze in that order: the same checks (the strict JSON
-- check, the field validation), the same profiles, global signals (users
-- per address, failures per user) and rules, the same answer. Profiles and
-- events live in the memory store (mem:, engine/store_mem.c) unless --db
-- names another (sqlite:PATH keeps them for the dashboard).
--
-- One output line per input line, in input order: the input's fields, the
-- unknown ones too, with the answer's fields added. A bad line is reported
-- on stderr with its number and skipped; their count ends the run, whose
-- status is 1 if there were any, unless --skip-bad. A progress line with
-- rate and ETA is drawn on a terminal only.
--
-- Reading lines (JSON check, decoding, validation) and writing them (JSON
-- encoding) run on helper threads, N per stage (--threads; by default the
-- cores beside the pipeline's, 0: none), while the pipeline runs on one
-- thread in the order of the file, which the results depend on: they are
-- the same with any N. --timing prints the CPU time per attempt of each stage.
local cliargs = require("lib.cliargs")
local replay = require("lib.replay")

local SPEC = {
    input = { kind = "str" },
    output = { kind = "str", default = "-" },
    db = { kind = "str", default = "mem:" },
    skip_bad = { kind = "flag", default = false },
    explain = { kind = "flag", default = false },
    timing = { kind = "flag", default = false },
    threads = { kind = "int", min = 0, max = 64 },
}
local USAGE = "usage: riskd score --input FILE.jsonl [--output FILE.jsonl] [--db URI] [--skip-bad] [--explain] [--timing]"
    .. " [--threads N]\n"

return function(...)
    local o, err = cliargs.parse({ ... }, SPEC)
    if not o or not o.input then return cliargs.fail("score", err or "--input is required", USAGE) end
    local probe, ierr = io.open(o.input, "rb")   -- before the output is truncated
    if not probe then io.stderr:write("riskd score: ", ierr, "\n") return 1 end
    probe:close()
    local out = io.stdout
    if o.output ~= "-" then
        local oerr
        out, oerr = io.open(o.output, "wb")
        if not out then io.stderr:write("riskd score: ", oerr, "\n") return 1 end
    end
    local c, rerr = replay.run(o, { write = function(text) out:write(text, "\n") end })
    if not c then io.stderr:write("riskd score: ", rerr, "\n") return 1 end
    if out ~= io.stdout then out:close() end
    local good = c.lines - c.bad
    io.stderr:write(string.format("riskd score: %d attempts in %.1f s (%.0f/s), %d bad line%s%s\n", good, c.seconds,
        c.seconds > 0 and good / c.seconds or 0, c.bad, c.bad == 1 and "" or "s", c.bad > 0 and o.skip_bad and " (skipped)" or ""))
    if c.timing then replay.report_timing(c.timing, good) end
    if c.bad > 0 and not o.skip_bad then return 1 end
    return 0
end
