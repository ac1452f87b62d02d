-- Attachments that run code or hide what they are, attached or inside an
-- archive (whose file names libarchive lists).
return {
    name = "risky_attachment",
    description = "executables, scripts, macro documents, HTML or disk images attached; double extensions; archives",
    weights = { risky_attachment = 50, double_extension = 70, archive = 15 },
    evaluate = function(ctx)
        local w, ind = config.weights, ctx.indicators
        local names = {}
        for _, a in ipairs(ctx.message.attachments or {}) do
            names[#names + 1] = a.contents and (a.name .. " (holding " .. table.concat(a.contents, ", ", 1, math.min(#a.contents, 5)) ..
                (#a.contents > 5 and ", …)" or ")")) or a.name
        end
        local list = table.concat(names, ", ")
        if ind.double_extension then return w.double_extension, "an attachment hides its type: " .. list end
        if ind.risky_attachment then return w.risky_attachment, "a risky attachment: " .. list end
        if ind.archive_attachment then return w.archive, "an archive attached: " .. list end
    end,
}
