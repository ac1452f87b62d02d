-- A new device on a network the user has never used, both at once. Each
-- alone is everyday noise (a cleared cookie on the home line, a phone on a
-- new carrier block); together they are what a takeover through a
-- residential proxy looks like, even with the victim's own browser at the
-- victim's usual hour. Not abroad (signals.abroad), where every network is
-- new and the device alone is news (new_device). Needs a history
-- (config.familiarity_min_logins) to mean anything.
local signals = require("signals")

return {
    name = "new_device_and_network",
    family = "device_novelty",
    description = "a device and a network the user has never used, in the same attempt",
    weight = 40,                       -- both at once, with a history
    evaluate = function(ctx)
        local f, p = ctx.features, ctx.profile
        if not f.new_device or not f.new_prefix or signals.abroad(ctx) then return nil end
        local n = p and p.successes or 0
        if n < config.familiarity_min_logins then return nil end
        -- A young profile has not met all of its user's devices and networks
        -- yet: both new at once weigh more the longer the history.
        local lo, hi = config.familiarity_min_logins, config.novelty_full_logins
        local m = hi > lo and math.min(1, 0.5 + 0.5 * (n - lo) / (hi - lo)) or 1
        return config.weights.new_device_and_network * m * signals.device_novelty_weight(ctx),
            "a new device on a network this user never used"
    end,
}
