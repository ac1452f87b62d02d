-- lib/synth_mail.lua — labelled synthetic email (RFC 5322, written with
-- GMime's encoders through riskd.phishing.encode), for the default phishing
-- model, the tests and `make bench`.
--
-- Built to be hard and varied rather than easy:
--   languages   en, de, fr, es, it, pt, nl (phishing and legitimate alike)
--   eras        plain text in ISO-8859-1 or UTF-8 with quoted-printable
--               (old mail), HTML-only base64 (newsletters, modern phishing),
--               multipart/alternative, attachments
--   phishing    look-alike and confusable domains, brand names in other
--               domains, link text showing the real brand, IP hosts,
--               shorteners, password forms in the mail, risky or disguised
--               attachments, display-name spoofing, failed SPF/DKIM/DMARC,
--               and "quiet" ones: a plain request and a link to some
--               compromised site, no brand, no indicator but the wording
--   legitimate  colleagues (plain, replies, office attachments), genuine
--               notices from the brands' real domains that talk about
--               passwords and verification (hard negatives), newsletters
--               with long tracking links and shorteners, receipts
-- brands: the list phishing imitates and genuine notices come from; a
-- held-out set uses another list (opts.brands) and another seed.
local ph = require("riskd.phishing")

local M = {}

local rand = math.random
local function pick(t) return t[rand(#t)] end

M.BRANDS = {
    { "PayPal", "paypal.com" }, { "Microsoft", "microsoft.com" }, { "Apple", "apple.com" }, { "Amazon", "amazon.com" },
    { "Netflix", "netflix.com" }, { "DHL", "dhl.com" }, { "Google", "google.com" }, { "LinkedIn", "linkedin.com" },
}
M.OTHER_BRANDS = {
    { "Dropbox", "dropbox.com" }, { "DocuSign", "docusign.com" }, { "Chase", "chase.com" }, { "Adobe", "adobe.com" },
    { "FedEx", "fedex.com" }, { "Coinbase", "coinbase.com" }, { "eBay", "ebay.com" }, { "Wells Fargo", "wellsfargo.com" },
}

local FIRST = { "Anna", "Lukas", "Marie", "Pierre", "Lucía", "Marco", "João", "Sanne", "James", "Olivia", "Hans", "Chloé",
                "Diego", "Giulia", "Ana", "Bram", "Sophie", "Tom", "Elena", "Noah" }
local LAST = { "Müller", "Schmidt", "Dubois", "Martin", "García", "Rossi", "Silva", "de Vries", "Smith", "Brown", "Weber",
               "Bernard", "López", "Bianchi", "Costa", "Jansen", "Taylor", "Fischer", "Moreau", "Ferrari" }
local ORGS = { "northwind", "contoso", "fabrikam", "tailspin", "adatum", "litware", "proseware", "wingtip" }
local TLDS = { "com", "net", "org", "de", "fr", "es", "it", "nl", "io", "co" }
local JUNK_TLDS = { "xyz", "top", "info", "online", "site", "live", "club", "icu", "shop", "support" }
local WORDS = { "secure", "login", "account", "verify", "update", "support", "service", "billing", "auth", "id", "help" }
local SITES = { "bakery", "garden", "photo", "travel", "yoga", "dental", "florist", "cycling", "music", "pottery" }

-- ---- the languages ---------------------------------------------------------
-- Phishing: subject and body templates; legitimate: colleagues and notices.
-- {brand}, {name}, {link}, {n}, {amount}, {day} are filled in.
local L = {}
L.en = {
    phish_subj = { "Your {brand} account has been suspended", "Action required: verify your account", "Unusual sign-in activity",
                   "Your mailbox is almost full", "Payment declined - update your billing information", "Final notice: your account will be closed" },
    phish_body = {
        "Dear customer,\n\nWe detected unusual activity on your {brand} account. To avoid suspension you must verify your account within 24 hours.\n\nVerify now: {link}\n\nIf you do not confirm your identity, access will be restricted.\n\n{brand} Security Team",
        "Hello {name},\n\nYour password expires today. Sign in to keep your current password: {link}\n\nIT Helpdesk",
        "Your payment of {amount} could not be processed. Please update your payment details immediately at {link} or your subscription will be cancelled.",
        "We were unable to deliver your parcel {n}. Confirm your address and pay the customs fee of {amount}: {link}",
        "Hi,\n\nplease review the shared document and log in with your email password to view it.\n{link}\n\nThanks",
    },
    quiet_body = { "Hi {name},\n\ncould you take a look at this before the end of the day? {link}\n\nThanks", "Invoice {n} is attached here: {link}\nPlease confirm receipt." },
    legit_subj = { "Minutes of Tuesday's meeting", "Re: project timeline", "Lunch on Friday?", "Quarterly report draft", "Holiday schedule",
                   "Re: Re: budget figures", "Photos from the offsite" },
    legit_body = {
        "Hi {name},\n\nattached are the minutes of Tuesday's meeting. Let me know if I missed anything.\n\nBest,\n{me}",
        "Hello all,\n\nthe draft of the quarterly report is ready for comments. Please send your changes by {day}.\n\nRegards,\n{me}",
        "Sounds good, see you at noon on Friday. I booked a table for {n}.\n\n{me}",
        "Thanks {name}, the figures look right to me. I'll forward them to finance.\n\n> Could you check the budget figures?\n\n{me}",
    },
    notice_subj = { "Your {brand} password was changed", "Your receipt from {brand}", "New sign-in to your {brand} account", "Your order has shipped" },
    notice_body = {
        "Hello {name},\n\nthe password for your {brand} account was changed on {day}. If this was you, there is nothing else to do. If not, visit your account settings at {link}.\n\nThe {brand} team",
        "Thanks for your purchase of {amount}. You can view your receipt and manage your account at {link}.",
        "We noticed a new sign-in to your {brand} account from a new device. If this was you, you can ignore this email. Review your security settings: {link}",
    },
    news_subj = { "This week's top stories", "Our spring collection is here", "Your monthly digest", "Webinar: security basics" },
}
L.de = {
    phish_subj = { "Ihr {brand} Konto wurde gesperrt", "Dringend: Bestätigen Sie Ihre Daten", "Ungewöhnliche Anmeldeaktivität" },
    phish_body = {
        "Sehr geehrter Kunde,\n\nwir haben ungewöhnliche Aktivitäten in Ihrem {brand} Konto festgestellt. Bitte bestätigen Sie Ihre Identität innerhalb von 24 Stunden, sonst wird Ihr Konto gesperrt.\n\nJetzt bestätigen: {link}\n\nIhr {brand} Sicherheitsteam",
        "Hallo {name},\n\nIhr Passwort läuft heute ab. Melden Sie sich sofort an, um es zu behalten: {link}",
        "Ihre Zahlung über {amount} wurde abgelehnt. Aktualisieren Sie Ihre Zahlungsdaten: {link}",
    },
    quiet_body = { "Hallo {name},\n\nkannst du dir das bitte heute noch ansehen? {link}\n\nDanke" },
    legit_subj = { "Protokoll der Besprechung", "AW: Zeitplan", "Mittagessen am Freitag?", "Entwurf Quartalsbericht" },
    legit_body = { "Hallo {name},\n\nanbei das Protokoll der Besprechung vom Dienstag.\n\nViele Grüße\n{me}",
                   "Hallo zusammen,\n\nder Entwurf des Quartalsberichts ist fertig. Bitte Anmerkungen bis {day}.\n\nGruß\n{me}" },
    notice_subj = { "Ihr {brand} Passwort wurde geändert", "Ihre Bestellung wurde versandt" },
    notice_body = { "Hallo {name},\n\ndas Passwort Ihres {brand} Kontos wurde am {day} geändert. Falls Sie das nicht waren, prüfen Sie Ihre Einstellungen: {link}" },
    news_subj = { "Unser Newsletter im März", "Die neue Kollektion ist da" },
}
L.fr = {
    phish_subj = { "Votre compte {brand} est suspendu", "Action requise : vérifier votre compte", "Dernier avis avant fermeture" },
    phish_body = {
        "Cher client,\n\nnous avons détecté une activité inhabituelle sur votre compte {brand}. Vous devez vérifier votre compte sous 24 heures, sinon il sera bloqué.\n\nConnectez-vous : {link}\n\nService sécurité {brand}",
        "Bonjour {name},\n\nvotre mot de passe expire aujourd'hui. Confirmez-le immédiatement : {link}",
        "Votre paiement de {amount} a été refusé. Mettez à jour vos informations de paiement : {link}",
    },
    quiet_body = { "Bonjour {name},\n\npeux-tu regarder ce document aujourd'hui ? {link}\n\nMerci" },
    legit_subj = { "Compte rendu de la réunion", "RE: planning du projet", "Déjeuner vendredi ?", "Brouillon du rapport trimestriel" },
    legit_body = { "Bonjour {name},\n\nvoici le compte rendu de la réunion de mardi.\n\nCordialement,\n{me}",
                   "Bonjour à tous,\n\nle brouillon du rapport est prêt. Merci d'envoyer vos remarques avant {day}.\n\n{me}" },
    notice_subj = { "Votre mot de passe {brand} a été modifié", "Votre commande a été expédiée" },
    notice_body = { "Bonjour {name},\n\nle mot de passe de votre compte {brand} a été modifié le {day}. Si ce n'était pas vous, consultez vos paramètres : {link}" },
    news_subj = { "Les actualités de la semaine", "Notre nouvelle collection" },
}
L.es = {
    phish_subj = { "Su cuenta {brand} ha sido suspendida", "Urgente: verifique su cuenta" },
    phish_body = {
        "Estimado cliente,\n\nhemos detectado actividad inusual en su cuenta {brand}. Verifique su cuenta inmediatamente o será bloqueada.\n\nIniciar sesión: {link}\n\nEquipo de seguridad de {brand}",
        "Hola {name},\n\nsu contraseña caduca hoy. Confírmela aquí: {link}",
    },
    quiet_body = { "Hola {name},\n\n¿puedes revisar esto hoy? {link}\n\nGracias" },
    legit_subj = { "Acta de la reunión", "RE: calendario del proyecto", "¿Comida el viernes?" },
    legit_body = { "Hola {name},\n\nadjunto el acta de la reunión del martes.\n\nUn saludo,\n{me}" },
    notice_subj = { "Su contraseña de {brand} ha cambiado", "Su pedido ha sido enviado" },
    notice_body = { "Hola {name},\n\nla contraseña de su cuenta {brand} se cambió el {day}. Si no fue usted, revise su configuración: {link}" },
    news_subj = { "Las noticias de la semana" },
}
L.it = {
    phish_subj = { "Il tuo account {brand} è stato sospeso", "Verifica il tuo account" },
    phish_body = { "Gentile cliente,\n\nabbiamo rilevato attività insolite sul tuo account {brand}. Verifica il tuo account immediatamente, altrimenti sarà bloccato.\n\nAccedi: {link}" },
    quiet_body = { "Ciao {name},\n\npuoi dare un'occhiata oggi? {link}\n\nGrazie" },
    legit_subj = { "Verbale della riunione", "R: tempistiche del progetto" },
    legit_body = { "Ciao {name},\n\nin allegato il verbale della riunione di martedì.\n\nCordiali saluti,\n{me}" },
    notice_subj = { "La password di {brand} è stata modificata" },
    notice_body = { "Ciao {name},\n\nla password del tuo account {brand} è stata modificata il {day}. Se non sei stato tu, controlla le impostazioni: {link}" },
    news_subj = { "Le notizie della settimana" },
}
L.pt = {
    phish_subj = { "Sua conta {brand} foi suspensa", "Verifique sua conta imediatamente" },
    phish_body = { "Prezado cliente,\n\ndetectamos atividade incomum em sua conta {brand}. Verifique sua conta imediatamente ou ela será bloqueada.\n\nAcesse: {link}\n\nInforme sua senha para continuar." },
    quiet_body = { "Olá {name},\n\npode ver isto hoje? {link}\n\nObrigado" },
    legit_subj = { "Ata da reunião", "RE: cronograma do projeto" },
    legit_body = { "Olá {name},\n\nsegue a ata da reunião de terça-feira.\n\nAtenciosamente,\n{me}" },
    notice_subj = { "Sua senha {brand} foi alterada" },
    notice_body = { "Olá {name},\n\na senha da sua conta {brand} foi alterada em {day}. Se não foi você, verifique suas configurações: {link}" },
    news_subj = { "As notícias da semana" },
}
L.nl = {
    phish_subj = { "Uw {brand} account is geblokkeerd", "Bevestig uw gegevens onmiddellijk" },
    phish_body = { "Beste klant,\n\nwij hebben ongebruikelijke activiteit op uw {brand} account gezien. Bevestig uw gegevens onmiddellijk, anders wordt uw account geblokkeerd.\n\nInloggen: {link}" },
    quiet_body = { "Hoi {name},\n\nkun je hier vandaag naar kijken? {link}\n\nBedankt" },
    legit_subj = { "Notulen van de vergadering", "RE: planning project" },
    legit_body = { "Hoi {name},\n\nin de bijlage de notulen van de vergadering van dinsdag.\n\nGroet,\n{me}" },
    notice_subj = { "Uw {brand} wachtwoord is gewijzigd" },
    notice_body = { "Hallo {name},\n\nhet wachtwoord van uw {brand} account is gewijzigd op {day}. Was u dit niet? Controleer uw instellingen: {link}" },
    news_subj = { "Het nieuws van deze week" },
}
M.LANGS = { "en", "en", "en", "de", "fr", "es", "it", "pt", "nl" }   -- English most often

local FILLER = {
    "Read the full story on our website.", "Discover what's new this season.", "Our team has been busy this month.",
    "Thank you for being a reader.", "Here are the highlights you may have missed.", "Events near you this week.",
}

-- ---- pieces ----------------------------------------------------------------

local function fill(t, v)
    return (t:gsub("{(%w+)}", function(k) return v[k] or "" end))
end

local function person() return pick(FIRST) .. " " .. pick(LAST) end

local function ascii_name(s)
    return (s:lower():gsub("[^a-z]", ""))
end

local function org_domain() return pick(ORGS) .. "." .. pick(TLDS) end

-- Domains a phisher uses for brand b = { name, domain }.
local CONFUSABLE = { a = "\xd0\xb0", e = "\xd0\xb5", o = "\xd0\xbe", p = "\xd1\x80", c = "\xd1\x81", x = "\xd1\x85" }
local function phish_domain(b)
    local label, suffix = b[2]:match("^([^.]+)%.(.+)$")
    local k = rand(7)
    if k == 1 then   -- a character swapped for a digit or a neighbour
        local subs = { o = "0", l = "1", i = "1", e = "3", a = "4", s = "5" }
        local out, done = {}, false
        for ch in label:gmatch(".") do
            if not done and subs[ch] then out[#out + 1] = subs[ch]; done = true else out[#out + 1] = ch end
        end
        if not done then out[#out] = out[#out] .. out[#out] end   -- a doubled letter
        return table.concat(out) .. "." .. suffix
    elseif k == 2 then   -- confusable characters, as punycode
        local out, done = {}, false
        for ch in label:gmatch(".") do
            if not done and CONFUSABLE[ch] then out[#out + 1] = CONFUSABLE[ch]; done = true else out[#out + 1] = ch end
        end
        return table.concat(out) .. "." .. suffix   -- written in Unicode: the parser takes it to punycode
    elseif k == 3 then
        return label .. "-" .. pick(WORDS) .. "." .. pick(JUNK_TLDS)
    elseif k == 4 then
        return b[2] .. "." .. pick(WORDS) .. "-" .. pick(WORDS) .. "." .. pick(JUNK_TLDS)
    elseif k == 5 then
        return pick(WORDS) .. "-" .. label .. "." .. pick(TLDS)
    elseif k == 6 then
        return label .. "." .. pick({ "co", "net", "info", "support" })
    end
    return pick(WORDS) .. rand(10, 999) .. "." .. pick(JUNK_TLDS)   -- no brand in it at all
end

local function path() return "/" .. pick({ "login", "signin", "verify", "account/update", "secure/auth", "wp-content/x", "billing" }) ..
    (rand(2) == 1 and ("?id=" .. rand(1e5, 1e9)) or "") end

local function phish_link(b)
    local k = rand(10)
    if k == 1 then return string.format("http://%d.%d.%d.%d%s", rand(11, 220), rand(0, 255), rand(0, 255), rand(1, 254), path()) end
    if k == 2 then return "https://" .. pick({ "bit.ly", "tinyurl.com", "cutt.ly", "rb.gy" }) .. "/" .. string.format("%x", rand(1e6, 1e9)) end
    if k == 3 then return "https://www." .. b[2] .. "@" .. phish_domain(b) .. path() end
    if k == 4 then return "https://" .. pick(SITES) .. pick(SITES) .. "." .. pick(TLDS) .. "/wp-includes/" .. pick(WORDS) .. ".php" end
    return (rand(4) == 1 and "http://" or "https://") .. phish_domain(b) .. path()
end

local function html_page(paragraphs, links, extra)
    local out = { "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>p{font-family:Arial}</style></head><body>" }
    for _, p in ipairs(paragraphs) do out[#out + 1] = "<p>" .. p:gsub("\n", "<br>") .. "</p>" end
    for _, l in ipairs(links) do out[#out + 1] = string.format("<p><a href=\"%s\">%s</a></p>", l[1], l[2]) end
    if extra then out[#out + 1] = extra end
    out[#out + 1] = "</body></html>"
    return table.concat(out, "\n")
end

-- ---- writing a message -----------------------------------------------------

local function enc(text, how, charset) return assert(ph.encode(text, how, charset)) end

local function header_line(name, value)
    return name .. ": " .. enc(value, "header", "utf-8") .. "\r\n"
end

local function date(ts)
    return os.date("!%a, %d %b %Y %H:%M:%S +0000", ts)
end

-- A body part: text in a charset with a transfer encoding.
local function text_part(ctype, text, era)
    local charset = era == "old" and "iso-8859-1" or "utf-8"
    local te = era == "old" and "quoted-printable" or (rand(2) == 1 and "base64" or "quoted-printable")
    return string.format("Content-Type: %s; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n%s\r\n", ctype, charset, te,
        enc(text:gsub("\r?\n", "\r\n"), te, charset))
end

local function attachment_part(name, ctype, size)
    local blob = {}
    for i = 1, math.max(1, size // 16) do blob[i] = string.format("%016x", rand(0, 0x7fffffff) * 7919 + i) end
    return string.format("Content-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n" ..
        "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n", ctype, name, name, enc(table.concat(blob), "base64"))
end

-- m = { from, from_name, to, subject, text, html, reply_to, return_path,
-- auth, attachments = {{name, type, size}}, era, ts }
function M.write(m)
    local h = {}
    h[#h + 1] = "Return-Path: <" .. (m.return_path or m.from) .. ">\r\n"
    if m.auth then h[#h + 1] = "Authentication-Results: mx.example.net; " .. m.auth .. "\r\n" end
    local name = m.from_name and m.from_name ~= "" and (enc(m.from_name, "phrase", "utf-8") .. " ") or ""
    h[#h + 1] = "From: " .. name .. "<" .. m.from .. ">\r\n"
    h[#h + 1] = "To: <" .. m.to .. ">\r\n"
    if m.reply_to then h[#h + 1] = "Reply-To: <" .. m.reply_to .. ">\r\n" end
    h[#h + 1] = header_line("Subject", m.subject)
    h[#h + 1] = "Date: " .. date(m.ts) .. "\r\n"
    h[#h + 1] = string.format("Message-ID: <%x.%x@%s>\r\n", rand(1, 0x7fffffff), rand(1, 0x7fffffff), m.from:match("@(.*)$") or "x")
    h[#h + 1] = "MIME-Version: 1.0\r\n"
    local parts = {}
    if m.text and m.html then
        local b = string.format("alt_%x", rand(1, 0x7fffffff))
        parts[1] = "Content-Type: multipart/alternative; boundary=\"" .. b .. "\"\r\n\r\n--" .. b .. "\r\n" ..
            text_part("text/plain", m.text, m.era) .. "--" .. b .. "\r\n" .. text_part("text/html", m.html, m.era) .. "--" .. b .. "--\r\n"
    elseif m.html then
        parts[1] = text_part("text/html", m.html, m.era)
    else
        parts[1] = text_part("text/plain", m.text or "", m.era)
    end
    for _, a in ipairs(m.attachments or {}) do parts[#parts + 1] = attachment_part(a.name, a.type, a.size) end
    if #parts == 1 then return table.concat(h) .. parts[1] end
    local b = string.format("mix_%x", rand(1, 0x7fffffff))
    local out = { table.concat(h), "Content-Type: multipart/mixed; boundary=\"" .. b .. "\"\r\n\r\n" }
    for _, p in ipairs(parts) do out[#out + 1] = "--" .. b .. "\r\n" .. p end
    out[#out + 1] = "--" .. b .. "--\r\n"
    return table.concat(out)
end

-- ---- one message of each class ----------------------------------------------

local function pad_html(paras, target)
    local n = 0
    for _, p in ipairs(paras) do n = n + #p end
    while n < target do
        local p = {}
        for i = 1, 6 do p[i] = pick(FILLER) end
        paras[#paras + 1] = table.concat(p, " ")
        n = n + #paras[#paras]
    end
end

local function vars(b, me, to_name, link)
    return { brand = b[1], name = to_name, me = me, link = link, n = tostring(rand(1000, 99999)),
             amount = string.format("%d.%02d EUR", rand(5, 900), rand(0, 99)), day = string.format("%d/%d", rand(1, 28), rand(1, 12)) }
end

function M.phishing(o, ts)
    local lang = L[pick(M.LANGS)]
    local b = pick(o.brands)
    local to_first, to_last = pick(FIRST), pick(LAST)
    local to = ascii_name(to_first) .. "." .. ascii_name(to_last) .. "@" .. o.org
    local link = phish_link(b)
    local kind = rand(10)
    local quiet = kind == 10
    local body = fill(pick(quiet and lang.quiet_body or lang.phish_body), vars(b, person(), to_first, link))
    local m = { to = to, ts = ts, era = rand(4) == 1 and "old" or "new", subject = fill(pick(lang.phish_subj), { brand = b[1] }) }
    local sender_domain = rand(3) == 1 and phish_domain(b) or (pick(SITES) .. rand(1, 99) .. "." .. pick(JUNK_TLDS))
    if quiet then   -- a colleague's compromised account: nothing but the wording and the link
        m.from_name, m.from = person(), ascii_name(pick(FIRST)) .. "@" .. org_domain()
        m.subject = pick(lang.legit_subj)
    else
        m.from_name = rand(3) > 1 and (b[1] .. (rand(2) == 1 and " Support" or "")) or ("security@" .. b[2])
        m.from = pick({ "no-reply", "security", "service", "support", "billing" }) .. "@" .. sender_domain:gsub("[^%w%.%-]", "x")
    end
    if rand(3) == 1 then m.reply_to = "help" .. rand(1, 99) .. "@" .. pick({ "gmail.com", "outlook.com", "mail.ru", "proton.me" }) end
    if rand(2) == 1 then
        m.auth = pick({ "spf=fail smtp.mailfrom=" .. sender_domain .. "; dkim=none; dmarc=fail",
                        "spf=softfail; dkim=fail; dmarc=fail (p=reject)", "spf=pass; dkim=pass; dmarc=pass",
                        "spf=neutral; dkim=none; dmarc=none" })
    end
    if kind <= 5 or (m.era == "new" and rand(2) == 1) then   -- HTML, the link dressed as the brand's
        local shown = rand(2) == 1 and ("https://www." .. b[2] .. "/account") or pick({ "Verify now", "Sign in", "Confirm", "Click here", "Log in" })
        local paras = { (body:gsub(link:gsub("%p", "%%%0"), "")) }
        local extra
        if kind == 4 then
            extra = "<form action=\"" .. phish_link(b) .. "\" method=\"post\"><input type=\"email\" name=\"e\">" ..
                "<input type=\"password\" name=\"p\"><button>OK</button></form>"
        end
        m.html = html_page(paras, { { link, shown } }, extra)
        if o.size then pad_html(paras, o.size); m.html = html_page(paras, { { link, shown } }, extra) end
        if rand(3) == 1 then m.text = body end
    else
        m.text = body
    end
    if kind == 6 or kind == 7 then
        local att = pick({ { "invoice_" .. rand(100, 999) .. ".pdf.exe", "application/octet-stream" },
                           { "Rechnung_" .. rand(100, 999) .. ".xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12" },
                           { "document.html", "text/html" }, { "scan_" .. rand(100, 999) .. ".zip", "application/zip" },
                           { "payment.pdf.js", "application/javascript" }, { "order.iso", "application/octet-stream" } })
        m.attachments = { { name = att[1], type = att[2], size = rand(200, 4000) } }
    end
    return m
end

function M.legitimate(o, ts)
    local lang = L[pick(M.LANGS)]
    local to_first, to_last = pick(FIRST), pick(LAST)
    local to = ascii_name(to_first) .. "." .. ascii_name(to_last) .. "@" .. o.org
    local kind = rand(10)
    local m = { to = to, ts = ts, era = rand(3) == 1 and "old" or "new" }
    if kind <= 4 then   -- a colleague
        local me_first = pick(FIRST)
        m.from_name, m.from = me_first .. " " .. pick(LAST), ascii_name(me_first) .. "@" .. (rand(3) == 1 and org_domain() or o.org)
        m.subject = pick(lang.legit_subj)
        m.text = fill(pick(lang.legit_body), vars(pick(o.brands), me_first, to_first, ""))
        if rand(5) == 1 then m.text = m.text .. "\n\nShared folder: https://" .. o.org .. "/share/" .. rand(1e4, 1e6) end
        if rand(3) == 1 then
            local att = pick({ { "minutes.pdf", "application/pdf" }, { "report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
                               { "figures.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" }, { "photos.zip", "application/zip" } })
            m.attachments = { { name = att[1], type = att[2], size = rand(500, 5000) } }
        end
        if rand(4) == 1 then m.auth = "spf=pass; dkim=pass; dmarc=pass" end
    elseif kind <= 7 then   -- a genuine notice from the brand's own domain (talks of passwords)
        local b = pick(o.brands)
        local link = "https://" .. pick({ "www.", "accounts.", "account.", "" }) .. b[2] .. "/" .. pick({ "security", "settings", "orders/" .. rand(1e5, 1e7), "receipt" })
        m.from_name, m.from = b[1], pick({ "no-reply", "account-security", "service", "orders" }) .. "@" .. pick({ "", "mail.", "email." }) .. b[2]
        m.subject = fill(pick(lang.notice_subj), { brand = b[1] })
        local body = fill(pick(lang.notice_body), vars(b, "", to_first, link))
        if rand(2) == 1 then
            local paras = { (body:gsub(link:gsub("%p", "%%%0"), "")) }
            m.html = html_page(paras, { { link, pick({ "Review settings", link, b[2] }) } })
            if o.size then pad_html(paras, o.size); m.html = html_page(paras, { { link, b[2] } }) end
        else
            m.text = body
        end
        m.auth = rand(5) > 1 and "spf=pass; dkim=pass header.d=" .. b[2] .. "; dmarc=pass" or nil
    else   -- a newsletter: many links, tracking, a shortener now and then
        local site = pick(SITES) .. pick({ "weekly", "news", "shop", "club" }) .. "." .. pick(TLDS)
        m.from_name, m.from = site:match("^[^.]+"), "news@" .. site
        m.subject = pick(lang.news_subj)
        local paras, links = {}, {}
        for i = 1, rand(3, 8) do paras[i] = pick(FILLER) .. " " .. pick(FILLER) end
        for i = 1, rand(4, 10) do
            local l = "https://" .. (rand(3) == 1 and "click." or "") .. site .. "/" .. pick({ "story", "item", "event" }) .. "/" .. rand(1e3, 1e6) ..
                (rand(2) == 1 and ("?utm_source=newsletter&utm_medium=email&utm_campaign=" .. rand(1e6, 1e9) .. "&uid=" .. string.format("%x", rand(1e8, 2e9))) or "")
            links[i] = { l, pick({ "Read more", "Shop now", "Details", "See the event" }) }
        end
        if rand(4) == 1 then links[#links + 1] = { "https://bit.ly/" .. string.format("%x", rand(1e6, 1e9)), "Share" } end
        links[#links + 1] = { "https://" .. site .. "/unsubscribe?u=" .. rand(1e5, 1e8), "Unsubscribe" }
        if o.size then pad_html(paras, o.size) end
        m.html = html_page(paras, links)
        m.auth = rand(2) == 1 and "spf=pass; dkim=pass; dmarc=pass" or nil
        m.era = "new"
    end
    return m
end

-- Calls emit(raw, label) count times per class, interleaved. opts: count,
-- seed, brands (a list of {name, domain}), size (pad HTML bodies to about
-- this many bytes), org (the recipients' domain).
function M.generate(opts, emit)
    math.randomseed(opts.seed or 1)
    local o = { brands = opts.brands or M.BRANDS, org = opts.org or "example.org", size = opts.size }
    local ts = 1700000000
    for _ = 1, opts.count do
        ts = ts + rand(60, 3600)
        emit(M.write(M.phishing(o, ts)), "phishing")
        ts = ts + rand(60, 3600)
        emit(M.write(M.legitimate(o, ts)), "legitimate")
    end
end

-- mbox: "From " separator lines, body lines starting with "From " quoted.
function M.mbox_entry(raw)
    return "From riskd@localhost Thu Jan  1 00:00:00 1970\n" .. raw:gsub("\r\n", "\n"):gsub("\nFrom ", "\n>From ") .. "\n"
end

return M
