-- api/deliveries.lua — where alerts go, and what became of them, for admins.
--
-- GET  /api/admin/webhooks              the webhook URLs (the settings' and the admin's), the SIEM targets
-- PUT  /api/admin/webhooks {"urls": []} the admin's webhook URLs (http or https)
-- GET  /api/admin/deliveries?status=    the outbox, newest first: pending, delivered, dead (the dead letters)
-- POST /api/admin/deliveries/:id/retry  a dead delivery sent again
local cjson = require("cjson")
local delivery = require("lib.delivery")
local engine = require("riskd.engine")
local response = require("lib.response")
local store = require("riskd.store")
local time = require("lib.time")

local M = {}

local handle = require("lib.worker_store").new()
M.use = handle.use   -- specs
local get_db = handle.get
M.clock = os.time   -- specs replace it

local STATUSES = { pending = true, delivered = true, dead = true }
local MAX_URLS = 32

local function settings()
    local ok, cfg = pcall(engine.config)
    return ok and cfg or { webhooks = "", siem = "" }
end

function M.webhooks()
    local d = get_db()
    if not d then return response.unavailable() end
    local cfg, out, siem = settings(), {}, {}
    for url in (cfg.webhooks or ""):gmatch("[^,%s]+") do out[#out + 1] = { url = url, source = "settings" } end
    for _, url in ipairs(delivery.admin_webhooks(d)) do out[#out + 1] = { url = url, source = "admin" } end
    for target in (cfg.siem or ""):gmatch("[^,%s]+") do siem[#siem + 1] = target end
    return 200, { webhooks = response.array(out), siem = response.array(siem), signed = cfg.webhooks_signed == true,
                  delivering = cfg.delivering == true }
end

function M.set_webhooks(req)
    local d = get_db()
    if not d then return response.unavailable() end
    local urls = type(req.body) == "table" and req.body.urls
    if type(urls) ~= "table" or #urls > MAX_URLS then
        return response.bad_request("urls must be an array of at most " .. MAX_URLS .. " http(s) URLs", "invalid_field")
    end
    local clean = {}
    for i, url in ipairs(urls) do
        if type(url) ~= "string" or not url:match("^[Hh][Tt][Tt][Pp][Ss]?://") or not store.valid_dest(url) or #url > 1000 then
            return response.bad_request("urls[" .. i .. "] is not an http or https URL", "invalid_field")
        end
        clean[#clean + 1] = url
    end
    local ok, err = d:state_put(delivery.STATE_KEY, cjson.encode(response.array(clean)))
    if not ok then return response.unavailable(err) end
    return M.webhooks()
end

local function view(it)
    local ok, body = pcall(cjson.decode, it.body)
    return { id = it.id, dest = it.dest, kind = it.kind, status = it.status, attempts = it.attempts,
             created_at = time.format(it.created), next_attempt_at = it.status == "pending" and time.format(it.next) or cjson.null,
             done_at = it.done and time.format(it.done) or cjson.null, last_error = it.last_error or cjson.null,
             body = ok and body or it.body }
end

local int = require("lib.query").int

function M.list(req)
    local d = get_db()
    if not d then return response.unavailable() end
    local q = req.query
    if q.status and not STATUSES[q.status] then
        return response.bad_request("status must be pending, delivered or dead", "invalid_field")
    end
    local page, err = int(q, "page", 1, 1, 1000000)
    if not page then return response.bad_request(err, "invalid_field") end
    local per, err2 = int(q, "per_page", 20, 1, 100)
    if not per then return response.bad_request(err2, "invalid_field") end
    local l, e = d:outbox({ status = q.status, page = page, per_page = per })
    if not l then return response.unavailable(e) end
    local out = {}
    for i, it in ipairs(l.items) do out[i] = view(it) end
    return 200, { deliveries = response.array(out), total = l.total, page = page, per_page = per }
end

function M.retry(req)
    local d = get_db()
    if not d then return response.unavailable() end
    local ok, err, code = d:outbox_requeue(req.params.id, math.floor(M.clock() * 1000))
    if not ok then
        if code == "not_found" then return response.not_found("no dead delivery " .. req.params.id) end
        return response.unavailable(err)
    end
    return 200, { id = req.params.id, status = "pending" }
end

return M
