-- The address is known to attack: operator block lists (known_bad, FireHOL
-- level 1, ...) and the automatic set of addresses from alerts an analyst
-- resolved as real attacks (confirmed_attacks.auto, kept
-- config.confirmed_attack_days). Sets and weights: config.intel_bad; a set
-- with `at_least` makes the attempt that level whatever the thresholds.
return {
    name = "known_bad_address",
    family = "reputation",
    description = "the address is on a block list or was used in an attack an analyst confirmed",
    evaluate = function(ctx)
        local weight, reason, set = ctx.intel.heaviest(config.intel_bad, ctx.attempt.ip_address)
        if not weight then return nil end
        return { score = weight, at_least = set.at_least }, reason
    end,
}
