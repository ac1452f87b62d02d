-- cli/retrain.lua — `riskd retrain`: a new login model from the events the
-- store holds, made live if it is not worse than the live one.
--
--   riskd retrain [--db URI] [--models DIR] [--since ISO-8601] [--limit N]
--                 [--margin M] [--trees N] [--seed N] [--status FILE]
--
-- 1. The legitimate stored events: every event since --since (newest
--    --limit of them), less those attached to an alert that was not
--    closed as a false positive (confirmed or still open attacks).
-- 2. A forest trained on their feature rows (stored with each event).
-- 3. Both the new and the live model scored on the same seeded synthetic
--    benchmark (lib/training.lua): ROC AUC each.
-- 4. The new model is saved as models/login-<UTC time>.model with its
--    metrics, and activated (models/ACTIVE; a running server swaps it in
--    without a restart) unless its AUC is below the live one's by more than
--    --margin: then it is kept, not activated, and the answer says why.
-- The result is printed as JSON (and written to --status FILE, for the
-- server's POST /api/admin/model/retrain, which runs this command).
local cjson = require("cjson")
local cliargs = require("lib.cliargs")
local time = require("lib.time")
local training = require("lib.training")
local features = require("riskd.features")
local iforest = require("riskd.iforest")
local models = require("riskd.models")
local rules = require("riskd.rules")
local store = require("riskd.store")

local SPEC = {
    db = { kind = "str", default = os.getenv("RISKD_DB") or "sqlite:data/riskd.db" },
    models = { kind = "str" },
    since = { kind = "str" },
    limit = { kind = "int", default = 200000, min = 100, max = 10000000 },
    margin = { kind = "num", default = 0.01, min = 0, max = 1 },
    trees = { kind = "int", default = 100, min = 1, max = 10000 },
    seed = { kind = "int", default = 1 },
    status = { kind = "str" },
}
local USAGE = "usage: riskd retrain [--db URI] [--models DIR] [--since ISO-8601] [--limit N] [--margin M]\n" ..
              "                     [--trees N] [--seed N] [--status FILE]\n"

local function write_status(path, doc)
    if not path then return end
    local tmp = path .. ".tmp"
    local f = assert(io.open(tmp, "w"))
    f:write(cjson.encode(doc))
    f:close()
    assert(os.rename(tmp, path))
end

local function finish(o, doc, code)
    write_status(o.status, doc)
    print(cjson.encode(doc))
    return code
end

-- Rows of the legitimate events, newest first, at most limit.
-- progress(rows_so_far) is called after every page read.
local function legit_rows(db, since, limit, progress)
    local rows, statuses, skipped = {}, {}, 0
    local page = 1
    while #rows < limit do
        local r, err = db:events({ since = since, page = page, per_page = 1000 })
        if not r then return nil, err end
        for _, e in ipairs(r.events) do
            local ok = type(e.features) == "table"
            if ok and e.alert_id then
                local st = statuses[e.alert_id]
                if st == nil then
                    local a = db:alert(e.alert_id)
                    st = a and a.status or "open"
                    statuses[e.alert_id] = st
                end
                ok = st == "false_positive"
            end
            if ok then
                local row = {}
                for i, name in ipairs(features.names) do row[i] = tonumber(e.features[name]) or 0 end
                rows[#rows + 1] = row
                if #rows >= limit then break end
            else
                skipped = skipped + 1
            end
        end
        if #r.events < 1000 then break end
        progress(#rows)
        page = page + 1
    end
    return rows, skipped
end

return function(...)
    local o, err = cliargs.parse({ ... }, SPEC)
    if not o then return cliargs.fail("retrain", err, USAGE) end
    o.models = o.models or models.dir()
    local started = time.format(math.floor(os.time() * 1000))
    -- Progress for the console (GET /api/admin/model/retrain/:job): the phase,
    -- and a fraction of the whole (reading the events is most of the time).
    local function running(phase, fraction, extra)
        local doc = { status = "running", started_at = started, phase = phase, progress = fraction }
        for k, v in pairs(extra or {}) do doc[k] = v end
        write_status(o.status, doc)
    end
    running("reading events", 0)
    local since = 0
    if o.since then
        since = time.parse(o.since)
        if not since then io.stderr:write("riskd retrain: --since must be ISO 8601\n", USAGE) return 2 end
    end
    local db, derr = store.open(o.db)
    if not db then return finish(o, { status = "failed", error = derr }, 1) end
    local rows, skipped = legit_rows(db, since, o.limit, function(n)
        running("reading events", 0.6 * math.min(1, n / o.limit), { rows = n })
    end)
    db:close()
    if not rows then return finish(o, { status = "failed", error = skipped }, 1) end
    if #rows < 100 then
        return finish(o, { status = "failed", error = string.format("only %d legitimate events with features: at least 100 are needed", #rows) }, 1)
    end
    running("training", 0.6, { rows = #rows })
    local model, merr = iforest.train(rows, { trees = o.trees, sample_size = math.min(256, #rows), seed = o.seed,
                                              names = features.names })
    if not model then return finish(o, { status = "failed", error = merr }, 1) end

    -- The same benchmark for the new and the live model.
    running("benchmarking against the live model", 0.75, { rows = #rows })
    local deps = { rules = rules, features = features, config = rules.config(), format_time = time.format }
    local brows, blabels = training.benchmark(deps)
    local new_auc = training.auc(model, brows, blabels)
    local live_path = models.active(o.models)
    local live = live_path and iforest.load(live_path, features.names)
    local live_auc = live and training.auc(live, brows, blabels)
    model:set_metric("benchmark_auc", new_auc)
    model:set_metric("train_rows", #rows)
    model:set_metric("excluded_events", skipped)
    local stamp = os.date("!%Y%m%dT%H%M%SZ")
    local file = "login-" .. stamp .. ".model"
    local ok, serr = model:save(o.models .. "/" .. file)
    if not ok then return finish(o, { status = "failed", error = serr }, 1) end

    local doc = { status = "done", progress = 1, started_at = started, finished_at = time.format(math.floor(os.time() * 1000)),
                  version = file, train_rows = #rows, excluded_events = skipped,
                  benchmark_auc = new_auc, live_version = live_path and live_path:match("[^/]+$") or cjson.null,
                  live_benchmark_auc = live_auc or cjson.null, margin = o.margin }
    if live_auc and new_auc < live_auc - o.margin then
        doc.activated = false
        doc.reason = string.format("kept, not activated: benchmark ROC AUC %.4f is below the live model's %.4f by more than %.3f",
            new_auc, live_auc, o.margin)
    else
        local aok, aerr = models.activate(o.models, file)
        if not aok then doc.status, doc.error = "failed", aerr return finish(o, doc, 1) end
        doc.activated = true
        doc.reason = live_auc and string.format("activated: benchmark ROC AUC %.4f (live was %.4f)", new_auc, live_auc)
                     or "activated: there was no live model"
    end
    return finish(o, doc, 0)
end
