-- What modern phishing and scam mail shows about its sender and subject that
-- genuine senders seldom do: a From domain under no real top-level domain,
-- mail sent from free app hosting, the recipient's own address in the
-- subject, a protected brand named in the subject by another domain (weak:
-- discussion lists name brands too). A missing From is not counted: bounces
-- and notices often have none.
return {
    name = "sender_anomaly",
    description = "a From domain that is not a domain name, sent from free app hosting, the recipient's address in the subject, a brand named in the subject by another domain",
    weights = {
        malformed_sender = 35,      -- "promocoes325278598", "%detran.com.br": no real top-level domain
        free_hosting = 35,          -- From or a link on firebaseapp.com, web.app, pages.dev...
        recipient_in_subject = 45,  -- "alice@example.com, your parcel is waiting"
        brand_in_subject = 15,      -- "Binance security alert" from libreriacies.es
    },
    evaluate = function(ctx)
        local w, msg, a = config.weights, ctx.message, ctx.analysis
        local keep, reasons = 1, {}
        local function add(weight, why)
            keep = keep * (1 - weight / 100)
            reasons[#reasons + 1] = why
        end
        if (msg.from or "") ~= "" and not a.from_known_tld then
            add(w.malformed_sender, string.format("the sender %s is not under a real domain name", msg.from))
        end
        local hosting = {}
        for _, d in ipairs(config.free_hosting or {}) do hosting[d] = true end
        local hosted = hosting[a.from_domain or ""] and a.from_domain
        for _, u in ipairs(ctx.urls) do
            if not hosted and hosting[u.registrable_domain or ""] then hosted = u.registrable_domain end
        end
        if hosted then add(w.free_hosting, hosted .. " is free app hosting") end
        local subject = (msg.subject or ""):lower()
        local to = (msg.to or ""):lower()
        if #to >= 3 and subject:find(to, 1, true) then add(w.recipient_in_subject, "the subject names the recipient's address") end
        local from_label = (a.from_domain or ""):match("^([^.]+)") or ""
        for _, d in ipairs(config.protected_domains or {}) do
            local label = d:match("^([^.]+)")
            if #label >= 4 and label ~= from_label and subject:find("%f[%w]" .. label .. "%f[%W]") then
                add(w.brand_in_subject, string.format("the subject names %s, the sender is %s", d, a.from_domain ~= "" and a.from_domain or "unknown"))
                break
            end
        end
        if #reasons > 0 then return math.floor(100 * (1 - keep) + 0.5), table.concat(reasons, "; ") end
    end,
}
