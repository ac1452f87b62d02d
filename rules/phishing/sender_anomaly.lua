-- What modern phishing and scam mail shows about its sender and subject that
-- genuine senders seldom do: a From domain under no real top-level domain
-- or under one mostly seen in abuse, mail sent from free app hosting, a
-- sender address of random letters or long digit runs, the recipient's own
-- address in the subject, a subject in "styled" Unicode letters (𝐒𝐄𝐋𝐋)
-- that slips past word filters, a protected brand named in the subject by
-- another domain (weak: discussion lists name brands too), a From header
-- that holds more than one entry ("Microsoft account team ,<a@b>": a bare
-- comma turns the name into an entry of its own; a sender is one mailbox,
-- and genuine mailers quote the names they write), a subject or sender's
-- name encoded though it is plain ASCII (base64 of "Congratulations": word
-- filters read the encoding). A missing From is not counted: bounces and
-- notices often have none.
return {
    name = "sender_anomaly",
    description = "a From domain that is not a domain name, sent from free app hosting, the recipient's address in the subject, a brand named in the subject by another domain",
    weights = {
        malformed_sender = 35,      -- "promocoes325278598", "%detran.com.br": no real top-level domain
        cheap_tld_sender = 25,      -- a From domain under .top, .click, .shop...
        free_hosting = 35,          -- From or a link on firebaseapp.com, web.app, pages.dev...
        random_sender = 15,         -- five consonants in a row ("unpvngephlzcsysntf"): made up
        digits_in_sender = 20,      -- five digits in a row before the @ ("sac9283940324recompensa")
        recipient_in_subject = 45,  -- "alice@example.com, your parcel is waiting"
        styled_subject = 30,        -- mathematical alphanumeric letters in the subject
        brand_in_subject = 15,      -- "Binance security alert" from libreriacies.es
        malformed_from = 30,        -- From: "Bahngutscheine, <>, service@..." (several entries)
        needless_encoding = 25,     -- Subject: =?UTF-8?B?Q29uZ3JhdHVsYXRpb25z?=
    },
    evaluate = function(ctx)
        local w, msg, a = config.weights, ctx.message, ctx.analysis
        local keep, reasons = 1, {}
        local function add(weight, why)
            keep = keep * (1 - weight / 100)
            reasons[#reasons + 1] = why
        end
        local from = (msg.from or ""):lower()
        local from_domain = a.from_domain or ""
        if from ~= "" and not a.from_known_tld then
            add(w.malformed_sender, string.format("the sender %s is not under a real domain name", msg.from))
        elseif a.from_cheap_tld then
            add(w.cheap_tld_sender, string.format("the sender's domain %s is under a top-level domain mostly seen in abuse", from_domain))
        end
        -- free hosting names its customers as subdomains (some on the public
        -- suffix list): a match is the name or a subdomain of it
        local function hosted_on(domain)
            for _, d in ipairs(config.free_hosting or {}) do
                if domain == d or domain:sub(-#d - 1) == "." .. d then return d end
            end
        end
        local hosted = hosted_on(from_domain)
        for _, u in ipairs(ctx.urls) do hosted = hosted or hosted_on(u.host or "") end
        if hosted then add(w.free_hosting, "sent or linked through " .. hosted .. ", free app hosting") end
        local letters = from:gsub("[^a-z]", " ")
        if letters:find("[bcdfghjklmnpqrstvwxz][bcdfghjklmnpqrstvwxz][bcdfghjklmnpqrstvwxz][bcdfghjklmnpqrstvwxz][bcdfghjklmnpqrstvwxz]") then
            add(w.random_sender, "the sender's address looks made up")
        end
        if (from:match("^([^@]+)@") or ""):find("%d%d%d%d%d") then add(w.digits_in_sender, "the sender's address is numbered") end
        if (msg.from_count or 1) > 1 then add(w.malformed_from, "the From header holds more than one entry") end
        if msg.needless_encoding then add(w.needless_encoding, "the subject or sender's name is encoded though it is plain ASCII") end
        if (msg.subject or ""):find("\240\157[\144-\159]") then add(w.styled_subject, "the subject is written in styled letters") end
        local subject = (msg.subject or ""):lower()
        local to = (msg.to or ""):lower()
        if #to >= 3 and subject:find(to, 1, true) then add(w.recipient_in_subject, "the subject names the recipient's address") end
        local from_label = (a.from_domain or ""):match("^([^.]+)") or ""
        for _, d in ipairs(config.protected_domains or {}) do
            local label = d:match("^([^.]+)")
            if #label >= 4 and label ~= from_label and subject:find("%f[%w]" .. label .. "%f[%W]") then
                add(w.brand_in_subject, string.format("the subject names %s, the sender is %s", d, from_domain ~= "" and from_domain or "unknown"))
                break
            end
        end
        if #reasons > 0 then return math.floor(100 * (1 - keep) + 0.5), table.concat(reasons, "; ") end
    end,
}
