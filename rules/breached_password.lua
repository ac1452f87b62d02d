-- The caller says the password tried is in a breach corpus (it checked with
-- GET /api/passwords/range, k-anonymity: riskd never sees the password).
-- A success with one is how credential stuffing takes accounts; a failure
-- is an attacker's guess from a list.
return {
    name = "breached_password",
    family = "credentials",
    description = "the password tried appears in breached-password lists (as the caller reports)",
    weights = {
        breached_password = 40,        -- a success with a password from a breach corpus
        breached_password_failed = 20, -- a failure with one (someone trying a list)
    },
    evaluate = function(ctx)
        if ctx.attempt.password_breached ~= true then return nil end
        if ctx.attempt.success then
            return config.weights.breached_password, "signed in with a password that appears in breached-password lists"
        end
        return config.weights.breached_password_failed, "tried a password that appears in breached-password lists"
    end,
}
