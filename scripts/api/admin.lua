-- api/admin.lua — what an operator needs to see of the engine.
local cjson = require("cjson")
local response = require("lib.response")
local rules = require("riskd.rules")

local M = {}

local engine = require("riskd.engine")
local iforest = require("riskd.iforest")
local models = require("riskd.models")
local time = require("lib.time")

-- GET /api/admin/rules: every loaded rule, with this worker's counters.
-- broken: the files that do not load, with why and what serves in their place.
-- levels: the score from which each level starts now (calibrated or fixed).
function M.rules()
    local list = rules.list()
    for _, r in ipairs(list) do r.last_error = r.last_error or cjson.null end
    return 200, { rules = response.array(list), broken = response.array(rules.broken()),
                  levels = require("lib.analyze").thresholds(require("riskd.calib").current(), rules.config()) }
end

-- A login model the server can run: an Isolation Forest over the features
-- riskd computes (not the phishing model, not a damaged file). nil, why.
local function login_model(dir, file)
    return iforest.load(dir .. "/" .. file, require("riskd.features").names)
end

-- GET /api/admin/models: every model version in the models folder, newest
-- first, with its metrics, which one is live, and which can be (login:
-- false for the phishing model or a file that does not load as one).
function M.models()
    local dir = models.dir()
    local list = {}
    for _, m in ipairs(models.list(dir)) do
        local info = {}
        local model = login_model(dir, m.file)
        if model then info = model:info() end
        list[#list + 1] = { version = m.file, active = m.active, size = m.size, login = model ~= nil,
                            modified_at = time.format(m.mtime * 1000), metrics = info.metrics or cjson.null,
                            trees = info.trees, train_rows = info.train_rows }
    end
    local cur = iforest.current()
    local live = cjson.null
    if cur then
        local i = cur:info()
        live = { trees = i.trees, train_rows = i.train_rows, metrics = i.metrics }
    end
    return 200, { models = response.array(list), live = live }
end

-- PUT /api/admin/models/:version: make a stored version the live one
-- (rollback included); every worker swaps it in within a second.
function M.activate(req)
    local v = req.params.id
    if type(v) == "string" and v:match("^[%w._-]+$") and not v:find("..", 1, true) then
        local f = io.open(models.dir() .. "/" .. v, "rb")
        if f then
            f:close()
            local m, why = login_model(models.dir(), v)
            if not m then return response.bad_request(v .. " is not a login model: " .. tostring(why), "not_a_login_model") end
        end
    end
    local ok, err, code = models.activate(models.dir(), v)
    if not ok then
        if err:find("^no model") then return response.not_found("no model version " .. v) end
        return response.bad_request(err, code)
    end
    require("lib.realtime").publish("models", "activated", { version = v })
    return 200, { active = v }
end

-- Retraining takes seconds: it runs as a job of its own (`riskd retrain`),
-- reporting into a status file that GET /api/admin/model/retrain/:job reads.
local function status_path(job) return models.dir() .. "/.retrain-" .. job .. ".json" end

-- POST /api/admin/model/retrain {since?, margin?} -> 202 {job, status_url}
function M.retrain(req)
    local b = req.body
    if b ~= nil and type(b) ~= "table" then return response.bad_request("the body must be a JSON object", "invalid_field") end
    b = b or {}
    local cfg = engine.config()
    local job = string.format("%x%06x", os.time(), math.random(0, 0xffffff))
    -- The store's URI goes in the environment, not on the command line,
    -- where anyone on the machine could read a MongoDB password (ps).
    local args = { "retrain", "--models", cfg.models, "--status", status_path(job) }
    if b.since ~= nil then
        if not time.parse(b.since) then return response.bad_request("since must be an ISO 8601 time", "invalid_field") end
        args[#args + 1], args[#args + 2] = "--since", b.since
    end
    if b.margin ~= nil then
        if type(b.margin) ~= "number" or b.margin < 0 or b.margin > 1 then
            return response.bad_request("margin must be a number from 0 to 1", "invalid_field")
        end
        args[#args + 1], args[#args + 2] = "--margin", tostring(b.margin)
    end
    -- The job exists from now on, before the command has started.
    local f = io.open(status_path(job), "w")
    if not f then return response.error(500, "retrain_failed", "cannot write to the models folder " .. cfg.models) end
    f:write(cjson.encode({ status = "running", phase = "starting", progress = 0,
                           started_at = time.format(math.floor(os.time() * 1000)) }))
    f:close()
    local pid, err = engine.spawn(args, { RISKD_DB = cfg.db, RISKD_SCRIPTS = cfg.scripts, RISKD_RULES = cfg.rules,
                                          RISKD_MODELS = cfg.models })
    if not pid then
        os.remove(status_path(job))
        return response.error(500, "spawn_failed", err)
    end
    return 202, { job = job, status = "running", status_url = "/api/admin/model/retrain/" .. job }
end

-- GET /api/admin/model/retrain/:job
function M.retrain_status(req)
    local job = req.params.id
    if not job:match("^%x+$") or #job > 32 then return response.not_found("no retraining job " .. job) end
    local f = io.open(status_path(job))
    if not f then return response.not_found("no retraining job " .. job) end
    local text = f:read("a")
    f:close()
    local ok, doc = pcall(cjson.decode, text)
    if not ok then return 200, { job = job, status = "running" } end
    doc.job = job
    return 200, doc
end

return M
