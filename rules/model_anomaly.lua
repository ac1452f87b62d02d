-- The Isolation Forest finds the attempt unlike the user's normal traffic.
return {
    name = "model_anomaly",
    family = "anomaly",
    description = "the anomaly model scores the attempt above its threshold",
    weights = { anomaly = 60 },        -- at the maximum anomaly score
    evaluate = function(ctx)
        local a = ctx.anomaly
        if not a or not a.score or a.score < config.anomaly_threshold then return nil end
        local strength = (a.score - config.anomaly_threshold) / (1 - config.anomaly_threshold)
        -- name the features that pushed the score up the most
        local top = {}
        for name, v in pairs(a.contributions or {}) do
            if v > 0 then top[#top + 1] = { name = name, v = v } end
        end
        table.sort(top, function(x, y) return x.v > y.v or (x.v == y.v and x.name < y.name) end)
        local names = {}
        for i = 1, math.min(3, #top) do names[i] = top[i].name:gsub("_", " ") end
        local why = #names > 0 and (" (mostly " .. table.concat(names, ", ") .. ")") or ""
        return config.weights.anomaly * (0.5 + 0.5 * strength),
            string.format("unusual login pattern: anomaly score %.2f%s", a.score, why)
    end,
}
