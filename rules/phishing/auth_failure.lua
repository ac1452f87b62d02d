-- The receiving server's SPF, DKIM or DMARC checks failed.
return {
    name = "auth_failure",
    description = "Authentication-Results: SPF, DKIM or DMARC failed",
    weights = { spf_fail = 20, dkim_fail = 20, dmarc_fail = 35 },
    evaluate = function(ctx)
        local w, ind = config.weights, ctx.indicators
        local keep, failed = 1, {}
        if ind.spf_fail then keep = keep * (1 - w.spf_fail / 100); failed[#failed + 1] = "SPF" end
        if ind.dkim_fail then keep = keep * (1 - w.dkim_fail / 100); failed[#failed + 1] = "DKIM" end
        if ind.dmarc_fail then keep = keep * (1 - w.dmarc_fail / 100); failed[#failed + 1] = "DMARC" end
        if #failed > 0 then return math.floor(100 * (1 - keep) + 0.5), table.concat(failed, ", ") .. " failed" end
    end,
}
