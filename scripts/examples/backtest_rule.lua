-- examples/backtest_rule.lua — replay a file through a candidate rule and see
-- how the alerts would change before deploying it:
--   riskd run scripts/examples/backtest_rule.lua ATTEMPTS.jsonl CANDIDATE.lua
-- ATTEMPTS.jsonl: lines as POST /api/login/analyze takes them, with an
-- optional "label" ("normal" or an attack kind, as `riskd generate` writes).
-- CANDIDATE.lua: a rule file like those in rules/ (it may replace one of the
-- same name). Both rule sets run on the same replay (an in-memory store), and
-- the report counts alerts with and without the candidate, by label.
local analyze = require("lib.analyze")
local login = require("api.login")
local time = require("lib.time")
local cjson = require("cjson")
local rules = require("riskd.rules")

local attempts_path, candidate_path = ...
if not attempts_path or not candidate_path then
    io.stderr:write("usage: riskd run scripts/examples/backtest_rule.lua ATTEMPTS.jsonl CANDIDATE.lua\n")
    return 2
end

-- The live rule set, and the same folder with the candidate file added (or
-- in place of the file of that name), both loaded as the server loads rules:
-- the same sandbox, read-only config and ctx, and budgets.
local cfg = rules.config()
local f = assert(io.open(candidate_path, "rb"))
local source = f:read("a")
f:close()
local candidate_file = candidate_path:match("([^/]+)$")
local with = assert(rules.load(require("riskd.engine").config().rules, { [candidate_file] = source }))
for _, b in ipairs(with:broken()) do
    if b.file == candidate_file then error("the candidate does not load: " .. b.error, 0) end
end
local candidate = { name = candidate_file }
for _, r in ipairs(with:list()) do if r.file == candidate_file then candidate.name = r.name end end

local function replay(rule_set)
    local db = assert(require("riskd.store").open("mem:"))
    local deps = { store = db, model = require("riskd.iforest").current(), rules = rule_set,
                   features = require("riskd.features"), config = cfg, format_time = time.format }
    local alert_rank = analyze.LEVEL_RANK[cfg.alert_level or "high"]
    local by_label = {}
    for line in assert(io.open(attempts_path)):lines() do
        local body = cjson.decode(line)
        local label = body.label or "unlabelled"
        local a = login.attempt(body, math.floor(os.time() * 1000))
        if a then
            local r = analyze.analyze(a, deps)
            local b = by_label[label] or { n = 0, alerts = 0 }
            by_label[label] = b
            b.n = b.n + 1
            if analyze.LEVEL_RANK[r.risk_level] >= alert_rank then b.alerts = b.alerts + 1 end
        end
    end
    db:close()
    return by_label
end

local before, after = replay(rules), replay(with)
print(string.format("candidate rule %q: attempts at or above %s", candidate.name, cfg.alert_level or "high"))
print(string.format("%-22s %8s %10s %10s %8s", "label", "attempts", "without", "with", "change"))
local labels = {}
for l in pairs(before) do labels[#labels + 1] = l end
table.sort(labels)
for _, l in ipairs(labels) do
    local b, a = before[l], after[l] or { alerts = 0 }
    print(string.format("%-22s %8d %10d %10d %+8d", l, b.n, b.alerts, a.alerts, a.alerts - b.alerts))
end
return 0
