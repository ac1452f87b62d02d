-- A device the user has never logged in from.
return {
    name = "new_device",
    description = "the user has history but never used this device",
    evaluate = function(ctx)
        if ctx.features.new_device == 1 then return config.weights.new_device, "new device" end
    end,
}
