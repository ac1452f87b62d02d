-- The sender is not who the message says: a display name naming another
-- domain or brand, a Reply-To or Return-Path elsewhere.
return {
    name = "sender_mismatch",
    description = "display name, Reply-To or Return-Path disagree with the From address",
    weights = {
        display_name = 40,          -- the display name names a domain or brand the address is not
        reply_to = 20,
        return_path = 10,
    },
    evaluate = function(ctx)
        local w, ind = config.weights, ctx.indicators
        local keep, reasons = 1, {}
        if ind.display_name_mismatch then
            keep = keep * (1 - w.display_name / 100)
            reasons[#reasons + 1] = string.format("the display name \"%s\" is not %s", ctx.message.from_name, ctx.analysis.from_domain)
        end
        if ind.reply_to_mismatch then
            keep = keep * (1 - w.reply_to / 100)
            reasons[#reasons + 1] = "replies go to " .. ctx.message.reply_to
        end
        if ind.return_path_mismatch then
            keep = keep * (1 - w.return_path / 100)
            reasons[#reasons + 1] = "bounces go to " .. ctx.message.return_path
        end
        if #reasons > 0 then return math.floor(100 * (1 - keep) + 0.5), table.concat(reasons, "; ") end
    end,
}
