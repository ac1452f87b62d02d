-- What an analyst said of the account (PUT /api/users/:id/state, or from an
-- alert): compromised makes every attempt high — an alert and a challenge —
-- until an analyst says otherwise; at risk makes every attempt at least a
-- challenge. A state of safe, or none, adds nothing.
return {
    name = "account_state",
    family = "analyst",
    description = "an analyst marked the account compromised or at risk",
    weights = { account_compromised = 70, account_at_risk = 30 },
    evaluate = function(ctx)
        local s = ctx.profile and ctx.profile.state
        local w = s and config.weights["account_" .. s.state]
        if not w then return nil end
        local words = s.state == "at_risk" and "at risk" or s.state
        return { score = w, at_least = s.state == "compromised" and "high" or "medium" },
            string.format("an analyst%s marked this account %s on %s", s.by and (" (" .. s.by .. ")") or "",
                          words, os.date("!%Y-%m-%d", s.at // 1000))
    end,
}
