-- rules/config.lua — every threshold and weight of the risk rules and of the
-- scoring, in one place. Rules see it as the global `config`; the pipeline
-- reads it with riskd.rules.config(). Edit it live: a change that fails to
-- load is rejected and the previous one keeps serving.
return {
    -- risk score (0-100) at which each level starts; for high and critical,
    -- the thresholds until the calibration below has enough history, and
    -- the floors it never goes below
    levels = { medium = 30, high = 60, critical = 80 },
    -- Calibrated levels: at most this share of attempts reaches high (and
    -- critical) or above. riskd keeps the thresholds from the recent scores
    -- of successful attempts (failed ones and known attackers left out),
    -- rising at most calibration_max_rise_per_hour points an hour and never
    -- above level_ceilings, so that a wave of attacks cannot hide itself.
    -- Evidence a site must always see says so itself: a rule's answer with
    -- `at_least = "high"` (a confirmed attacker's address, an account an
    -- analyst marked compromised) reaches that level whatever the thresholds.
    level_budget = { high = 0.005, critical = 0.001 },
    level_ceilings = { high = 90, critical = 97 },
    calibration_min_attempts = 500,      -- history before the thresholds move
    calibration_window = 100000,         -- attempts remembered (older ones fade)
    calibration_max_rise_per_hour = 2,
    -- known attackers, and the accounts an analyst marked compromised or at risk
    calibration_excludes = { known_bad_address = true, account_state = true },
    -- Cross-account signals (rules/reused_exit.lua, shared_session_exit.lua):
    -- what other accounts did from the same network in this many days
    cross_account_days = 7,
    reused_exit_accounts = 1,     -- other accounts with new devices from the network
    shared_exit_accounts = 1,     -- other accounts from the new address of a known device (shared_session_exit)
    -- A spray over a wide network (/16, rules/network_spray.lua): this many
    -- other accounts failing there with new devices in spray_hours
    spray_accounts = 4,
    spray_hours = 24,
    -- what a service should do at each level
    actions = { low = "allow", medium = "challenge", high = "challenge", critical = "block" },
    -- Which successful attempts teach the user's profile (devices, networks,
    -- habits) and the site's value counts: a blocked attacker's success must
    -- not make the next try look familiar. The service reports what it did
    -- (POST /api/login/events/:id/outcome; the `outcome` field of riskd score
    -- input): allowed, passed_challenge, failed_challenge, blocked.
    learning = {
        actions = { allow = true },                               -- learned at once
        outcomes = { allowed = true, passed_challenge = true },   -- learned when reported
        -- without an outcome after grace_minutes: learned for these actions,
        -- never for the others
        unreported = { challenge = true },
        grace_minutes = 15,
    },
    -- attempts at or above this level open an alert, or join the open alert
    -- of the same user and cause updated within the window
    alert_level = "high",
    alert_window_minutes = 10,
    -- the least action when the store is down or slow and the answer is degraded
    -- (a stronger one the analysis found stands)
    degraded_action = "challenge",
    -- the model's score (0-1) from which an attempt counts as an anomaly
    anomaly_threshold = 0.62,

    -- Each rule declares its weights in its own file (`weight = N`, or a
    -- table `weights`); a weight set in this table overrides the rule's
    -- (new_device = 30, say).
    weights = {},
    -- Evidence families. Each rule names its family (`family = "..."`);
    -- within a family the strongest rule counts ("max": its rules say the
    -- same thing in other words), or every rule does ("or": independent
    -- evidence). Families are independent of each other. A rule that names
    -- no family is in "other". A family not listed here combines by "max".
    -- history_logins = k: the family's evidence counts less from a user
    -- with few successful logins (n), to the power n / (n + k): where a
    -- user logs in from is known only after a few logins, and a first trip
    -- or a VPN in the first week looks like travel nobody could make.
    families = {
        other = { combine = "or" },
        geography = { history_logins = 3 },
    },
    -- IP sets of the intel folder (file name without extension) and what
    -- an address in them means. Sets that are absent never match.
    intel_anonymous = {
        tor_exits = { weight = 45, reason = "the address is a Tor exit node" },
        proxies = { weight = 35, reason = "the address is an open or residential proxy" },
        hosting = { weight = 25, reason = "the address is in a hosting or cloud network, not a home or office" },
        vpn = { weight = 20, reason = "the address belongs to a VPN provider" },
    },
    intel_bad = {
        confirmed_attacks = { weight = 70, at_least = "high", reason = "the address was used in an attack an analyst confirmed" },
        known_bad = { weight = 60, reason = "the address is on a block list of known attackers" },
    },
    -- The site's own networks (offices, VPN egress): an IP set of the intel
    -- folder (trusted_networks.txt, one address or CIDR range a line). Being
    -- new to a user there is no evidence (new_network, unused_network,
    -- new_asn, reused_exit, network_spray, anonymous_network do not fire),
    -- and it counts as shared infrastructure for new_country,
    -- impossible_travel, odd_hour_away.
    trusted_networks = "trusted_networks",
    -- an alert resolved as a real attack puts its addresses in the automatic
    -- set confirmed_attacks for this long
    confirmed_attack_days = 30,
    max_speed_kmh = 900,       -- faster than an airliner between two logins
    min_travel_km = 300,       -- closer than this is never "impossible travel" (geolocation noise)
    home_country_share = 0.5,  -- a known device in a country with this share of the user's logins is back home
    travel_habit_logins = 3,   -- nor is it travel in a country with this many of the user's logins
    -- A network (/24, /48) from which this many successful logins of any
    -- users came is shared infrastructure (a VPN exit, a carrier, an office
    -- NAT): where it geolocates says little about where the user is, so
    -- new_country weighs shared_network_country there and impossible_travel
    -- does not fire.
    shared_network_logins = 10,
    -- IP sets of the intel folder whose addresses many unrelated people
    -- share (the exits of commercial VPNs): shared infrastructure too, from
    -- the first login through them.
    shared_address_sets = { "vpn" },
    shared_network_country = 10,
    -- A spike of failures from never-seen devices site-wide (rules/failure_spike.lua):
    -- this many times the learned hourly baseline (never taken below
    -- spike_min_baseline), at least spike_min_count in the last hour, and a
    -- baseline of at least spike_min_hours of history; before that, failures
    -- at least spike_warmup_share of the hour's attempts from never-seen devices.
    spike_ratio = 4,
    spike_min_count = 20,
    spike_min_baseline = 2,
    spike_min_hours = 24,
    spike_warmup_share = 0.5,
    -- A failed sign-in to an account that never signed in (rules/unknown_account.lua):
    -- once the successes rate has this many hours of history and at most
    -- this share of the site's successful sign-ins are an account's first,
    -- counting besides the site's own this many sign-ins an hour, half of
    -- them first ones (so a site with under ten sign-ins an hour never fires).
    unknown_account_min_hours = 24,
    unknown_account_share = 0.05,
    unknown_account_prior = 1,
    brute_force_failures = 5,  -- failed attempts of one user in an hour
    brute_force_step = 8,      -- added per further failure, up to brute_force_max
    brute_force_max = 95,
    brute_force_failures_stranger = 5, -- the same, failing again from a device the account never used
    stuffing_users = 5,        -- distinct accounts tried from one address in an hour
    stuffing_step = 5,         -- added per further account, up to stuffing_max
    stuffing_max = 95,
    bot_mismatch_max = 90,     -- contradictions in the headers add up to at most this
    stuffing_users_stranger = 3, -- the same for a failure from a device the account never used
    stuffing_shared_accounts = 3, -- other accounts that signed in from the address in cross_account_days: an office
    unusual_hour_bits = 3,     -- hour surprise (bits) from which an hour is unusual
    unusual_hour_step = 5,     -- added per further bit, up to unusual_hour_max
    unusual_hour_max = 40,
    odd_hour_min_logins = 3,
    familiarity_min_logins = 5, -- history a user needs before unfamiliarity means anything
    novelty_full_logins = 30,  -- history at which new_device_and_network weighs fully (half at familiarity_min_logins)
    device_churn_usual = 0.1, -- share of logins with a new device id beyond which a new id weighs less
    known_owner_share = 0.5,  -- copied_browser's share from a new network of an owner (ASN) the user knows
    familiarity_bits = 6,      -- log2 likelihood ratio (attacker vs user) from which the rule fires
    familiarity_base = 10,     -- its score there, plus familiarity_step a bit above, up to familiarity_max
    familiarity_step = 4,
    familiarity_max = 50,      -- its largest score
}
