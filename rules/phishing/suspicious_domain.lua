-- Link domains made to lure: sign-in words joined by hyphens
-- ("wallet-verify.com", "pko-weryfikacja.pl"), or registered under a
-- top-level domain mostly seen in abuse.
return {
    name = "suspicious_domain",
    description = "link domains built from lure words, or under a top-level domain mostly seen in abuse",
    weights = {
        deceptive_name = 30,        -- lure words joined by hyphens: "wallet-verify.com"
        cheap_tld = 15,             -- .top, .xyz, .icu…
    },
    evaluate = function(ctx)
        local w = config.weights
        local deceptive, cheap
        for _, u in ipairs(ctx.urls) do
            if u.flags.deceptive_name and not deceptive then deceptive = u.registrable_domain end
            if u.flags.cheap_tld and not cheap then cheap = u.registrable_domain end
        end
        local keep, reasons = 1, {}
        if deceptive then
            keep = keep * (1 - w.deceptive_name / 100)
            reasons[#reasons + 1] = deceptive .. " is made of lure words"
        end
        if cheap then
            keep = keep * (1 - w.cheap_tld / 100)
            reasons[#reasons + 1] = cheap .. " is under a top-level domain mostly seen in abuse"
        end
        if #reasons > 0 then return math.floor(100 * (1 - keep) + 0.5), table.concat(reasons, "; ") end
    end,
}
