-- A network (/24, /48) that no account of the site ever signed in from,
-- new to a user with a history: a home line or a carrier block is usually
-- shared with other customers of the site, an attacker's fresh exit is not.
-- A family of its own, site_novelty: new to the site is a further fact on
-- top of new to the user (which it implies), so its weight is what being
-- new to the site adds, and the two families multiply. On a small site many
-- real networks are unseen, so it weighs little; it needs the site's value
-- counts (a store). Not from a country new to the user: abroad, the
-- networks are ones the site's users seldom meet, and a traveller's hotel
-- line is as unseen as an attacker's exit.
local signals = require("signals")

return {
    name = "unused_network",
    family = "site_novelty",
    description = "the user never logged in from this network, and no account of the site ever did (in a country the user knows)",
    weight = 30,
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        local f, p, g = ctx.features, ctx.profile, ctx.global and ctx.global.prefixes
        if not f.new_prefix or signals.abroad(ctx) or not g or g.total == 0 or g.count > 0 then return nil end
        if not p or (p.successes or 0) < config.familiarity_min_logins then return nil end
        return config.weights.unused_network, "a network no account ever signed in from"
    end,
}
