-- lib/training.lua — what training and retraining share: the evaluation of
-- scores against labels (ROC AUC, precision, recall, F1, TPR at 1 % false
-- positives, per attack kind), its table, and a seeded synthetic benchmark
-- on which two models can be compared.
local analyze = require("lib.analyze")
local synth = require("lib.synth")
local time = require("lib.time")
local iforest = require("riskd.iforest")

local M = {}

-- The share of attacks scored above the threshold that lets the fraction
-- fpr of legitimate attempts through; normal_desc: their scores, highest
-- first. Ties at the threshold count as missed (no detector gets credit for
-- a plateau).
function M.tpr_at(normal_desc, attack_scores, fpr)
    local k = math.floor(#normal_desc * fpr)          -- normals allowed above the threshold
    local threshold = normal_desc[k + 1] or -math.huge
    local hit = 0
    for _, s in ipairs(attack_scores) do if s > threshold then hit = hit + 1 end end
    return #attack_scores > 0 and hit / #attack_scores or 0
end

local function ranked_tpr(normal_scores, attack_scores, fpr)
    table.sort(normal_scores, function(a, b) return a > b end)
    return M.tpr_at(normal_scores, attack_scores, fpr)
end

local function prf(tp, fp, fn)
    local p = tp + fp > 0 and tp / (tp + fp) or 0
    local r = tp + fn > 0 and tp / (tp + fn) or 0
    return p, r, p + r > 0 and 2 * p * r / (p + r) or 0
end

-- scores: { forest = {...}, pipeline = {...} }, flags: { forest = {...}, pipeline = {...} }, labels: kinds
function M.evaluate(labels, scores, flags)
    local m = {}
    for _, who in ipairs({ "forest", "pipeline" }) do
        local y, s, norm, att = {}, scores[who], {}, {}
        local tp, fp, fn = 0, 0, 0
        for i, l in ipairs(labels) do
            local bad = l ~= "normal"
            y[i] = bad and 1 or 0
            if bad then att[#att + 1] = s[i] else norm[#norm + 1] = s[i] end
            if flags[who][i] then if bad then tp = tp + 1 else fp = fp + 1 end elseif bad then fn = fn + 1 end
        end
        local p, r, f1 = prf(tp, fp, fn)
        m[who] = { auc = iforest.auc(s, y) or 0, precision = p, recall = r, f1 = f1,
                   tpr_at_1pct = ranked_tpr(norm, att, 0.01), kinds = {} }
        for _, kind in ipairs(synth.KINDS) do
            local ys, ss, hit, n = {}, {}, 0, 0
            for i, l in ipairs(labels) do
                if l == "normal" or l == kind then
                    ys[#ys + 1] = l == kind and 1 or 0
                    ss[#ss + 1] = s[i]
                    if l == kind then n = n + 1; if flags[who][i] then hit = hit + 1 end end
                end
            end
            m[who].kinds[kind] = { n = n, auc = n > 0 and iforest.auc(ss, ys) or nil, recall = n > 0 and hit / n or nil }
        end
    end
    return m
end

local function fmt(x) return x and string.format("%.3f", x) or "  -  " end

function M.report(m, counts)
    local out = {}
    local function say(...) out[#out + 1] = string.format(...) end
    say("held-out attempts: %d (%d attacks)", counts.n, counts.attacks)
    say("%-22s %8s %8s %8s %8s %8s", "", "ROC AUC", "prec.", "recall", "F1", "TPR@1%")
    for _, who in ipairs({ "forest", "pipeline" }) do
        local w = m[who]
        say("%-22s %8s %8s %8s %8s %8s", who == "forest" and "forest alone" or "full pipeline", fmt(w.auc),
            fmt(w.precision), fmt(w.recall), fmt(w.f1), fmt(w.tpr_at_1pct))
    end
    say("%-22s %6s %12s %12s %14s", "per attack kind", "n", "forest AUC", "pipe. AUC", "pipe. recall")
    for _, kind in ipairs(synth.KINDS) do
        local f, p = m.forest.kinds[kind], m.pipeline.kinds[kind]
        say("%-22s %6d %12s %12s %14s", kind, p.n, fmt(f.auc), fmt(p.auc), fmt(p.recall))
    end
    return table.concat(out, "\n")
end


-- The feature rows and labels of a seeded synthetic set replayed through
-- the pipeline (no model), for comparing models on the same attempts.
function M.benchmark(deps_base, seed)
    local store = require("riskd.store")
    local db = assert(store.open("mem:"))
    local deps = {}
    for k, v in pairs(deps_base) do deps[k] = v end
    deps.store, deps.model = db, nil
    local rows, labels = {}, {}
    local now = time.parse("2100-01-01T00:00:00Z")
    assert(db:batch_begin())
    local n = 0
    synth.generate({ users = 300, days = 14, seed = seed or 20261125, attack_rate = 0.05 }, function(day)
        for _, a in ipairs(day) do
            local att = analyze.validate(synth.body(a), now, time.parse)
            if att then
                local r = analyze.analyze(att, deps, { keep_row = true })
                n = n + 1
                rows[n], labels[n] = r.row, a.label ~= "normal" and 1 or 0
            end
        end
    end)
    assert(db:batch_end())
    db:close()
    return rows, labels
end

-- ROC AUC of a model on benchmark rows.
function M.auc(model, rows, labels)
    return iforest.auc(model:score_many(rows), labels)
end

return M
