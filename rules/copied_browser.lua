-- A device id the user never used, presenting exactly a browser (user agent)
-- the user does use, from a network the user never used. A cleared cookie
-- shows a new id with the same browser too, but from the user's usual
-- networks; from a new one this is what an attacker who copies the victim's
-- user agent looks like (a takeover through a residential proxy in the
-- victim's own city, at the victim's usual hour). A new network of an
-- owner the user knows (with an ASN database: a phone's new carrier block)
-- is the user's habit more than a proxy's, and counts for less
-- (config.known_owner_share). Not abroad (signals.abroad): there every
-- network is new, and a traveller who cleared cookies looks the same.
-- Needs a history (config.familiarity_min_logins).
local signals = require("signals")

return {
    name = "copied_browser",
    family = "device_novelty",
    description = "a new device with the user's exact browser, from a network the user never used",
    weight = 60,
    evaluate = function(ctx)
        local f, p, ua = ctx.features, ctx.profile, ctx.attempt.user_agent
        if not f.new_device or not f.new_prefix or signals.abroad(ctx) or not ua or not p then return nil end
        if (p.successes or 0) < config.familiarity_min_logins then return nil end
        if not (p.user_agents and p.user_agents[ua]) then return nil end
        local w = signals.known_owner(ctx) and config.known_owner_share or 1
        return config.weights.copied_browser * w * signals.device_novelty_weight(ctx),
            "a new device with this user's exact browser, from a network the user never used"
    end,
}
