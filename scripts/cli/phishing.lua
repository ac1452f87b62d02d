-- cli/phishing.lua — `riskd phishing train` and `riskd phishing score`.
--
--   riskd phishing train --phishing PATH --legitimate PATH --model OUT.model
--                        [--holdout 0.2] [--seed N] [--epochs N]
--   riskd phishing train --manifest CORPUS/manifest.jsonl --model OUT.model
--                        [--strip-headers] [--note TEXT]
--   riskd phishing train --input FILE.csv --label COL --text COL --model OUT.model
--       PATH: an mbox file, a maildir or a folder of .eml files. Each message
--       goes through the same parsing and indicators as an analysis; a
--       held-out part (every message whose seeded draw falls under
--       --holdout) measures ROC AUC, precision, recall and F1 at 0.5, printed
--       and kept in the model file. The model is trained on the rest, then
--       saved (checked, versioned); copy it to models/phishing.model to make
--       it live (the server picks it up within a second).
--       CSV: a header row; the label column holds 1/0, true/false,
--       phishing/legitimate or spam/ham.
--       Manifest: one JSON object per line, {file, label, source, date_year,
--       sha256, "repo@commit"}, files relative to the manifest. The held-out
--       fifth is fixed by each message's sha256 (lib/mailcorpus.lua), the same for
--       every run and for the benchmark; its ROC AUC is kept per source and
--       era, with the sources and counts as the model's provenance.
--       --strip-headers drops the headers that date a message or say where
--       it was kept (Date, Received, X-*, List-*, DKIM/ARC...) first: a
--       model should not depend on them. --phishing/--legitimate PATH
--       beside --manifest add training mail that is never held out.
--       --leave-out SOURCE trains without that source's messages at all
--       (leave-one-source-out evaluation, bench/phishing_corpus.py).
--
--   riskd phishing score --input PATH [--model M] [--output FILE]
--       One JSON line per message: {"source","score","verdict","reasons",...}
--       through the full analysis (model and the rules of rules/phishing/).
--       --features adds every indicator that fired on the message or one of
--       its links ("features") and the rules that fired ("rules").
--       A message that cannot be read or parsed is reported on stderr and
--       counted, never fatal.
local cjson = require("cjson")
local cliargs = require("lib.cliargs")
local corpus = require("lib.mailcorpus")
local phishing = require("lib.phishing")
local response = require("lib.response")
local ph = require("riskd.phishing")
local rules = require("riskd.rules")
local iforest = require("riskd.iforest")

local TRAIN = {
    phishing = { kind = "str" }, legitimate = { kind = "str" }, model = { kind = "str" },
    input = { kind = "str" }, label = { kind = "str" }, text = { kind = "str" },
    holdout = { kind = "num", default = 0.2, min = 0, max = 0.9 }, seed = { kind = "int", default = 1 },
    epochs = { kind = "int", default = 6, min = 1, max = 100 },
    manifest = { kind = "str" }, strip_headers = { kind = "flag", default = false }, note = { kind = "str" },
    leave_out = { kind = "str" },
}
local TRAIN_USAGE = "usage: riskd phishing train --phishing PATH --legitimate PATH --model OUT.model [--holdout R] [--seed N] [--epochs N]\n" ..
                    "       riskd phishing train --manifest CORPUS/manifest.jsonl --model OUT.model [--strip-headers] [--leave-out SOURCE] [--note TEXT]\n" ..
                    "       riskd phishing train --input FILE.csv --label COL --text COL --model OUT.model [--holdout R]\n"
local SCORE = { input = { kind = "str" }, model = { kind = "str" }, output = { kind = "str", default = "-" },
                features = { kind = "flag", default = false } }
local SCORE_USAGE = "usage: riskd phishing score --input PATH [--model M] [--output FILE] [--features]\n"

local M = {}

local function deps_for(model)
    return { phishing = ph, rules = rules, config = rules.config("phishing"), model = model }
end

-- The features of one raw message: text, dense (the indicators), or nil, why.
local function features_of(raw, cfg)
    local msg, err = ph.parse(raw)
    if not msg then return nil, err end
    local a = ph.analyze(phishing.indicator_config(ph, cfg), msg)
    return a.body, a.dense
end

-- Metrics of scores against labels at threshold 0.5.
function M.metrics(scores, labels)
    local tp, fp, fn = 0, 0, 0
    for i, s in ipairs(scores) do
        local p, y = s >= 0.5, labels[i] == 1
        if p and y then tp = tp + 1 elseif p then fp = fp + 1 elseif y then fn = fn + 1 end
    end
    local precision = tp + fp > 0 and tp / (tp + fp) or 0
    local recall = tp + fn > 0 and tp / (tp + fn) or 0
    local f1 = precision + recall > 0 and 2 * precision * recall / (precision + recall) or 0
    return { auc = iforest.auc(scores, labels) or 0, precision = precision, recall = recall, f1 = f1, n = #scores }
end

-- A CSV reader for the corpus (quoted fields, doubled quotes, newlines in quotes).
local function csv_rows(path)
    local f, err = io.open(path, "rb")
    if not f then return nil, err end
    local data = f:read("a")
    f:close()
    local rows, row, field, i, n, q = {}, {}, {}, 1, #data, false
    while i <= n do
        local c = data:sub(i, i)
        if q then
            if c == '"' then
                if data:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1 else q = false end
            else field[#field + 1] = c end
        elseif c == '"' then q = true
        elseif c == "," then row[#row + 1] = table.concat(field); field = {}
        elseif c == "\n" or c == "\r" then
            if c == "\r" and data:sub(i + 1, i + 1) == "\n" then i = i + 1 end
            row[#row + 1] = table.concat(field); field = {}
            rows[#rows + 1] = row; row = {}
        else field[#field + 1] = c end
        i = i + 1
    end
    if #field > 0 or #row > 0 then row[#row + 1] = table.concat(field); rows[#rows + 1] = row end
    return rows
end

local POSITIVE = { ["1"] = true, ["true"] = true, phishing = true, phish = true, spam = true, yes = true }

-- Calls add(text, dense, label, source, entry) for every message of path
-- (an mbox, a maildir, a folder of .eml files); returns the count of the
-- unreadable ones (reported on stderr), or nil, err.
local function each_message(path, label, cfg, add, entry)
    local it, err = ph.messages(path)
    if not it then return nil, err end
    local bad = 0
    for raw, source, why in it do
        local text, dense
        if raw then text, dense = features_of(raw, cfg) end
        if text then add(text, dense, label, source, entry)
        else bad = bad + 1; io.stderr:write("riskd phishing: ", raw and (source .. ": " .. dense) or why, "\n") end
    end
    return bad
end

-- Calls add(text, dense, label, source[, entry]) for every example;
-- returns the count of bad ones, or nil, err.
local function each_example(o, cfg, add)
    local bad = 0
    if o.manifest then
        local entries, err = corpus.read_manifest(o.manifest)
        if not entries then return nil, err end
        local function one(e)
            local f = io.open(e.path, "rb")
            local raw = f and f:read("a")
            if f then f:close() end
            local text, dense
            if raw then text, dense = features_of(o.strip_headers and corpus.strip_headers(raw) or raw, cfg) end
            if text then add(text, dense, e.label, e.path, e)
            else bad = bad + 1; io.stderr:write("riskd phishing: ", e.path, ": ", dense or "unreadable", "\n") end
        end
        for _, e in ipairs(entries) do
            if e.source ~= o.leave_out then one(e) end
        end
        -- --phishing/--legitimate beside a manifest: more training mail
        -- (generated, say), never held out
        for _, which in ipairs({ { o.phishing, 1 }, { o.legitimate, 0 } }) do
            if which[1] then
                local n, merr = each_message(which[1], which[2], cfg, add,
                                             { augment = true, source = which[2] == 1 and "extra_phishing" or "extra_legitimate",
                                               label = which[2], origin = which[1]:match("[^/]*$") })
                if not n then return nil, merr end
                bad = bad + n
            end
        end
        return bad
    end
    if o.input then
        local rows, err = csv_rows(o.input)
        if not rows then return nil, err end
        local head = rows[1] or {}
        local li, ti
        for i, h in ipairs(head) do if h == o.label then li = i end if h == o.text then ti = i end end
        if not li or not ti then return nil, "the CSV has no column " .. (li and o.text or o.label) end
        for r = 2, #rows do
            local row = rows[r]
            if row[li] and row[ti] then
                local a = ph.analyze(phishing.indicator_config(ph, cfg), { text = row[ti] })
                add(a.body, a.dense, POSITIVE[row[li]:lower()] and 1 or 0, o.input .. ":" .. r)
            else
                bad = bad + 1
            end
        end
        return bad
    end
    for _, which in ipairs({ { o.phishing, 1 }, { o.legitimate, 0 } }) do
        local n, err = each_message(which[1], which[2], cfg, add)
        if not n then return nil, err end
        bad = bad + n
    end
    return bad
end

local function provenance(o, counts, origins, n_train, n_held)
    local parts = {}
    local srcs = {}
    for src in pairs(counts) do srcs[#srcs + 1] = src end
    table.sort(srcs)
    for _, src in ipairs(srcs) do
        local c = counts[src]
        parts[#parts + 1] = string.format("%s: %d %s (%s)", src, c.n, c.label == 1 and "phishing" or "legitimate",
            origins[src] or "?")
    end
    return string.format("Trained on %d messages of %s, %d more held out by sha256 (every fifth); sources: %s.%s",
        n_train, o.manifest, n_held, table.concat(parts, "; "), o.note and (" " .. o.note) or "")
end

function M.train(args)
    local o, err = cliargs.parse(args, TRAIN)
    if not o then return cliargs.fail("phishing train", err, TRAIN_USAGE) end
    if not o.model or not ((o.phishing and o.legitimate) or (o.input and o.label and o.text) or o.manifest) then
        return cliargs.fail("phishing train", "--model and either --phishing and --legitimate, --manifest, or --input, --label and --text are needed", TRAIN_USAGE)
    end
    local cfg = rules.config("phishing")
    local t0 = os.clock()
    local trainer = ph.trainer()
    local held = { texts = {}, dense = {}, labels = {}, meta = {} }
    local counts, origins = {}, {}
    math.randomseed(o.seed)
    local n, pos = 0, 0
    local bad, eerr = each_example(o, cfg, function(text, dense, label, _, entry)
        n = n + 1
        pos = pos + label
        local out
        if entry and entry.augment then
            out = false
            local c = counts[entry.source] or { n = 0, label = entry.label }
            c.n = c.n + 1
            counts[entry.source] = c
            origins[entry.source] = entry.origin
        elseif entry then
            out = corpus.heldout(entry.sha256)
            local c = counts[entry.source] or { n = 0, label = entry.label }
            c.n = c.n + 1
            counts[entry.source] = c
            origins[entry.source] = origins[entry.source] or (entry.origin and entry.origin:gsub("(@%x%x%x%x%x%x%x%x%x%x%x%x)%x+", "%1"))
        else
            out = math.random() < o.holdout
        end
        if out then
            local k = #held.labels + 1
            held.texts[k], held.dense[k], held.labels[k] = text, dense, label
            held.meta[k] = entry and { source = entry.source, year = entry.year, label = entry.label } or nil
        else
            trainer:add(text, dense, label)
        end
    end)
    if not bad then io.stderr:write("riskd phishing train: ", eerr, "\n") return 1 end
    local model, terr = trainer:train({ epochs = o.epochs, seed = o.seed })
    if not model then io.stderr:write("riskd phishing train: ", terr, "\n") return 1 end
    local scores = {}
    for i, text in ipairs(held.texts) do scores[i] = model:score(text, held.dense[i]) end
    local m = #scores > 0 and M.metrics(scores, held.labels) or nil
    if m then
        for _, k in ipairs({ "auc", "precision", "recall", "f1" }) do model:set_metric(k, m[k]) end
        model:set_metric("heldout", m.n)
    end
    model:set_metric("examples", trainer:count())
    local slices = o.manifest and #scores > 0 and corpus.slices(scores, held.labels, held.meta) or {}
    for _, sl in ipairs(slices) do model:set_metric(sl.name, sl.auc) end
    if o.manifest then model:set_provenance(provenance(o, counts, origins, trainer:count(), #scores)) end
    local ok, serr = model:save(o.model)
    if not ok then io.stderr:write("riskd phishing train: ", serr, "\n") return 1 end
    io.stdout:write(string.format("trained on %d messages (%d phishing), %d held out, %d unreadable, in %.1f s\n",
        trainer:count(), pos, #scores, bad, os.clock() - t0))
    if m then
        io.stdout:write(string.format("held-out: ROC AUC %.4f  precision %.4f  recall %.4f  F1 %.4f\n", m.auc, m.precision, m.recall, m.f1))
    end
    for _, sl in ipairs(slices) do
        if sl.name ~= "auc" then io.stdout:write(string.format("held-out %-36s ROC AUC %.4f (%d messages)\n", sl.name, sl.auc, sl.n)) end
    end
    io.stdout:write("model written to ", o.model, "\n")
    return 0
end

function M.score(args)
    local o, err = cliargs.parse(args, SCORE)
    if not o or not o.input then return cliargs.fail("phishing score", err or "--input is required", SCORE_USAGE) end
    local model, merr
    if o.model then model, merr = ph.load(o.model) else model, merr = ph.current() end
    if o.model and not model then io.stderr:write("riskd phishing score: ", merr, "\n") return 1 end
    local it, ierr = ph.messages(o.input)
    if not it then io.stderr:write("riskd phishing score: ", ierr, "\n") return 1 end
    local out = io.stdout
    if o.output ~= "-" then
        local oerr
        out, oerr = io.open(o.output, "wb")
        if not out then io.stderr:write("riskd phishing score: ", oerr, "\n") return 1 end
    end
    local d = deps_for(model)
    local n, bad, t0 = 0, 0, os.clock()
    for raw, source, why in it do
        local msg, perr
        if raw then msg, perr = ph.parse(raw) end
        if not msg then
            bad = bad + 1
            io.stderr:write("riskd phishing score: ", source, ": ", raw and perr or why, "\n")
        else
            n = n + 1
            local r = phishing.analyze(msg, d)
            local line = {
                source = source, score = r.score, verdict = r.verdict, reasons = response.array(r.reasons),
                model_score = r.model_score or cjson.null, indicators = response.array(r.indicators),
                subject = r.subject, from = r.from,
            }
            if o.features then
                local f, names = {}, {}
                for _, k in ipairs(r.indicators) do f[k] = true end
                for _, u in ipairs(r.urls) do for _, k in ipairs(u.indicators) do f[k] = true end end
                for k in pairs(f) do names[#names + 1] = k end
                table.sort(names)
                line.features = response.array(names)
                local rs = {}
                for i, x in ipairs(r.rules) do rs[i] = x.name end
                line.rules = response.array(rs)
            end
            out:write(response.fix_empty(cjson.encode(line)), "\n")
        end
    end
    if out ~= io.stdout then out:close() end
    local secs = os.clock() - t0
    io.stderr:write(string.format("riskd phishing score: %d messages in %.1f s (%.0f/s), %d bad%s\n", n, secs,
        secs > 0 and n / secs or 0, bad, model and "" or " (no model: rules only)"))
    return 0
end

return function(sub, ...)
    if sub == "train" then return M.train({ ... }) end
    if sub == "score" then return M.score({ ... }) end
    io.stderr:write("usage: riskd phishing train|score ...\n", TRAIN_USAGE, SCORE_USAGE)
    return 2
end
