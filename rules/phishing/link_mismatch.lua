-- A link whose text shows one domain and whose target is another.
return {
    name = "link_mismatch",
    description = "a link's text shows a domain other than where it goes",
    weights = { link_text_mismatch = 50 },   -- the text shows one domain, the link goes to another
    evaluate = function(ctx)
        for _, u in ipairs(ctx.urls) do
            if u.flags.text_mismatch then
                return config.weights.link_text_mismatch,
                    string.format("a link shows %s but goes to %s", u.shown_domain, u.registrable_domain)
            end
        end
    end,
}
