-- spec/phishing_spec.lua — the phishing rules (rules/phishing/) on
-- hand-made contexts, loaded as the engine loads them, and lib/phishing.lua:
-- input checks, the verdict's combination, the full analysis through the
-- real C indicators with fake rules, storage and alerts on a store in memory.
local phishing = require("lib.phishing")
local ph = require("riskd.phishing")

-- The phishing rules as the server loads them (riskd.rules.load).
local set = assert(require("riskd.rules").load("rules"))
local config = set:config("phishing")

local function rule(file)
    for _, r in ipairs(set:list("phishing")) do
        if r.file == "phishing/" .. file .. ".lua" then
            return { name = r.name, description = r.description,
                     evaluate = function(ctx) return set:run(r.name, ctx, "phishing") end }
        end
    end
    error("no rule in rules/phishing/" .. file .. ".lua")
end

local function ctx(over)
    local urls = {}
    for i, u in ipairs(over.urls or {}) do
        local flags = {}
        for _, k in ipairs(u.indicators or {}) do flags[k] = true end
        urls[i] = { url = u.url or "https://x.example/", host = u.host or "x.example", registrable_domain = u.domain or "x.example",
                    brand = u.brand, shown_domain = u.shown, unicode_host = u.unicode_host, indicators = u.indicators or {}, flags = flags }
    end
    local a = { urgency_hits = over.urgency or 0, credential_hits = over.credentials or 0, from_domain = over.from_domain or "sender.example",
                from_brand = over.from_brand, indicators = over.indicators or {}, prize_hits = over.prize or 0,
                from_known_tld = over.known_tld ~= false }
    return { urls = urls, indicators = a.indicators, analysis = a,
             message = over.message or { from_name = "", reply_to = "", return_path = "", subject = "", attachments = {} } }
end

describe("phishing rules", function()
    it("are all well formed, with distinct names", function()
        local seen = {}
        for file in io.popen("ls rules/phishing"):lines() do
            if file ~= "config.lua" and file:find("%.lua$") then
                local r = rule(file:gsub("%.lua$", ""))
                assert.is_string(r.name)
                assert.is_string(r.description)
                assert.is_nil(seen[r.name])
                seen[r.name] = true
                assert.is_nil(r.evaluate(ctx({})))   -- nothing to see: nothing said
            end
        end
        assert.is_true(seen.lookalike_domain and seen.pressure_wording and true)
    end)

    it("lookalike_domain: the strongest imitation, and the sender's", function()
        local r = rule("lookalike_domain")
        local s, why = r.evaluate(ctx({ urls = { { host = "paypa1.com", brand = "paypal.com", indicators = { "lookalike" } },
                                                 { host = "xn--pypal-4ve.com", unicode_host = "pаypal.com", indicators = { "mixed_script" } } } }))
        assert.are.equal(65, s)
        assert.matches("paypa1.com imitates paypal.com", why)
        s, why = r.evaluate(ctx({ urls = { { host = "paypal.com.x.net", brand = "paypal.com", indicators = { "brand_in_subdomain" } } } }))
        assert.are.equal(60, s)
        assert.matches("puts paypal.com before", why)
        s = r.evaluate(ctx({ urls = { { host = "paypal-help.com", brand = "paypal.com", indicators = { "brand_in_domain" } } } }))
        assert.are.equal(45, s)
        s, why = r.evaluate(ctx({ from_brand = "apple.com", from_domain = "app1e.com" }))
        assert.are.equal(65, s)
        assert.matches("sender's domain app1e.com imitates apple.com", why)
    end)

    it("link_mismatch and obfuscated_url", function()
        local s, why = rule("link_mismatch").evaluate(ctx({ urls = { { domain = "evil.example", shown = "paypal.com", indicators = { "text_mismatch" } } } }))
        assert.are.equal(50, s)
        assert.matches("shows paypal.com but goes to evil.example", why)
        s, why = rule("obfuscated_url").evaluate(ctx({ urls = { { indicators = { "ip_host", "no_tls" } }, { indicators = { "ip_host", "shortener" } } } }))
        assert.are.equal(math.floor(100 * (1 - 0.6 * 0.92 * 0.85) + 0.5), s)   -- each kind counted once
        assert.matches("an IP address, a URL shortener, no TLS", why)
        s, why = rule("obfuscated_url").evaluate(ctx({ urls = { { url = "https://www.google.com/url?q=https%3A%2F%2Fevil.example%2F",
                                                                    domain = "google.com" } } }))
        assert.are.equal(20, s)
        assert.are.equal("links with another address inside", why)
        assert.is_nil(rule("obfuscated_url").evaluate(ctx({ urls = { { url = "https://shop.example/?ref=mail" } } })))
        assert.is_nil(rule("obfuscated_url").evaluate(ctx({ urls = { { url = "https://accounts.google.com/x?continue=https://myaccount.google.com/",
                                                                         domain = "google.com" } } })))
    end)

    it("sender_mismatch, auth_failure, credential_form, risky_attachment", function()
        local msg = { from_name = "PayPal", reply_to = "x@gmail.com", return_path = "b@bounce.example", attachments = {} }
        local both = { display_name_mismatch = true, reply_to_mismatch = true, return_path_mismatch = true }
        local s, why = rule("sender_mismatch").evaluate(ctx({ message = msg, indicators = both }))
        assert.are.equal(40, s)                        -- Reply-To and Return-Path weigh nothing by default
        assert.are.equal('the display name "PayPal" is not sender.example', why)
        assert.is_nil(rule("sender_mismatch").evaluate(ctx({ message = msg, indicators = { reply_to_mismatch = true } })))
        s, why = rule("auth_failure").evaluate(ctx({ indicators = { spf_fail = true, dmarc_fail = true } }))
        assert.are.equal(math.floor(100 * (1 - 0.8 * 0.65) + 0.5), s)
        assert.are.equal("SPF, DMARC failed", why)
        assert.are.equal(60, rule("credential_form").evaluate(ctx({ indicators = { password_form = true } })))
        msg.attachments = { { name = "a.pdf.exe" } }
        s, why = rule("risky_attachment").evaluate(ctx({ message = msg, indicators = { double_extension = true, risky_attachment = true } }))
        assert.are.equal(70, s)
        assert.matches("hides its type: a.pdf.exe", why)
        assert.are.equal(50, rule("risky_attachment").evaluate(ctx({ message = msg, indicators = { risky_attachment = true } })))
        assert.are.equal(15, rule("risky_attachment").evaluate(ctx({ message = msg, indicators = { archive_attachment = true } })))
        msg.attachments = { { name = "scan.zip", contents = { "a.txt", "b.txt", "c.txt", "d.txt", "e.txt", "run.js" } } }
        s, why = rule("risky_attachment").evaluate(ctx({ message = msg, indicators = { archive_attachment = true, risky_attachment = true } }))
        assert.are.equal(50, s)
        assert.matches("scan.zip (holding a.txt, b.txt, c.txt, d.txt, e.txt, …)", why, 1, true)
    end)

    it("sender_anomaly: a sender under no real domain, free hosting, the recipient or a brand in the subject", function()
        local r = rule("sender_anomaly")
        local function msg(t)
            local m = { from = "x@sender.example", from_name = "", reply_to = "", return_path = "", subject = "", to = "", attachments = {} }
            for k, v in pairs(t) do m[k] = v end
            return m
        end
        local s, why = r.evaluate(ctx({ message = msg({ from = "multas@detran" }), known_tld = false }))
        assert.are.equal(35, s)
        assert.matches("multas@detran is not under a real domain name", why, 1, true)
        s, why = r.evaluate(ctx({ message = msg({ from = "multas545289@detran" }), known_tld = false }))
        assert.are.equal(48, s)                                                              -- and numbered
        assert.matches("numbered", why, 1, true)
        s, why = r.evaluate(ctx({ message = msg({ from = "ddvgzwhph@mail.example" }) }))
        assert.are.equal(15, s)
        assert.matches("looks made up", why, 1, true)
        local a = ctx({ message = msg({}), from_domain = "prize.top" })
        a.analysis.from_cheap_tld = true
        s, why = r.evaluate(a)
        assert.are.equal(25, s)
        assert.matches("prize.top is under a top-level domain mostly seen in abuse", why, 1, true)
        s, why = r.evaluate(ctx({ message = msg({ subject = "\u{1D412}\u{1D404}\u{1D40B}\u{1D40B} now" }) }))
        assert.are.equal(30, s)
        assert.matches("styled letters", why, 1, true)
        s = r.evaluate(ctx({ message = msg({}), from_domain = "prmi08.firebaseapp.com" }))   -- a customer's subdomain
        assert.are.equal(35, s)
        assert.is_nil(r.evaluate(ctx({ message = msg({ from = "" }), known_tld = false })))   -- bounces have no sender
        s, why = r.evaluate(ctx({ message = msg({}), from_domain = "firebaseapp.com" }))
        assert.are.equal(35, s)
        assert.matches("through firebaseapp.com, free app hosting", why, 1, true)
        s = r.evaluate(ctx({ message = msg({}), urls = { { host = "login-x.web.app" } } }))
        assert.are.equal(35, s)
        s, why = r.evaluate(ctx({ message = msg({ to = "ann@corp.example", subject = "ANN@corp.example, your parcel" }) }))
        assert.are.equal(45, s)
        assert.matches("recipient's address", why, 1, true)
        s, why = r.evaluate(ctx({ message = msg({ subject = "Binance security alert" }), from_domain = "libreriacies.es" }))
        assert.are.equal(15, s)
        assert.matches("names binance.com, the sender is libreriacies.es", why, 1, true)
        assert.is_nil(r.evaluate(ctx({ message = msg({ subject = "Your Binance statement" }), from_domain = "binance.com" })))
        assert.is_nil(r.evaluate(ctx({ message = msg({ subject = "binanceville news" }) })))     -- a whole word only
        s, why = r.evaluate(ctx({ message = msg({ from_count = 2 }) }))                    -- "Name ,<a@b>"
        assert.are.equal(30, s)
        assert.matches("From header holds more than one entry", why, 1, true)
        assert.is_nil(r.evaluate(ctx({ message = msg({ from_count = 1 }) })))
        s, why = r.evaluate(ctx({ message = msg({ needless_encoding = true }) }))
        assert.are.equal(25, s)
        assert.matches("encoded though it is plain ASCII", why, 1, true)
        s = r.evaluate(ctx({ message = msg({ from = "a@b", to = "c@d.example", subject = "c@d.example binance" }), known_tld = false }))
        assert.are.equal(math.floor(100 * (1 - 0.65 * 0.55 * 0.85) + 0.5), s)                -- independent parts
    end)

    it("prize_lure: one phrase, then a little more for each further one", function()
        local r = rule("prize_lure")
        assert.is_nil(r.evaluate(ctx({ prize = 0 })))
        local s, why = r.evaluate(ctx({ prize = 1 }))
        assert.are.equal(35, s)
        assert.are.equal("1 prize or windfall phrase", why)
        assert.are.equal(math.floor(100 * (1 - 0.65 * 0.85 * 0.85) + 0.5), (r.evaluate(ctx({ prize = 7 }))))
    end)

    it("pressure_wording: capped per kind, stronger with both and a link", function()
        local r = rule("pressure_wording")
        local s, why = r.evaluate(ctx({ urgency = 1 }))
        assert.are.equal(12, s)
        assert.are.equal("1 urgent phrase", why)
        assert.are.equal(30, (r.evaluate(ctx({ urgency = 9 }))))
        local both = r.evaluate(ctx({ urgency = 2, credentials = 2 }))
        local linked, lwhy = r.evaluate(ctx({ urgency = 2, credentials = 2, urls = { {} } }))
        assert.is_true(linked > both)
        assert.matches("2 urgent phrases and 2 credential requests, with a link", lwhy)
    end)
end)

describe("lib.phishing", function()
    it("combines model and rules monotonically into a verdict", function()
        assert.are.equal(0, phishing.combine(0, {}))
        assert.are.equal(60, phishing.combine(60, {}))
        local a = phishing.combine(30, { { score = 40 } })
        assert.are.equal(58, a)
        assert.is_true(phishing.combine(31, { { score = 40 } }) > a)
        assert.is_true(phishing.combine(30, { { score = 40 }, { score = 1 } }) > a)
        assert.are.equal(100, phishing.combine(150, { { score = 300 } }))
        assert.are.equal("clean", phishing.verdict(39.9, config))
        assert.are.equal("suspicious", phishing.verdict(40, config))
        assert.are.equal("phishing", phishing.verdict(70, config))
    end)

    it("splits addresses as the pattern it replaces did, in linear time", function()
        local function by_pattern(s)
            local name, addr = s:match("^%s*(.-)%s*<([^>]*)>%s*$")
            if addr then return (name:gsub('^"(.*)"$', "%1")), addr end
            return "", (s:gsub("^%s+", ""):gsub("%s+$", ""))
        end
        local parts = { " ", "a", "<", ">", '"', "@", "\t", "b.example" }
        math.randomseed(7)
        for _ = 1, 5000 do
            local t = {}
            for _ = 1, math.random(0, 12) do t[#t + 1] = parts[math.random(#parts)] end
            local s = table.concat(t)
            local n1, a1 = phishing.split_address(s)
            local n2, a2 = by_pattern(s)
            assert.are.same({ n2, a2 }, { n1, a1 }, string.format("%q", s))
        end
        local t0 = os.clock()
        local hostile = string.rep(" ", 200000) .. "x"
        assert.are.same({ "", "x" }, { phishing.split_address(hostile) })
        assert.are.same({ "", "<" .. string.rep(" ", 200000) .. ">x" }, { phishing.split_address("<" .. string.rep(" ", 200000) .. ">x") })
        assert.is_true(os.clock() - t0 < 0.5)
        local _, field = phishing.from_fields({ from = string.rep(" ", 1600) .. "x" }, 1 << 20)
        assert.are.equal("from", field)
    end)

    it("checks fields", function()
        local m = assert(phishing.from_fields({ from = '"Pay Pal" <a@b.example>', to = "x@y.example", urls = { "http://1.2.3.4/" },
                                                headers = { ["Authentication-Results"] = { "mx; spf=fail" }, ["Received-SPF"] = "fail",
                                                            ["Message-ID"] = "<m@x>", ["Reply-To"] = "r@q.example" },
                                                attachments = { { name = "a.exe", size = 3 } } }, 1e6))
        assert.are.equal("Pay Pal", m.from_name)
        assert.are.equal("a@b.example", m.from)
        assert.are.equal("r@q.example", m.reply_to)
        assert.matches("http://1.2.3.4/", m.text, 1, true)
        table.sort(m.auth)   -- headers come from an object: no order
        assert.are.same({ "mx; spf=fail", "received-spf fail" }, m.auth)
        assert.are.same({ name = "a.exe", type = "", size = 3 }, m.attachments[1])
        local z = assert(phishing.from_fields({ attachments = { { name = "a.zip", contents = { "x/run.exe" } } } }, 1e6))
        local a = ph.analyze(phishing.indicator_config(ph, config), z)
        assert.is_true(a.indicators.risky_attachment and a.indicators.archive_attachment)
        local bad = {
            { { subject = 1 }, "subject" }, { { urls = "x" }, "urls" }, { { urls = { 1 } }, "urls" },
            { { headers = "x" }, "headers" }, { { headers = { x = { 1 } } }, "headers" }, { { attachments = "x" }, "attachments" },
            { { attachments = { { size = 1 } } }, "attachments" }, { { text = string.rep("x", 100) }, "body" },
            { { attachments = { { name = "a.zip", contents = "x" } } }, "attachments" },
            { { attachments = { { name = "a.zip", contents = { 1 } } } }, "attachments" },
        }
        for _, b in ipairs(bad) do
            local ok, field = phishing.from_fields(b[1], 50)
            assert.is_nil(ok)
            assert.are.equal(b[2], field)
        end
    end)

    it("takes a message raw, as message/rfc822, or as fields, and refuses the rest", function()
        local raw = "From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"
        assert.are.equal("hi", (phishing.message(ph, "application/json", nil, { raw = raw }, 1e6)).subject)
        assert.are.equal("hi", (phishing.message(ph, "message/rfc822", raw, nil, 1e6)).subject)
        assert.are.equal("x", (phishing.message(ph, "application/json", nil, { subject = "x" }, 1e6)).subject)
        -- From's entries are counted the same way whichever way the message comes
        local bad = "Microsoft account team ,<no-reply@access.example>"
        assert.are.equal(2, (phishing.message(ph, "message/rfc822", "From: " .. bad .. "\r\n\r\nx\r\n", nil, 1e6)).from_count)
        assert.are.equal(2, (phishing.message(ph, "application/json", nil, { from = bad }, 1e6)).from_count)
        assert.are.equal(1, (phishing.message(ph, "application/json", nil, { from = '"Doe, J" <j@x.example>' }, 1e6)).from_count)
        local _, s, code = phishing.message(ph, "application/json", nil, "str", 1e6)
        assert.are.same({ 400, "invalid_body" }, { s, code })
        _, s, code = phishing.message(ph, nil, nil, { raw = 5 }, 1e6)
        assert.are.same({ 400, "invalid_field" }, { s, code })
        _, s, code = phishing.message(ph, "message/rfc822", raw, nil, 10)
        assert.are.same({ 413, "payload_too_large" }, { s, code })
        _, s, code = phishing.message(ph, "message/rfc822", "", nil, 1e6)
        assert.are.same({ 422, "invalid_message" }, { s, code })
        _, s, code = phishing.message(ph, nil, nil, { raw = "From: a@b.c\r\n" .. string.rep("Content-Type: multipart/mixed; boundary=x\r\n", 300) }, 1e6)
        assert.are.same({ 422, "message_too_complex" }, { s, code })
        _, s, code = phishing.message(ph, nil, nil, { subject = 5 }, 1e6)
        assert.are.same({ 400, "invalid_field" }, { s, code })
    end)

    local function fake_rules(results)
        return { evaluate = function(c, set)
            assert.are.equal("phishing", set)
            assert.is_table(c.urls)
            return results, {}
        end }
    end

    it("analyses with the C indicators, a model and the rules", function()
        local msg = assert(phishing.message(ph, nil, nil, {
            from = "PayPal <x@paypa1.com>", to = "alice@corp.example", subject = "verify",
            html = "<a href='http://paypa1.com/login'>www.paypal.com</a>" }, 1e6))
        local model = { score = function(_, text, dense)
            assert.matches("verify", text)
            assert.are.equal(#ph.dense_names(), #dense)
            return 0.9
        end, info = function() return { dense = ph.dense_names() } end }
        local r = phishing.analyze(msg, { phishing = ph, config = config, model = model,
                                          rules = fake_rules({ { name = "a", score = 20, reason = "weak" }, { name = "b", score = 80, reason = "strong" } }) })
        assert.are.equal("b", r.rules[1].name)   -- strongest first
        assert.are.same({ "strong", "the wording reads like phishing (model 0.90)", "weak" }, r.reasons)
        assert.are.equal("phishing", r.verdict)
        assert.are.equal(0.9, r.model_score)
        assert.are.equal("paypal.com", r.urls[1].imitates)
        assert.are.equal("alice@corp.example", r.to)
        local nomodel = phishing.analyze(msg, { phishing = ph, config = config, rules = fake_rules({}) })
        assert.is_nil(nomodel.model_score)
        -- a model trained on other indicators (an older riskd) is not used
        local old = { score = function() error("must not be called") end, info = function() return { dense = { "a" } } end }
        assert.is_nil(phishing.analyze(msg, { phishing = ph, config = config, model = old, rules = fake_rules({}) }).model_score)
        assert.are.equal(0, nomodel.score)
        assert.are.equal("clean", nomodel.verdict)
    end)

    it("stores the analysis; a phishing verdict opens an alert, then joins it", function()
        local db = assert(require("riskd.store").open("sqlite::memory:"))
        local r = { verdict = "phishing", score = 90, from = "x@paypa1.com", to = "alice@corp.example", subject = "verify",
                    reasons = { "strong" }, rules = { { name = "b", score = 80 } }, urls = {}, attachments = {}, indicators = {} }
        local id, err, alert = phishing.record(db, r, config, 1700000000000)
        assert.is_string(id, err)
        assert.is_string(alert)
        local a = db:alert(alert)
        assert.are.equal("phishing", a.cause)
        assert.are.equal("alice@corp.example", a.user_id)
        assert.are.same({ id }, a.events)
        local id2, _, alert2 = phishing.record(db, r, config, 1700000060000)
        assert.are.equal(alert, alert2)
        assert.are.equal(2, db:alert(alert).event_count)
        assert.are.equal(alert, db:phish(id2).alert_id)
        r.verdict, r.to = "suspicious", nil
        local id3, _, alert3 = phishing.record(db, r, config, 1700000120000)
        assert.is_string(id3)
        assert.is_nil(alert3)
        local page = db:phish_list({ verdict = "phishing" })
        assert.are.equal(2, page.total)
        assert.are.equal(id2, page.items[1].id)   -- newest first
        assert.are.same({ "strong" }, db:phish(id).reasons)
        db:close()
    end)

    it("purges analyses older than the retention, with the events", function()
        local db = assert(require("riskd.store").open("sqlite::memory:", { retention_days = 1 }))
        local day = 86400000
        local old = assert(db:phish_insert({ ts = 1700000000000, verdict = "clean", score = 1 }))
        local new = assert(db:phish_insert({ ts = 1700000000000 + 2 * day, verdict = "clean", score = 1 }))
        assert(db:purge(1700000000000 + 2 * day + 1, 100))
        assert.are.equal("not_found", select(3, db:phish(old)))
        assert.are.equal(new, db:phish(new).id)
        db:close()
    end)
end)

describe("riskd.phishing", function()
    it("encodes with GMime and reads mailboxes", function()
        assert.are.equal("aGVsbG8=", (ph.encode("hello", "base64"):gsub("%s", "")))
        assert.matches("=E9", ph.encode("é", "quoted-printable", "iso-8859-1"))
        assert.matches("=?", ph.encode("Café", "header", "utf-8"), 1, true)
        assert.is_nil((ph.encode("x", "rot13")))
        local dir = os.tmpname()
        os.remove(dir)
        os.execute("mkdir -p " .. dir)
        local f = io.open(dir .. "/box.mbox", "w")
        f:write("From a@b Thu Jan  1 00:00:00 1970\nSubject: one\n\nbody\n\nFrom c@d Thu Jan  1 00:00:00 1970\nSubject: two\n\nbody\n")
        f:close()
        local subjects = {}
        for raw, source in assert(ph.messages(dir)) do subjects[#subjects + 1] = assert(ph.parse(raw)).subject .. "@" .. source:match("#%d+$") end
        assert.are.same({ "one@#1", "two@#2" }, subjects)
        assert.is_nil((ph.messages(dir .. "/nope")))
        os.execute("rm -rf " .. dir)
    end)

    it("trains, scores, explains and round-trips a model", function()
        local t = ph.trainer()
        for i = 1, 60 do
            t:add("verify your password now " .. i, { 1, 0 }, 1)
            t:add("lunch on friday with the team " .. i, { 0, 0 }, 0)
        end
        assert.are.equal(120, t:count())
        assert.has_error(function() t:add("x", { 1 }, 1) end)
        local m = assert(t:train({ epochs = 5, seed = 3 }))
        assert.is_true(m:score("please verify your password", { 1, 0 }) > 0.8)
        assert.is_true(m:score("friday lunch", { 0, 0 }) < 0.2)
        local e = m:explain("verify your password", { 1, 0 }, 3)
        assert.is_true(#e >= 1 and e[1].contribution >= (e[2] and e[2].contribution or -math.huge))
        m:set_metric("auc", 0.5)
        local path = os.tmpname()
        assert(m:save(path))
        local l = assert(ph.load(path))
        assert.are.equal(0.5, l:info().metrics.auc)
        assert.are.equal(m:score("x", { 1, 0 }), l:score("x", { 1, 0 }))
        os.remove(path)
        local bad, err, code = ph.load(path)
        assert.is_nil(bad)
        assert.is_string(err)
        assert.are.equal("invalid_model", code)
        local one = ph.trainer()
        one:add("a", nil, 1)
        assert.is_nil((one:train()))
    end)
end)
