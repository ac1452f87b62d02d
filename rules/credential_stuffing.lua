-- One address trying many accounts: credential stuffing or password spraying.
return {
    name = "credential_stuffing",
    description = "the address tried many accounts in the last hour",
    evaluate = function(ctx)
        local n = ctx.features.ip_users_1h
        if n < config.stuffing_users then return nil end
        local extra = n - config.stuffing_users
        return math.min(95, config.weights.stuffing + 5 * extra),
            string.format("this address tried %d accounts in the last hour", math.floor(n))
    end,
}
