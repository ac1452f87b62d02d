-- lib/delivery.lua — what goes to the site's webhooks and SIEM, put in the
-- store's outbox; the server's delivery thread sends it (engine/deliver.h:
-- signed POSTs, syslog RFC 5424, JSON lines; retries, dead letters).
--
--   webhooks  every new alert: {"type": "alert.created", "alert": {...}, "event": {...}}
--             to RISKD_WEBHOOKS and the admin's list (PUT /api/admin/webhooks)
--   SIEM      every new alert and every attempt at high or critical, one JSON
--             object each with the Elastic Common Schema's field names, to
--             RISKD_SIEM
--
-- Nothing is queued outside a server (riskd score and the other batch
-- commands replay history: they must not page anyone).
local cjson = require("cjson")
local engine = require("riskd.engine")
local time = require("lib.time")

local M = {}

-- The state document that holds the admin's webhook URLs (a JSON array).
M.STATE_KEY = "webhooks"

local function split(list)
    local out = {}
    for item in (list or ""):gmatch("[^,%s]+") do out[#out + 1] = item end
    return out
end

-- The server's destinations { webhooks = {...}, siem = {...} }, or nil
-- outside a server or without a delivery thread. Read once: a state lives
-- within one configuration, and this runs for every high-risk attempt.
local dests
local function settings()
    if dests == nil then
        local ok, cfg = pcall(engine.config)
        dests = ok and cfg and cfg.delivering and { webhooks = split(cfg.webhooks), siem = split(cfg.siem) } or false
    end
    return dests or nil
end

-- The admin's webhook URLs, kept in the store.
function M.admin_webhooks(store)
    local text = store:state(M.STATE_KEY)
    local ok, list = pcall(cjson.decode, text or "[]")
    return ok and type(list) == "table" and list or {}
end

-- Every webhook URL: the settings' and the admin's, each once.
function M.webhooks(store, cfg)
    local out, seen = {}, {}
    for _, list in ipairs({ cfg.webhooks, M.admin_webhooks(store) }) do
        for _, url in ipairs(list) do
            if not seen[url] then seen[url], out[#out + 1] = true, url end
        end
    end
    return out
end

local function put(store, dests, kind, doc, now)
    if #dests == 0 then return end
    local body = cjson.encode(doc)
    for _, dest in ipairs(dests) do
        local ok, id, err = pcall(store.outbox_put, store, dest, kind, body, now)
        if not ok or not id then
            require("riskd.log").warn("outbox: a delivery was not queued", { dest = dest, error = tostring(ok and err or id) })
        end
    end
end

local function geo(e)
    local g = { country_iso_code = e.country, city_name = e.city }
    if e.latitude and e.longitude then g.location = { lat = e.latitude, lon = e.longitude } end
    return next(g) and g or nil
end

-- ECS severity: 0-100 like the risk score (a SIEM's rules compare numbers).
local SEVERITY = { low = 21, medium = 47, high = 73, critical = 99 }

-- The alert as the webhooks get it. alert: {alert_id, user_id, severity,
-- cause, created, reasons, rules, kind}; event: what the analysis recorded
-- (login alerts) or nil.
function M.alert_document(alert, event)
    local doc = {
        type = "alert.created",
        alert = { alert_id = alert.alert_id, user_id = alert.user_id, severity = alert.severity, cause = alert.cause,
                  kind = alert.kind or "login", status = "open", created_at = time.format(alert.created),
                  reasons = alert.reasons or {}, rules = alert.rules or {} },
        links = { alert = "/api/dashboard/alerts/" .. alert.alert_id },
    }
    if event then
        doc.event = { event_id = event.event_id, timestamp = time.format(event.ts), ip_address = event.ip_address,
                      country = event.country, city = event.city, device_id = event.device_id,
                      user_agent = event.user_agent, success = event.success, risk_score = event.risk_score,
                      risk_level = event.risk_level, action = event.action }
    end
    return doc
end

-- The alert for a SIEM (Elastic Common Schema names where they fit).
function M.alert_ecs(alert, event)
    local e = event or {}
    return {
        ["@timestamp"] = time.format(alert.created),
        message = string.format("riskd %s alert for %s: %s", alert.severity, alert.user_id, alert.cause),
        event = { kind = "alert", category = { "authentication" }, type = { "info" }, module = "riskd",
                  dataset = "riskd.alert", id = alert.alert_id, severity = SEVERITY[alert.severity],
                  risk_score = e.risk_score, reason = table.concat(alert.reasons or {}, "; ") },
        user = { name = alert.user_id },
        source = e.ip_address and { ip = e.ip_address, geo = geo(e) } or nil,
        user_agent = e.user_agent and { original = e.user_agent } or nil,
        rule = { name = alert.cause },
        riskd = { alert_id = alert.alert_id, kind = alert.kind or "login", event_id = e.event_id,
                  rules = alert.rules or {}, risk_level = e.risk_level },
    }
end

-- An attempt at high or critical for a SIEM.
function M.event_ecs(event)
    return {
        ["@timestamp"] = time.format(event.ts),
        message = string.format("riskd %s login attempt by %s from %s", event.risk_level, event.user_id, event.ip_address),
        event = { kind = "event", category = { "authentication" }, type = { "start" }, module = "riskd",
                  dataset = "riskd.login", id = event.event_id, outcome = event.success and "success" or "failure",
                  action = event.action, risk_score = event.risk_score, severity = SEVERITY[event.risk_level],
                  reason = table.concat(event.reasons or {}, "; ") },
        user = { name = event.user_id },
        source = { ip = event.ip_address, geo = geo(event) },
        user_agent = event.user_agent and { original = event.user_agent } or nil,
        riskd = { event_id = event.event_id, risk_level = event.risk_level, alert_id = event.alert_id },
    }
end

-- A new alert: to the webhooks and the SIEM.
function M.alert(store, alert, event)
    local cfg = settings()
    if not cfg or not store then return end
    local now = math.floor(os.time() * 1000)
    put(store, M.webhooks(store, cfg), "alert", M.alert_document(alert, event), now)
    put(store, cfg.siem, "alert", M.alert_ecs(alert, event), now)
end

-- An attempt at high or critical: to the SIEM.
function M.event(store, event)
    local cfg = settings()
    if not cfg or not store or #cfg.siem == 0 then return end
    put(store, cfg.siem, "event", M.event_ecs(event), math.floor(os.time() * 1000))
end

return M
