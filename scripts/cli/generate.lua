-- cli/generate.lua — `riskd generate [--users N] [--days N] [--seed N]
-- [--attack-rate R] [--realistic [--vary N] [--intel DIR] [--networks FILE.tsv]]
-- [--output FILE.jsonl]`: synthetic
-- logins with labelled attacks (lib/synth.lua), one JSON object per line, in
-- time order. --realistic: noisy legitimate traffic and the modern attacks;
-- --vary N: variant N of its rates, each drawn from its range (synth.RATES);
-- --intel DIR: the intelligence a site would have of that traffic, as an
-- intel folder (DIR/vpn.txt: the listed VPN exits); --networks FILE: who
-- owns each network the traffic used, for an ASN database.
--
-- `riskd generate --phishing --output DIR [--count N] [--seed N]
-- [--other-brands] [--size BYTES]`: labelled email (lib/synth_mail.lua),
-- DIR/phishing.mbox and DIR/legitimate.mbox, N of each; --other-brands
-- imitates another list of brands (a held-out set), --size pads HTML
-- bodies to about that many bytes.
local cliargs = require("lib.cliargs")
local synth = require("lib.synth")

local MAIL_SPEC = {
    phishing = { kind = "flag", default = false },
    output = { kind = "str" },
    count = { kind = "int", default = 1000, min = 1, max = 10000000 },
    seed = { kind = "int", default = 1 },
    other_brands = { kind = "flag", default = false },
    size = { kind = "int", default = 0, min = 0, max = 10000000 },
}
local MAIL_USAGE = "usage: riskd generate --phishing --output DIR [--count N] [--seed N] [--other-brands] [--size BYTES]\n"

local function generate_mail(args)
    local o, err = cliargs.parse(args, MAIL_SPEC)
    if not o or not o.output then return cliargs.fail("generate", err or "--output DIR is required", MAIL_USAGE) end
    local mail = require("lib.synth_mail")
    os.execute("mkdir -p '" .. o.output:gsub("'", "'\\''") .. "'")
    local files = {}
    for _, label in ipairs({ "phishing", "legitimate" }) do
        local f, e = io.open(o.output .. "/" .. label .. ".mbox", "wb")
        if not f then io.stderr:write("riskd generate: ", e, "\n") return 1 end
        files[label] = f
    end
    local t0, n = os.clock(), 0
    mail.generate({ count = o.count, seed = o.seed, brands = o.other_brands and mail.OTHER_BRANDS or nil,
                    size = o.size > 0 and o.size or nil }, function(raw, label)
        files[label]:write(mail.mbox_entry(raw))
        n = n + 1
    end)
    for _, f in pairs(files) do f:close() end
    io.stderr:write(string.format("riskd generate: %d messages (%d phishing) in %s in %.1f s\n", n, n // 2, o.output, os.clock() - t0))
    return 0
end

local SPEC = {
    users = { kind = "int", default = 1000, min = 1, max = 10000000 },
    days = { kind = "int", default = 30, min = 1, max = 3650 },
    seed = { kind = "int", default = 1 },
    attack_rate = { kind = "num", default = 0.02, min = 0, max = 0.5 },
    output = { kind = "str", default = "-" },
    realistic = { kind = "flag", default = false },
    vary = { kind = "int", min = 1, max = 1000000 },
    intel = { kind = "str" },
    networks = { kind = "str" },
}
local USAGE = "usage: riskd generate [--users N] [--days N] [--seed N] [--attack-rate R] [--realistic [--vary N]"
    .. " [--intel DIR] [--networks FILE.tsv]] [--output FILE.jsonl]\n"

-- The owner of every /24 the traffic used, one "NETWORK/24 TAB ASN TAB
-- ORGANISATION" line each, sorted: what tools/networks_mmdb.pl turns into
-- the ASN database a site would have (--asn-db).
local function write_networks(path, networks)
    local lines = {}
    for net, o in pairs(networks) do lines[#lines + 1] = string.format("%s.0/24\t%d\t%s", net, o.asn, o.org) end
    table.sort(lines)
    local f, e = io.open(path, "w")
    if not f then return nil, e end
    f:write(table.concat(lines, "\n"), #lines > 0 and "\n" or "")
    return f:close()
end

return function(...)
    for _, a in ipairs({ ... }) do if a == "--phishing" then return generate_mail({ ... }) end end
    local o, err = cliargs.parse({ ... }, SPEC)
    if not o then return cliargs.fail("generate", err, USAGE) end
    if o.vary and not o.realistic then return cliargs.fail("generate", "--vary needs --realistic", USAGE) end
    if o.intel and not o.realistic then return cliargs.fail("generate", "--intel needs --realistic", USAGE) end
    if o.networks and not o.realistic then return cliargs.fail("generate", "--networks needs --realistic", USAGE) end
    if o.vary then
        local r, parts = synth.rates(o.vary), {}
        for k, v in pairs(r) do parts[#parts + 1] = string.format("%s %g", k, math.floor(v * 1000 + 0.5) / 1000) end
        table.sort(parts)
        io.stderr:write("riskd generate: variant ", o.vary, ": ", table.concat(parts, ", "), "\n")
    end
    local f = io.stdout
    if o.output ~= "-" then
        local e
        f, e = io.open(o.output, "w")
        if not f then io.stderr:write("riskd generate: ", e, "\n") return 1 end
    end
    local n, attacks, t0 = 0, 0, os.clock()
    local buf = {}
    local intel = synth.generate(o, function(day)
        for i, a in ipairs(day) do
            buf[i] = synth.json_line(a)
            if a.label ~= "normal" then attacks = attacks + 1 end
        end
        for i = #day + 1, #buf do buf[i] = nil end
        if #day > 0 then f:write(table.concat(buf, "\n"), "\n") end
        n = n + #day
    end)
    if f ~= io.stdout then f:close() end
    if o.intel then
        os.execute("mkdir -p '" .. o.intel:gsub("'", "'\\''") .. "'")
        local v, e = io.open(o.intel .. "/vpn.txt", "w")
        if not v then io.stderr:write("riskd generate: ", e, "\n") return 1 end
        v:write("# the VPN exits a commercial list names (riskd generate --intel)\n", table.concat(intel.vpn, "\n"), "\n")
        v:close()
    end
    if o.networks then
        local ok, e = write_networks(o.networks, intel.networks)
        if not ok then io.stderr:write("riskd generate: ", e, "\n") return 1 end
    end
    io.stderr:write(string.format("riskd generate: %d attempts (%d attacks, %.1f%%) for %d users over %d days in %.1f s\n",
        n, attacks, n > 0 and 100 * attacks / n or 0, o.users, o.days, os.clock() - t0))
    return 0
end
