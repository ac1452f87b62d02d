-- bench/phishing_eval.lua — `riskd run bench/phishing_eval.lua [N] [FOLDER]`:
-- the default verdict (live model + rules, as the API answers) on a held-out
-- generated set built with another seed (99) and another list of brands
-- than the default model's training set; the same without the model (the
-- indicators and rules alone) and the model alone; then, when FOLDER is
-- given, the hand-written messages under FOLDER/phishing and
-- FOLDER/legitimate. Prints ROC AUC and the detection at the verdicts.
local mail = require("lib.synth_mail")
local phishing = require("lib.phishing")
local ph = require("riskd.phishing")
local rules = require("riskd.rules")
local iforest = require("riskd.iforest")

local n, folder = tonumber(arg[1] or "1000"), arg[2]
local model = ph.current()
local cfg = rules.config("phishing")
local with = { phishing = ph, rules = rules, config = cfg, model = model }
local without = { phishing = ph, rules = rules, config = cfg }

local function measure(name, items)
    local s_full, s_rules, s_model, y = {}, {}, {}, {}
    local caught, flagged_legit, npos, nneg = 0, 0, 0, 0
    for i, it in ipairs(items) do
        local msg = assert(ph.parse(it.raw))
        local r = phishing.analyze(msg, with)
        s_full[i], y[i] = r.score, it.label
        s_rules[i] = phishing.analyze(msg, without).score
        s_model[i] = r.model_score or 0
        if it.label == 1 then npos = npos + 1; if r.verdict ~= "clean" then caught = caught + 1 end
        else nneg = nneg + 1; if r.verdict ~= "clean" then flagged_legit = flagged_legit + 1 end end
    end
    print(string.format("%-40s ROC AUC %.4f (rules alone %.4f, model alone %.4f); phishing caught %d/%d, legitimate flagged %d/%d",
        name, iforest.auc(s_full, y) or 0, iforest.auc(s_rules, y) or 0, iforest.auc(s_model, y) or 0, caught, npos, flagged_legit, nneg))
end

local items = {}
mail.generate({ count = n, seed = 99, brands = mail.OTHER_BRANDS }, function(raw, label)
    items[#items + 1] = { raw = raw, label = label == "phishing" and 1 or 0 }
end)
print(model and "default phishing model: " .. string.format("trained on %d messages", model:info().metrics.examples or 0)
      or "no phishing model: rules only")
measure(string.format("held-out generated (seed 99, other brands)"), items)
if folder then
    local hand = {}
    for _, which in ipairs({ { "phishing", 1 }, { "legitimate", 0 } }) do
        for raw in assert(ph.messages(folder .. "/" .. which[1])) do
            if raw then hand[#hand + 1] = { raw = raw, label = which[2] } end
        end
    end
    measure(string.format("hand-written messages (%d)", #hand), hand)
end
