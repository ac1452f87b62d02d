-- A link or the sender's domain imitates a protected brand: look-alike
-- spelling, confusable characters, mixed scripts, or the brand's name
-- inside another domain.
return {
    name = "lookalike_domain",
    description = "a link or the sender imitates a protected domain (spelling, characters, brand name)",
    weights = {
        lookalike_domain = 65,      -- a link or the sender imitates a protected domain
        brand_in_subdomain = 60,    -- "paypal.com.account-check.net"
        brand_in_domain = 45,       -- "paypal-secure.com"
        mixed_script = 60,          -- Latin mixed with Cyrillic or Greek in one label
    },
    evaluate = function(ctx)
        local w = config.weights
        local best, why = 0, nil
        local function consider(score, reason)
            if score > best then best, why = score, reason end
        end
        for _, u in ipairs(ctx.urls) do
            local ind = u.flags
            if ind.lookalike then consider(w.lookalike_domain, string.format("%s imitates %s", u.host, u.brand)) end
            if ind.mixed_script then consider(w.mixed_script, string.format("%s mixes alphabets in one name", u.unicode_host or u.host)) end
            if ind.brand_in_subdomain then consider(w.brand_in_subdomain, string.format("%s puts %s before another domain", u.host, u.brand)) end
            if ind.brand_in_domain then consider(w.brand_in_domain, string.format("%s borrows the name of %s", u.host, u.brand)) end
        end
        if ctx.analysis.from_brand then
            consider(w.lookalike_domain, string.format("the sender's domain %s imitates %s", ctx.analysis.from_domain, ctx.analysis.from_brand))
        end
        if best > 0 then return best, why end
    end,
}
