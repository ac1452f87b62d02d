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
    },
    shorteners = {
        "bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at",
        "tiny.cc", "rb.gy", "t.ly", "bit.do", "s.id", "v.gd", "qrco.de", "lnkd.in", "tr.im", "shorte.st",
    },

    weights = {
        lookalike_domain = 65,      -- a link or the sender imitates a protected domain
        brand_in_subdomain = 60,    -- "paypal.com.account-check.net"
        brand_in_domain = 45,       -- "paypal-secure.com"
        mixed_script = 60,          -- Latin mixed with Cyrillic or Greek in one label
        link_text_mismatch = 50,    -- the text shows one domain, the link goes to another
        ip_host = 40,
        at_sign = 45,               -- "https://paypal.com@evil.example"
        punycode = 15,
        shortener = 15,
        many_subdomains = 15,
        long_url = 8,
        deceptive_name = 30,        -- lure words joined by hyphens: "wallet-verify.com"
        cheap_tld = 15,             -- .top, .xyz, .icu…
        no_tls = 8,
        display_name = 40,          -- the display name names a domain or brand the address is not
        reply_to = 20,
        return_path = 10,
        spf_fail = 20,
        dkim_fail = 20,
        dmarc_fail = 35,
        password_form = 60,         -- a form asking for a password, in the mail itself
        risky_attachment = 50,
        double_extension = 70,
        archive = 15,
        urgency = 12,               -- per phrase, up to urgency_max
        urgency_max = 30,
        credential_request = 15,    -- per phrase, up to credential_max
        credential_max = 35,
        pressure_and_link = 20,     -- urgency and a credential request and a link, together
    },
}
