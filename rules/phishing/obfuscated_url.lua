-- Links that hide where they go: IP addresses, user-info before the host,
-- shorteners, redirectors (another site's address in the link's query:
-- open redirects of search engines and trackers; a site sending to its own
-- pages, as sign-in links' "continue=" do, is not one), punycode, deep
-- subdomains, very long or unencrypted links.
return {
    name = "obfuscated_url",
    description = "links that hide their destination (IP host, '@', shortener, redirector, punycode, many subdomains)",
    weights = {
        ip_host = 40,
        at_sign = 45,               -- "https://paypal.com@evil.example"
        punycode = 15,
        shortener = 15,
        redirector = 20,            -- "https://www.google.com/url?q=https://evil.example/"
        many_subdomains = 15,
        long_url = 8,
        no_tls = 8,
    },
    evaluate = function(ctx)
        local w = config.weights
        local function redirects(u)
            local q = (u.url or ""):lower():match("%?(.*)$") or ""
            q = q:gsub("%%3a", ":"):gsub("%%2f", "/")
            local host = q:match("=https?://([%w%.%-]+)")
            local own = u.registrable_domain or ""
            return host ~= nil and own ~= "" and host ~= own and host:sub(-#own - 1) ~= "." .. own
        end
        local keep, reasons = 1, {}
        local order = { "ip_host", "at_sign", "shortener", "redirector", "punycode", "many_subdomains", "long_url", "no_tls" }
        local text = { ip_host = "an IP address", at_sign = "an '@' before the host", shortener = "a URL shortener",
                       redirector = "another address inside",
                       punycode = "punycode", many_subdomains = "many subdomains", long_url = "a very long URL",
                       no_tls = "no TLS" }
        for _, k in ipairs(order) do   -- each kind once, however many links have it
            for _, u in ipairs(ctx.urls) do
                if u.flags[k] or (k == "redirector" and redirects(u)) then
                    keep = keep * (1 - w[k] / 100)
                    reasons[#reasons + 1] = text[k]
                    break
                end
            end
        end
        if #reasons > 0 then
            return math.floor(100 * (1 - keep) + 0.5), "links with " .. table.concat(reasons, ", ")
        end
    end,
}
