-- Urgency and requests for credentials, the two levers of a phishing
-- message, in several languages; stronger together and with a link.
return {
    name = "pressure_wording",
    description = "urgent wording and requests for a password or login",
    weights = {
        urgency = 12,               -- per phrase, up to urgency_max
        urgency_max = 30,
        credential_request = 15,    -- per phrase, up to credential_max
        credential_max = 35,
        pressure_and_link = 20,     -- urgency and a credential request and a link, together
    },
    evaluate = function(ctx)
        local w, a = config.weights, ctx.analysis
        local u = math.min(w.urgency_max, w.urgency * a.urgency_hits)
        local c = math.min(w.credential_max, w.credential_request * a.credential_hits)
        if u == 0 and c == 0 then return nil end
        local keep = (1 - u / 100) * (1 - c / 100)
        local both = u > 0 and c > 0 and #ctx.urls > 0
        if both then keep = keep * (1 - w.pressure_and_link / 100) end
        local parts = {}
        if u > 0 then parts[#parts + 1] = string.format("%d urgent phrase%s", a.urgency_hits, a.urgency_hits == 1 and "" or "s") end
        if c > 0 then parts[#parts + 1] = string.format("%d credential request%s", a.credential_hits, a.credential_hits == 1 and "" or "s") end
        return math.floor(100 * (1 - keep) + 0.5), table.concat(parts, " and ") .. (both and ", with a link" or "")
    end,
}
