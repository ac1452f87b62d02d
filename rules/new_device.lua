-- A device the user has never logged in from.
local signals = require("signals")

return {
    name = "new_device",
    family = "device_novelty",
    description = "the user has history but never used this device",
    weight = 25,
    evaluate = function(ctx)
        if ctx.features.new_device then return config.weights.new_device * signals.device_novelty_weight(ctx), "new device" end
    end,
}
