-- A network (/24, /48) that no account of the site ever signed in from,
-- new to a user with a history. Stronger than new_network (the same
-- family, so the two never add up): a home line or a carrier block is
-- usually shared with other customers of the site, an attacker's fresh
-- exit is not. On a small site many real networks are unseen, so it weighs
-- little; it needs the site's value counts (a store).
local signals = require("signals")

return {
    name = "unused_network",
    family = "network_novelty",
    description = "the user never logged in from this network, and no account of the site ever did",
    weight = 20,
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        local f, p, g = ctx.features, ctx.profile, ctx.global and ctx.global.prefixes
        if not f.new_prefix or not g or g.total == 0 or g.count > 0 then return nil end
        if not p or (p.successes or 0) < config.familiarity_min_logins then return nil end
        return config.weights.unused_network, "a network no account ever signed in from"
    end,
}
