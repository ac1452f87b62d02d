-- The sender is not who the message says: a display name naming another
-- domain or brand. A Reply-To or Return-Path elsewhere is not counted by
-- default: mailing lists set both, and newsletters bounce to their
-- sending service's domain, so on real mail they fire on legitimate
-- messages as often as on phishing (docs/phishing.md). A site whose mail
-- is otherwise may weigh them again in config.lua.
return {
    name = "sender_mismatch",
    description = "display name, Reply-To or Return-Path disagree with the From address",
    weights = {
        display_name = 40,          -- the display name names a domain or brand the address is not
        reply_to = 0,
        return_path = 0,
    },
    evaluate = function(ctx)
        local w, ind = config.weights, ctx.indicators
        local keep, reasons = 1, {}
        if ind.display_name_mismatch then
            keep = keep * (1 - w.display_name / 100)
            reasons[#reasons + 1] = string.format("the display name \"%s\" is not %s", ctx.message.from_name, ctx.analysis.from_domain)
        end
        if ind.reply_to_mismatch and w.reply_to > 0 then
            keep = keep * (1 - w.reply_to / 100)
            reasons[#reasons + 1] = "replies go to " .. ctx.message.reply_to
        end
        if ind.return_path_mismatch and w.return_path > 0 then
            keep = keep * (1 - w.return_path / 100)
            reasons[#reasons + 1] = "bounces go to " .. ctx.message.return_path
        end
        if #reasons > 0 then return math.floor(100 * (1 - keep) + 0.5), table.concat(reasons, "; ") end
    end,
}
