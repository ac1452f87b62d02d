-- bench/phishing.lua — `riskd run bench/phishing.lua N SEED`: the full
-- phishing analysis without HTTP (GMime parse, indicators, the live model,
-- the rules of rules/phishing/) over N messages of about 20 KB each:
-- multipart/alternative, an HTML part with 10 links, a text part. Prints
-- messages per second for this one thread, and where the time goes.
local mail = require("lib.synth_mail")
local phishing = require("lib.phishing")
local ph = require("riskd.phishing")
local rules = require("riskd.rules")

local n, seed = tonumber(arg[1] or "2000"), tonumber(arg[2] or "1")
math.randomseed(seed)
local o = { brands = mail.BRANDS, org = "example.org" }
local msgs, bytes = {}, 0
for i = 1, math.min(n, 500) do   -- 500 distinct messages, cycled
    local m = i % 2 == 0 and mail.phishing(o, 1700000000 + i) or mail.legitimate(o, 1700000000 + i)
    local paras, links = {}, {}
    for k = 1, 10 do links[k] = { "https://" .. (k % 3 == 0 and "news." or "") .. "site" .. (i % 7) .. ".example.com/item/" .. k * i .. "?utm_source=mail&id=" .. i, "Item " .. k } end
    local text = (m.text or "") .. "\n"
    while #text < 6000 do text = text .. "The quarterly figures and the team news, as every month, with the dates of the next events. " end
    paras[1] = text
    while #table.concat(paras) < 12000 do paras[#paras + 1] = "A paragraph of the newsletter about what happened this week in the office and beyond, with some detail." end
    m.text = text
    m.html = "<html><body>" .. "<p>" .. table.concat(paras, "</p><p>") .. "</p>"
    for _, l in ipairs(links) do m.html = m.html .. string.format("<p><a href=\"%s\">%s</a></p>", l[1], l[2]) end
    m.html = m.html .. "</body></html>"
    m.era = "new"
    msgs[i] = mail.write(m)
    bytes = bytes + #msgs[i]
end
if arg[3] == "--write" then   -- the messages as files, for the HTTP benchmark (bench/phish_http.lua)
    for i = 1, 20 do
        local f = assert(io.open(string.format("%s/mail-%d.eml", arg[4], i), "wb"))
        f:write(msgs[i])
        f:close()
    end
    return
end
local deps = { phishing = ph, rules = rules, config = rules.config("phishing"), model = ph.current() }
local clock = os.clock
local t_parse, t_analyze = 0, 0
local t0 = clock()
for i = 1, n do
    local raw = msgs[(i - 1) % #msgs + 1]
    local t1 = clock()
    local msg = assert(ph.parse(raw))
    local t2 = clock()
    phishing.analyze(msg, deps)
    t_analyze = t_analyze + clock() - t2
    t_parse = t_parse + t2 - t1
end
local secs = clock() - t0
print(string.format("phishing analysis: %d messages of %.1f KB average (multipart, HTML with 10 links), %.0f messages/s on one thread%s",
    n, bytes / #msgs / 1024, n / secs, deps.model and "" or " (no model)"))
print(string.format("  parsing (GMime) %.0f us per message, indicators + model + rules %.0f us", t_parse / n * 1e6, t_analyze / n * 1e6))
