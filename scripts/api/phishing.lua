-- api/phishing.lua — phishing email analysis (lib/phishing.lua) and the
-- analyses kept: POST /api/phishing/analyze, GET /api/phishing/events[/:id].
local cjson = require("cjson")
local phishing = require("lib.phishing")
local query = require("lib.query")
local response = require("lib.response")
local time = require("lib.time")
local ph = require("riskd.phishing")
local rules = require("riskd.rules")
local store = require("riskd.store")

local M = {}

local deps

local function get_deps()
    if deps then return deps end
    local ok, cfg = pcall(require("riskd.engine").config)
    deps = { phishing = ph, rules = rules, config = rules.config("phishing"), store = store.worker(),
             mail_limit = ok and cfg.mail_limit or 10 * 1024 * 1024 }
    return deps
end

-- For specs: other collaborators.
function M.use(d) deps = d end

local function now_ms() return math.floor(os.time() * 1000) end

-- The answer's shape: lists as JSON arrays, absent ids as null.
local function public(r)
    local urls = {}
    for i, u in ipairs(r.urls or {}) do
        urls[i] = { url = u.url, host = u.host, unicode_host = u.unicode_host, registrable_domain = u.registrable_domain,
                    shown_domain = u.shown_domain, imitates = u.imitates, indicators = response.array(u.indicators) }
    end
    return {
        id = r.id, message_id = r.message_id or cjson.null, score = r.score, verdict = r.verdict,
        reasons = response.array(r.reasons), rules = response.array(r.rules), rule_errors = r.rule_errors and response.array(r.rule_errors) or nil,
        urls = response.array(urls), attachments = response.array(r.attachments), indicators = response.array(r.indicators),
        model_score = r.model_score or cjson.null, alert_id = r.alert_id or cjson.null, subject = r.subject,
        from = r.from or r.sender, to = r.to or r.recipient, timestamp = r.ts and time.format(r.ts) or nil,
    }
end

-- POST /api/phishing/analyze
function M.analyze(req)
    local d = get_deps()
    local msg, status, code, message, field = phishing.message(d.phishing, req.headers["content-type"], req.raw_body,
        req.body, d.mail_limit)
    if not msg then
        return response.error(status, code, message, field and { ["X-Invalid-Field"] = field } or nil)
    end
    local model, merr = d.phishing.current()
    if merr then require("riskd.log").warn("phishing model refused, the previous one serves", { error = merr }) end
    d.model = model
    local r = phishing.analyze(msg, d)
    if d.store then
        local now = now_ms()
        local id, err, alert_id = phishing.record(d.store, r, d.config, now)
        if not id then return response.unavailable(err) end
        r.id, r.alert_id, r.ts = id, alert_id, now
    end
    return 200, public(r)
end

local VERDICTS = { clean = true, suspicious = true, phishing = true }

-- GET /api/phishing/events
function M.events(req)
    local d = get_deps()
    if not d.store then return response.unavailable() end
    local q, f = req.query, {}
    if q.verdict then
        if not VERDICTS[q.verdict] then return response.bad_request("verdict must be clean, suspicious or phishing", "invalid_field") end
        f.verdict = q.verdict
    end
    f.sender = q.sender
    if q.min_score then
        f.min_score = tonumber(q.min_score)
        if not f.min_score then return response.bad_request("min_score must be a number", "invalid_field") end
    end
    local s, b = query.range_and_page(q, f)
    if s then return s, b end
    local page, err = d.store:phish_list(f)
    if not page then return response.unavailable(err) end
    local out = {}
    for i, r in ipairs(page.items) do out[i] = public(r) end
    return 200, { events = response.array(out), total = page.total, page = page.page, per_page = page.per_page }
end

-- GET /api/phishing/events/:id
function M.event(req)
    local d = get_deps()
    if not d.store then return response.unavailable() end
    local r, err, code = d.store:phish(req.params.id)
    if not r then
        if code == "not_found" then return response.not_found("no phishing analysis " .. req.params.id) end
        return response.unavailable(err)
    end
    return 200, public(r)
end

return M
