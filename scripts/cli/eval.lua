-- cli/eval.lua — `riskd eval --input FILE.jsonl [--db URI] [--fpr 0.01]
-- [--json]`: the detection benchmark. Replays labelled attempts (a "label"
-- field: "normal" or the attack kind, as `riskd generate` writes them) in
-- the order of the file through the full pipeline (lib/replay.lua, the
-- same as `riskd score` and the API), and ranks them two ways: by riskd's
-- risk score, and by a reference detector on the same attempts — Freeman
-- et al.'s familiarity score alone (NDSS 2016; add-one smoothing, back-off
-- to the global frequencies; lib/analyze.lua M.familiarity, computed from
-- the profile and global counts before each attempt). Prints, side by side:
-- ROC AUC, the true-positive rate per attack kind at the false-positive rate
-- --fpr (the score above which that share of legitimate attempts lies) and
-- its mean over the kinds present, and the share of legitimate attempts
-- riskd alerts on (at or above config alert_level).
--
-- --warm-up DAYS: the attempts of the file's first DAYS days (from its
-- earliest timestamp) are replayed, so that profiles, site rates and the
-- calibration learn from them, but not judged: what a site sees once riskd
-- has the history it would replay before going live. The figures of the
-- whole file, warm-up included, are printed beside them (whole_file).
local cliargs = require("lib.cliargs")
local replay = require("lib.replay")
local analyze = require("lib.analyze")
local training = require("lib.training")
local iforest = require("riskd.iforest")
local rules = require("riskd.rules")
local time = require("lib.time")

local SPEC = {
    input = { kind = "str" },
    db = { kind = "str", default = "mem:" },
    fpr = { kind = "num", default = 0.01, min = 0.0001, max = 0.5 },
    json = { kind = "flag", default = false },
    threads = { kind = "int", min = 0, max = 64 },
    warm_up = { kind = "num", default = 0, min = 0, max = 3650 },
}
local USAGE = "usage: riskd eval --input FILE.jsonl [--db URI] [--fpr 0.01] [--json] [--threads N]\n"
    .. "       [--warm-up DAYS]\n"

-- Per detector: AUC over all attempts, TPR at the FPR per kind, their mean.
local function measure(labels, scores, kinds, fpr)
    local y, normal = {}, {}
    for i, l in ipairs(labels) do
        y[i] = l == "normal" and 0 or 1
        if l == "normal" then normal[#normal + 1] = scores[i] end
    end
    table.sort(normal, function(a, b) return a > b end)
    local m = { auc = iforest.auc(scores, y), kinds = {} }
    local sum, n = 0, 0
    for _, kind in ipairs(kinds) do
        local att = {}
        for i, l in ipairs(labels) do if l == kind then att[#att + 1] = scores[i] end end
        local tpr = training.tpr_at(normal, att, fpr)
        m.kinds[kind] = { n = #att, tpr = tpr }
        sum, n = sum + tpr, n + 1
    end
    m.mean_tpr = n > 0 and sum / n or 0
    return m
end

-- The figures over the attempts at the indexes `which`: nil when they lack
-- legitimate or attack attempts; else the result table, the attack kinds,
-- the count per label and the legitimate attempts alerted on.
local function judge(which, labels, risk, ref, alerted, fpr)
    local l, r, f, counts, kinds, legit, legit_alerts = {}, {}, {}, {}, {}, 0, 0
    for k, i in ipairs(which) do
        l[k], r[k], f[k] = labels[i], risk[i], ref[i]
        if not counts[l[k]] then counts[l[k]] = 0; if l[k] ~= "normal" then kinds[#kinds + 1] = l[k] end end
        counts[l[k]] = counts[l[k]] + 1
        if l[k] == "normal" then legit = legit + 1; if alerted[i] then legit_alerts = legit_alerts + 1 end end
    end
    table.sort(kinds)
    if legit == 0 or #kinds == 0 then return nil end
    return { judged = #which, legitimate = legit, fpr = fpr, riskd = measure(l, r, kinds, fpr), reference = measure(l, f, kinds, fpr),
             legit_alert_rate = legit_alerts / legit }, kinds, counts, legit_alerts
end

return function(...)
    local o, err = cliargs.parse({ ... }, SPEC)
    if not o or not o.input then return cliargs.fail("eval", err or "--input is required", USAGE) end
    o.reference = true
    local labels, risk, ref, alerted = {}, {}, {}, {}
    local alert_rank = analyze.LEVEL_RANK[rules.config().alert_level or "high"]
    local times = {}
    local c, rerr = replay.run(o, { check = "label", result = function(body, r, _, full)
        local i = #labels + 1
        labels[i], risk[i], ref[i] = body.label, r.risk_score, full.familiarity or 0
        times[i] = time.parse(r.timestamp) or 0
        alerted[i] = analyze.LEVEL_RANK[r.risk_level] >= alert_rank
    end })
    if not c then io.stderr:write("riskd eval: ", rerr, "\n") return 1 end
    local first = math.huge
    for _, ts in ipairs(times) do if ts < first then first = ts end end
    local judged = {}
    for i, ts in ipairs(times) do
        if ts >= first + o.warm_up * 86400000 then judged[#judged + 1] = i end
    end
    local result, kinds, counts, legit_alerts = judge(judged, labels, risk, ref, alerted, o.fpr)
    if not result then
        io.stderr:write("riskd eval: the judged attempts need both legitimate (label \"normal\") and attack attempts\n")
        return 1
    end
    result.attempts, result.bad_lines, result.seconds, result.warm_up_days = #labels, c.bad, c.seconds, o.warm_up
    if o.warm_up > 0 then
        local all = {}
        for i = 1, #labels do all[i] = i end
        result.whole_file = judge(all, labels, risk, ref, alerted, o.fpr)
    end
    if o.json then
        io.stdout:write(replay.json.encode(result), "\n")
    else
        local pct = string.format("%g %%", o.fpr * 100)
        print(string.format("%d attempts, %d bad lines, %.1f s", #labels, c.bad, c.seconds))
        if o.warm_up > 0 then
            print(string.format("judged after a warm-up of %g days: %d attempts (%d legitimate, %d attacks of %d kinds)",
                o.warm_up, result.judged, result.legitimate, result.judged - result.legitimate, #kinds))
        else
            print(string.format("judged: %d legitimate, %d attacks of %d kinds", result.legitimate, result.judged - result.legitimate, #kinds))
        end
        print(string.format("%-26s %8s %22s", "", "riskd", "familiarity reference"))
        print(string.format("%-26s %8.3f %22.3f", "ROC AUC", result.riskd.auc or 0, result.reference.auc or 0))
        print(string.format("TPR at %s FPR, per kind:", pct))
        for _, k in ipairs(kinds) do
            print(string.format("  %-24s %8.3f %22.3f   (n = %d)", k, result.riskd.kinds[k].tpr, result.reference.kinds[k].tpr, counts[k]))
        end
        print(string.format("%-26s %8.3f %22.3f", "  mean over kinds", result.riskd.mean_tpr, result.reference.mean_tpr))
        print(string.format("alerts on legitimate attempts: %.2f %% (%d of %d)", 100 * result.legit_alert_rate, legit_alerts,
            result.legitimate))
        local w = result.whole_file
        if w then
            print(string.format("the whole file, warm-up included: ROC AUC %.3f, mean TPR %.3f, alerts on legitimate attempts %.2f %%",
                w.riskd.auc or 0, w.riskd.mean_tpr, 100 * w.legit_alert_rate))
        end
    end
    return c.bad > 0 and 1 or 0
end
