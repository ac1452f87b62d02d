-- One address trying many accounts: credential stuffing or password spraying.
-- A failure from a device the account never used successfully is the
-- stuffing itself and weighs more, from fewer accounts; a success or a
-- failure on a known device from a busy address is more likely a colleague
-- behind the same office NAT address (measured on `riskd generate
-- --realistic`: legitimate logins reach 5 accounts an hour from one address,
-- and nearly all of those are known devices). An address where several
-- other accounts signed in in the last days (ctx.cross) is such an office:
-- there only a failure from a device the account never used counts, and
-- only the accounts failing from devices they never used are counted, not
-- every colleague who signed in that hour (a cleared cookie and a typo in a
-- busy office are not a stuffing).
return {
    name = "credential_stuffing",
    family = "velocity",
    description = "the address tried many accounts in the last hour",
    weights = {
        stuffing = 45,                 -- at the threshold, growing with each further account
        stuffing_stranger = 60,        -- the same for a failure from a device the account never used
    },
    evaluate = function(ctx)
        local n = ctx.features.ip_users_1h
        local stranger = not ctx.attempt.success and ctx.site and ctx.site.never_seen_device
        local from, weight = config.stuffing_users, config.weights.stuffing
        if stranger then from, weight = config.stuffing_users_stranger, config.weights.stuffing_stranger end
        local c = ctx.cross
        local office = c and c.address_accounts >= config.stuffing_shared_accounts
        if office and not stranger then return nil end
        -- at an office, this account and the others failing from devices they never used
        if office then n = math.min(n, c.address_failing_accounts + 1) end
        if n < from then return nil end
        return math.min(config.stuffing_max, weight + config.stuffing_step * (n - from)),
            string.format("this address tried %d accounts in the last hour", math.floor(n))
    end,
}
