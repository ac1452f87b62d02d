-- The user's own device id, signing in with another operating system or
-- browser family than it did before: a session cookie or device token
-- copied into another browser. A browser update keeps its family; a device
-- id does not move from an iPhone's Safari to Windows and Chrome.
local signals = require("signals")

return {
    name = "device_family_changed",
    family = "device_novelty",
    description = "a known device id signs in with another operating system or browser than before",
    weight = 60,
    evaluate = function(ctx)
        local c, a = ctx.cross, ctx.attempt
        if not c or c.device_other_families < 1 or not signals.known_device(ctx) then return nil end
        return config.weights.device_family_changed,
            string.format("this device signed in before with another operating system or browser than %s on %s",
                          a.browser, a.os)
    end,
}
