-- A spike of failed logins from never-seen devices across the whole site
-- (ctx.site, riskd.rates): many times the usual hourly rate. Distributed
-- credential stuffing looks like this — one attempt per account, each from
-- another address, nothing odd about any one of them. Every attempt from a
-- device its account never used raises its risk while the spike lasts; a
-- failure more than a success, which is as often a user who cleared
-- cookies in the wrong hour as the wave's rare hit.
-- Before the baseline has spike_min_hours of history (a new site; a
-- restarted server keeps its baseline in the store) the usual rate is not
-- known; what is known is that users mistype a password now and then, so
-- most attempts from new devices succeed whatever the hour or the size of
-- the site. A wave of stolen passwords fails nearly always: then the hour's
-- share of failures among attempts from never-seen devices, at
-- spike_warmup_share or more, stands in for the ratio.
return {
    name = "failure_spike",
    family = "velocity",
    description = "failures from never-seen devices site-wide are many times the usual rate, and this device is new to the account",
    -- at spike_ratio times the usual rate, growing to 1.5 times it
    weights = { failure_spike = 55, failure_spike_success = 30 },
    evaluate = function(ctx)
        local site = ctx.site
        local s = site and site.new_device_failures
        if not s or not site.never_seen_device then return nil end
        if s.last_hour < config.spike_min_count then return nil end
        local usual = math.max(s.baseline, config.spike_min_baseline)
        local ratio = s.last_hour / usual
        if ratio < config.spike_ratio then return nil end
        if s.hours < config.spike_min_hours then
            local all = site.new_device_attempts
            if not all or s.last_hour < config.spike_warmup_share * all.last_hour then return nil end
        end
        local w = config.weights[ctx.attempt.success and "failure_spike_success" or "failure_spike"]
        return math.min(w * 1.5, w * (1 + math.log(ratio / config.spike_ratio, 2) / 4)),
            string.format("%d failed logins from new devices site-wide in the last hour, %.0f times the usual %.1f",
                math.floor(s.last_hour + 0.5), ratio, s.baseline)
    end,
}
