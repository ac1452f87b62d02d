-- A failed sign-in to an account that never signed in successfully, on a
-- site whose successful sign-ins are seldom an account's first. Lists of
-- stolen or guessed usernames hold many accounts that do not exist or are
-- not used: a botnet's first attempts on them look like nothing else, one
-- address and one device each, before the site-wide spike is loud enough.
-- How rare first sign-ins are is the site's own figure (ctx.site, over
-- about the last day): a new site, or one where many accounts sign up,
-- learns that a first sign-in is common and the rule stays silent. A user
-- coming back after years who forgot the password looks the same; that is
-- why the weight is moderate.
return {
    name = "unknown_account",
    family = "account_novelty",
    description = "a failed sign-in to an account that never signed in, on a site where first sign-ins are rare",
    weight = 50,
    evaluate = function(ctx)
        local site, a = ctx.site, ctx.attempt
        if a.success or not site or not site.unknown_account then return nil end
        local all, first = site.successes, site.first_successes
        if not all or all.hours < config.unknown_account_min_hours or all.baseline <= 0 then return nil end
        -- as if besides the site's own sign-ins there were unknown_account_prior
        -- an hour, half of them first ones: a site with few sign-ins cannot
        -- tell that first ones are rare, one first sign-in every few days
        -- falls out of a day's memory
        local prior = config.unknown_account_prior
        local share = (first.baseline + prior / 2) / (all.baseline + prior)
        if share > config.unknown_account_share then return nil end
        return config.weights.unknown_account,
            string.format("failed sign-in to an account that never signed in (%.1f %% of the site's sign-ins are an account's first)",
                100 * first.baseline / all.baseline)
    end,
}
