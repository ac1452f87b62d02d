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
end)
