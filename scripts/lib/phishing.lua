-- lib/phishing.lua — the phishing analysis pipeline, shared by
-- POST /api/phishing/analyze (api/phishing.lua) and `riskd phishing score`
-- (cli/phishing.lua):
--   1. the message: raw RFC 5322 parsed by GMime (riskd.phishing.parse), or
--      the fields a gateway already extracted
--   2. indicators in C (riskd.phishing.analyze): links, hosts, senders,
--      authentication results, forms, attachments, wording
--   3. the text model (hashed n-grams and the indicators), when one is live
--   4. the rules of rules/phishing/ (sandboxed, hot-reloaded)
--   5. the verdict: model and rules combined as independent evidence, so
--      that neither can lower what the other found
--   6. stored, and an alert for a phishing verdict
-- Collaborators come in deps so specs can drive it with fakes.
local realtime = require("lib.realtime")

local M = {}

local function round2(x) return math.floor(x * 100 + 0.5) / 100 end

-- One riskd.phishing config per rules config table (a reload makes a new
-- table in a new state).
local cfg_of = setmetatable({}, { __mode = "k" })

function M.indicator_config(ph, config)
    local c = cfg_of[config]
    if c then return c end
    local err
    c, err = ph.config({ protected = config.protected_domains or {}, shorteners = config.shorteners or {} })
    if not c then error("phishing configuration: " .. tostring(err)) end
    cfg_of[config] = c
    return c
end

-- ---- input ----------------------------------------------------------------

local FIELDS = { "from", "reply_to", "return_path", "subject", "text", "html", "to" }

-- RFC 5322's limit for a line; an address field longer than that is refused.
local MAX_ADDRESS = 998

local function is_space(b) return b == 32 or (b >= 9 and b <= 13) end

-- s without leading and trailing white space, in one pass each way.
local function trim(s)
    local i = s:find("%S")
    if not i then return "" end
    local j = #s
    while is_space(s:byte(j)) do j = j - 1 end
    return s:sub(i, j)
end

-- "Name <addr@x>" → name, addr; "addr@x" → "", addr. The fields are the
-- sender's to choose, so this is a linear scan: a backtracking pattern
-- here costs time that grows with a power of the field's length.
-- As `^%s*(.-)%s*<([^>]*)>%s*$` would: the address is what lies between
-- the last '>' and the first '<' after the '>' before it.
local function split_address(s)
    s = trim(s)
    local n = #s
    if n == 0 or s:byte(n) ~= 62 then return "", s end   -- no closing '>'
    local lt
    for k = n - 1, 1, -1 do
        local b = s:byte(k)
        if b == 62 then break end   -- another '>': the address cannot hold it
        if b == 60 then lt = k end  -- '<': the first one after that '>' wins
    end
    if not lt then return "", s end
    local name = trim(s:sub(1, lt - 1))
    if #name >= 2 and name:byte(1) == 34 and name:byte(-1) == 34 then name = name:sub(2, -2) end
    return name, s:sub(lt + 1, n - 1)
end
M.split_address = split_address

-- The fields of a JSON body as a message; nil, field, why when one is wrong.
function M.from_fields(body, limit)
    local m = { auth = {}, attachments = {} }
    local total = 0
    for _, k in ipairs(FIELDS) do
        local v = body[k]
        if v ~= nil and type(v) ~= "string" then return nil, k, k .. " must be a string" end
        total = total + (v and #v or 0)
    end
    if total > limit then return nil, "body", "the message fields are over " .. limit .. " bytes" end
    for _, k in ipairs({ "from", "reply_to", "return_path", "to" }) do
        if body[k] and #body[k] > MAX_ADDRESS then
            return nil, k, k .. " is over " .. MAX_ADDRESS .. " bytes (the line limit of RFC 5322)"
        end
    end
    if body.from then m.from_name, m.from = split_address(body.from) end
    if body.reply_to then m.reply_to = select(2, split_address(body.reply_to)) end
    if body.return_path then m.return_path = select(2, split_address(body.return_path)) end
    if body.to then m.to = select(2, split_address(body.to)) end
    m.subject, m.text, m.html = body.subject or "", body.text or "", body.html or ""
    if body.urls ~= nil then
        if type(body.urls) ~= "table" then return nil, "urls", "urls must be an array of strings" end
        local lines = {}
        for i, u in ipairs(body.urls) do
            if type(u) ~= "string" then return nil, "urls", "urls must be an array of strings" end
            if i > 256 then break end
            lines[#lines + 1] = u
        end
        if #lines > 0 then m.text = m.text .. "\n" .. table.concat(lines, "\n") end
    end
    if body.headers ~= nil then
        if type(body.headers) ~= "table" then return nil, "headers", "headers must be an object" end
        for name, v in pairs(body.headers) do
            if type(name) ~= "string" then return nil, "headers", "headers must be an object" end
            local vals = type(v) == "table" and v or { v }
            for _, x in ipairs(vals) do
                if type(x) ~= "string" then return nil, "headers", "header values must be strings" end
                if #x > MAX_ADDRESS * 8 then return nil, "headers", "a header value is over " .. MAX_ADDRESS * 8 .. " bytes" end
                local lname = name:lower()
                if lname == "authentication-results" or lname == "arc-authentication-results" then m.auth[#m.auth + 1] = x
                elseif lname == "received-spf" then m.auth[#m.auth + 1] = "received-spf " .. x
                elseif lname == "message-id" then m.message_id = x
                elseif lname == "return-path" and not m.return_path then m.return_path = select(2, split_address(x))
                elseif lname == "reply-to" and not m.reply_to then m.reply_to = select(2, split_address(x)) end
            end
        end
    end
    if body.attachments ~= nil then
        if type(body.attachments) ~= "table" then return nil, "attachments", "attachments must be an array" end
        for _, a in ipairs(body.attachments) do
            if type(a) ~= "table" or type(a.name) ~= "string" then
                return nil, "attachments", "each attachment needs a name"
            end
            local contents
            if a.contents ~= nil then   -- the names inside an archive, when the gateway listed them
                if type(a.contents) ~= "table" then return nil, "attachments", "contents must be an array of names" end
                contents = {}
                for _, c in ipairs(a.contents) do
                    if type(c) ~= "string" then return nil, "attachments", "contents must be an array of names" end
                    contents[#contents + 1] = c
                end
            end
            m.attachments[#m.attachments + 1] = { name = a.name, type = type(a.type) == "string" and a.type or "",
                                                  size = math.tointeger(a.size) or 0, contents = contents }
        end
    end
    return m
end

-- The message of a request: raw (message/rfc822 body, or {"raw": ...}) or
-- fields. Returns msg, or nil, status, code, message.
function M.message(ph, content_type, raw_body, body, limit)
    local raw
    if content_type and content_type:lower():find("message/rfc822", 1, true) then
        raw = raw_body or ""
    elseif type(body) ~= "table" then
        return nil, 400, "invalid_body", "send a JSON object ({\"raw\": ...} or the fields) or message/rfc822"
    elseif body.raw ~= nil then
        if type(body.raw) ~= "string" then return nil, 400, "invalid_field", "raw must be a string" end
        raw = body.raw
    end
    if raw then
        if #raw > limit then return nil, 413, "payload_too_large", "the message is over " .. limit .. " bytes" end
        local m, err, code = ph.parse(raw, { max_bytes = limit })
        if not m then
            if code == "too_big" then return nil, 413, "payload_too_large", err end
            return nil, 422, code == "too_complex" and "message_too_complex" or "invalid_message", err
        end
        return m
    end
    local m, field, why = M.from_fields(body, limit)
    if not m then return nil, 400, "invalid_field", why, field end
    if body.from then m.from_count = ph.address_entries(body.from) end   -- as a parsed message counts them
    return m
end

-- ---- analysis -------------------------------------------------------------

local VERDICT_RANK = { clean = 1, suspicious = 2, phishing = 3 }
M.VERDICT_RANK = VERDICT_RANK

function M.verdict(score, cfg)
    local v = cfg.verdicts or {}
    if score >= (v.phishing or 70) then return "phishing" end
    if score >= (v.suspicious or 40) then return "suspicious" end
    return "clean"
end

-- Model and rules as independent pieces of evidence: each can only raise
-- the score (monotone in every input).
function M.combine(model_part, results)
    local keep = 1 - math.min(model_part, 100) / 100
    for _, r in ipairs(results) do keep = keep * (1 - math.min(r.score, 100) / 100) end
    return round2(100 * (1 - keep))
end

-- Whether a model was trained on the features this engine computes (the
-- indicators in the same order): one trained by an older riskd is not used.
local fits = setmetatable({}, { __mode = "k" })

function M.model_fits(ph, model)
    if fits[model] == nil then
        local want, have = ph.dense_names(), model:info().dense
        local ok = #want == #have
        for i = 1, #want do ok = ok and want[i] == have[i] end
        fits[model] = ok
        if not ok then
            pcall(function() require("riskd.log").warn("the phishing model was trained on other indicators: retrain it", {}) end)
        end
    end
    return fits[model]
end

local function set_of(list)
    local s = {}
    for _, k in ipairs(list) do s[k] = true end
    return s
end

-- Analyses msg. deps: { phishing, rules, config (rules/phishing/config.lua),
-- model (or nil) }. Returns the result (no storage).
function M.analyze(msg, deps)
    local cfg = deps.config
    local a = deps.phishing.analyze(M.indicator_config(deps.phishing, cfg), msg)
    local urls = {}
    for i, u in ipairs(a.urls) do
        urls[i] = { url = u.url, host = u.host, unicode_host = u.unicode_host, registrable_domain = u.registrable_domain,
                    shown_domain = u.shown_domain, brand = u.brand, indicators = u.indicators, flags = set_of(u.indicators) }
    end
    local model_score
    if deps.model and M.model_fits(deps.phishing, deps.model) then model_score = round2(deps.model:score(a.body, a.dense) * 100) / 100 end
    local ctx = { message = msg, analysis = a, urls = urls, indicators = a.indicators, model_score = model_score }
    local results, rule_errors = deps.rules.evaluate(ctx, "phishing")
    table.sort(results, function(x, y) return x.score > y.score end)
    local model_part = (model_score or 0) * (cfg.model_weight or 60)
    local score = M.combine(model_part, results)
    local reasons, rule_out = {}, {}
    for i, r in ipairs(results) do
        reasons[#reasons + 1] = r.reason or r.name
        rule_out[i] = { name = r.name, score = r.score, reason = r.reason }
    end
    if model_score and model_part >= 20 then   -- among the rules' reasons, by its weight
        local at = 1
        while results[at] and results[at].score > model_part do at = at + 1 end
        table.insert(reasons, at, string.format("the wording reads like phishing (model %.2f)", model_score))
    end
    local public_urls = {}
    for i, u in ipairs(urls) do
        public_urls[i] = { url = u.url, host = u.host, unicode_host = u.unicode_host, registrable_domain = u.registrable_domain,
                           shown_domain = u.shown_domain, imitates = u.brand, indicators = u.indicators }
    end
    local indicators = {}
    for k in pairs(a.indicators) do indicators[#indicators + 1] = k end
    table.sort(indicators)
    return {
        score = score, verdict = M.verdict(score, cfg), reasons = reasons, rules = rule_out, rule_errors = rule_errors,
        urls = public_urls, attachments = msg.attachments or {}, indicators = indicators, model_score = model_score,
        message_id = msg.message_id ~= "" and msg.message_id or nil, subject = msg.subject, from = msg.from,
        to = msg.to ~= "" and msg.to or nil, urls_truncated = a.urls_truncated or nil,
    }
end

-- ---- storage and alerts ----------------------------------------------------

-- Stores r (fills r.id) and, for a verdict at alert_verdict or above, opens
-- an alert for the recipient or joins the open one. Returns the record's id
-- and the alert's, or nil, err when the store failed.
function M.record(store, r, cfg, now)
    local rec = {
        ts = now, verdict = r.verdict, score = r.score, sender = r.from ~= "" and r.from or nil, recipient = r.to,
        subject = r.subject, message_id = r.message_id, reasons = r.reasons, rules = r.rules, urls = r.urls,
        attachments = r.attachments, indicators = r.indicators, model_score = r.model_score,
    }
    local id, err = store:phish_insert(rec)
    if not id then return nil, err end
    if VERDICT_RANK[r.verdict] < VERDICT_RANK[cfg.alert_verdict or "phishing"] then return id end
    local who = r.to or "phishing"
    local severity = (cfg.severity or {})[r.verdict] or "high"
    local window = (cfg.alert_window_minutes or 10) * 60000
    local data = { user_id = who, severity = severity, cause = "phishing", event_id = id, reasons = r.reasons,
                   kind = "phishing", subject = r.subject, sender = r.from }
    local alert_id = store:alert_find_open(who, "phishing", now - window)
    if alert_id then
        if not store:alert_add_event(alert_id, id, severity, now) then return id end
        data.alert_id = alert_id
        realtime.publish("alerts", "updated", data)
    else
        local names = {}
        for i, x in ipairs(r.rules) do names[i] = x.name end
        alert_id = store:alert_insert({ user_id = who, severity = severity, cause = "phishing", created = now,
                                        reasons = r.reasons, rules = names, kind = "phishing" }, id)
        if not alert_id then return id end
        data.alert_id, data.status = alert_id, "open"
        realtime.publish("alerts", "created", data)
        require("lib.delivery").alert(store, { alert_id = alert_id, user_id = who, severity = severity, cause = "phishing",
                                               created = now, reasons = r.reasons, rules = names, kind = "phishing" })
    end
    store:phish_set_alert(id, alert_id)
    return id, nil, alert_id
end

return M
