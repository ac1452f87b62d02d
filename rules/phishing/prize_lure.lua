-- The lure of scam mail: prizes, winnings, lotteries, inheritances, free
-- casino spins, in several languages. Generic marketing words (bonus,
-- voucher, gift card) are not counted: genuine newsletters use them too.
return {
    name = "prize_lure",
    description = "wording of prizes, winnings, lotteries or windfalls",
    weights = {
        prize = 35,                 -- one prize phrase
        more = 15,                  -- each further one, up to two more
    },
    evaluate = function(ctx)
        local w, n = config.weights, ctx.analysis.prize_hits or 0
        if n == 0 then return end
        local keep = (1 - w.prize / 100) * (1 - w.more / 100) ^ math.min(n - 1, 2)
        return math.floor(100 * (1 - keep) + 0.5), n == 1 and "1 prize or windfall phrase" or string.format("%d prize or windfall phrases", n)
    end,
}
