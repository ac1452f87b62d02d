-- spec/synth_spec.lua — the generator's variants (riskd generate --vary N).
local synth = require("lib.synth")

describe("lib.synth variants", function()
    it("as shipped without a variant; each rate within its range, the same for the same variant", function()
        local shipped = synth.rates(nil)
        for k, r in pairs(synth.RATES) do assert.are.equal(r[1], shipped[k], k) end
        local differs = 0
        for n = 1, 20 do
            local v = synth.rates(n)
            assert.are.same(v, synth.rates(n))
            for k, r in pairs(synth.RATES) do
                assert.is_true(v[k] >= r[2] and v[k] <= r[3], k .. " " .. v[k])
                if v[k] ~= shipped[k] then differs = differs + 1 end
            end
        end
        assert.is_true(differs > 200)   -- variants vary
    end)

    it("a variant changes the traffic but not the seed's determinism", function()
        local function lines(vary)
            local out = {}
            synth.generate({ users = 30, days = 3, seed = 7, attack_rate = 0.05, realistic = true, vary = vary }, function(day)
                for _, a in ipairs(day) do out[#out + 1] = synth.json_line(a) end
            end)
            return table.concat(out, "\n")
        end
        assert.are.equal(lines(nil), lines(nil))
        assert.are.equal(lines(4), lines(4))
        assert.are_not.equal(lines(nil), lines(4))
    end)

    it("names the VPN exits a bought list would: a share of those the traffic uses, the traffic unchanged", function()
        local used, out = {}, {}
        local intel = synth.generate({ users = 200, days = 10, seed = 3, attack_rate = 0.02, realistic = true },
            function(day)
                for _, a in ipairs(day) do
                    out[#out + 1] = synth.json_line(a)
                    if a.label == "normal" and a.ip:match("^1[89]%d%.") then used[a.ip] = true end
                end
            end)
        local listed = 0
        for _, ip in ipairs(intel.vpn) do
            assert.is_true(used[ip] ~= nil or ip:match("^1[89]%d%.") ~= nil, ip)   -- exits, nothing else
            listed = listed + 1
        end
        -- 24 exits, 80 % listed as shipped (chosen by hash: about, not exactly)
        assert.is_true(listed >= 12 and listed < 24, tostring(listed))
        local classic = synth.generate({ users = 20, days = 2, seed = 3, attack_rate = 0.02 }, function() end)
        assert.are.same({}, classic.vpn)                          -- no VPNs without --realistic
        assert.are.same({}, classic.networks)
        local owned = 0
        for net, o in pairs(intel.networks) do
            assert.is_truthy(net:match("^%d+%.%d+%.%d+$"), net)
            assert.is_true(math.type(o.asn) == "integer" and o.asn >= 64512 and #o.org > 0, net)
            owned = owned + 1
        end
        assert.is_true(owned > 200, tostring(owned))
    end)
end)
