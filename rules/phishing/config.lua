-- rules/phishing/config.lua — thresholds, weights and lists of the phishing
-- rules (this folder) and of the verdict. Rules see it as the global
-- `config`; scripts/lib/phishing.lua reads it with
-- riskd.rules.config("phishing"). Edit it live, like the login rules'.
return {
    -- score (0-100) at which each verdict starts
    verdicts = { suspicious = 40, phishing = 70 },
    -- the text model's share: it adds model_score × model_weight, combined
    -- with the rules as independent evidence (never lowering the score)
    model_weight = 60,
    -- a verdict at or above this opens an alert (or joins the open one for
    -- the same recipient within alert_window_minutes)
    alert_verdict = "phishing",
    alert_window_minutes = 10,
    severity = { suspicious = "medium", phishing = "high" },

    -- brands worth imitating: their registrable domains. Look-alikes,
    -- confusable characters and brand names in other domains are measured
    -- against these. Add your own organisation's domains.
    protected_domains = {
        "paypal.com", "microsoft.com", "office.com", "outlook.com", "live.com", "apple.com", "icloud.com",
        "google.com", "gmail.com", "amazon.com", "netflix.com", "facebook.com", "instagram.com", "linkedin.com",
        "dropbox.com", "docusign.com", "adobe.com", "dhl.com", "fedex.com", "ups.com", "usps.com", "chase.com",
        "wellsfargo.com", "bankofamerica.com", "citibank.com", "americanexpress.com", "hsbc.com", "barclays.co.uk",
        "ebay.com", "coinbase.com", "binance.com", "yahoo.com", "twitter.com", "whatsapp.com", "steamcommunity.com",
        "irs.gov", "gov.uk", "sparkasse.de", "postbank.de", "bnpparibas.com", "santander.com", "ing.com",
        -- the brands' own mail and service domains, which contain their names
        "googlemail.com", "amazonses.com", "amazonaws.com", "onmicrosoft.com", "microsoftonline.com",
        "sharepoint.com", "office365.com", "googlegroups.com", "googleusercontent.com",
    },
    -- free app and page hosting where anyone can publish a page or send as
    -- a subdomain: a sender or a link there (rules/phishing/sender_anomaly.lua)
    free_hosting = {
        "firebaseapp.com", "web.app", "appspot.com", "pages.dev", "workers.dev", "netlify.app", "vercel.app",
        "herokuapp.com", "glitch.me", "repl.co", "github.io", "gitbook.io", "weebly.com", "wixsite.com",
        "webflow.io", "godaddysites.com", "square.site", "blogspot.com", "000webhostapp.com", "r2.dev",
        "ipfs.io", "dweb.link", "firebasestorage.googleapis.com", "azurewebsites.net", "windows.net",
    },
    shorteners = {
        "bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at",
        "tiny.cc", "rb.gy", "t.ly", "bit.do", "s.id", "v.gd", "qrco.de", "lnkd.in", "tr.im", "shorte.st",
    },

    -- Each rule declares its weights in its own file; a weight set in this
    -- table overrides the rule's (dmarc_fail = 40, say).
    weights = {},
}
