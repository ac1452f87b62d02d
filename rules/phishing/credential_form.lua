-- An HTML form in the message that asks for a password.
return {
    name = "credential_form",
    description = "the message holds a form with a password field",
    weights = { password_form = 60 },    -- a form asking for a password, in the mail itself
    evaluate = function(ctx)
        if ctx.indicators.password_form then
            return config.weights.password_form, "the message asks for a password in a form"
        end
    end,
}
