-- A network owner (autonomous system) the user has never logged in from;
-- only with enrichment on (RISKD_ASN_DB), otherwise the feature is absent.
local signals = require("signals")

return {
    name = "new_asn",
    family = "network_novelty",
    description = "the user never logged in from this network owner (needs an ASN database)",
    weight = 15,                       -- with enrichment on (--asn-db)
    evaluate = function(ctx)
        if signals.trusted_network(ctx) then return nil end   -- the site's own (config.trusted_networks)
        if ctx.features.new_asn then
            local org = ctx.attempt.asn_org and (" " .. ctx.attempt.asn_org) or ""
            return config.weights.new_asn, "new network owner (" .. ctx.attempt.asn .. org .. ")"
        end
    end,
}
