-- spec/iforest_spec.lua — riskd.iforest from Lua: training, scoring, the
-- matrix userdata, explanations, files and the error conventions.
local iforest = require("riskd.iforest")

-- Seeded data: a tight cluster and a few far points (the last 5 rows).
local function data(n, seed)
    local rows, state = {}, seed
    local function rnd()
        state = (state * 1103515245 + 12345) % 2147483648
        return state / 2147483648
    end
    for i = 1, n do
        if i > n - 5 then
            rows[i] = { rnd() * 100 - 50, rnd() * 100 - 50, rnd() * 100 - 50 }
        else
            rows[i] = { rnd(), rnd() + 1, rnd() * 2 }
        end
    end
    return rows
end

local NAMES = { "hour", "km", "fails" }

describe("riskd.iforest", function()
    local rows = data(1000, 7)
    local model = assert(iforest.train(rows, { trees = 50, seed = 3, names = NAMES }))

    it("scores rows given as arrays or by name", function()
        local s = model:score(rows[1])
        assert.is_true(s > 0 and s < 1)
        assert.are.equal(s, model:score({ hour = rows[1][1], km = rows[1][2], fails = rows[1][3] }))
        assert.is_true(model:score(rows[1000]) > model:score(rows[1]))
    end)

    it("scores many rows, from tables or a matrix, as one row at a time", function()
        local many = model:score_many(rows)
        assert.are.equal(1000, #many)
        local mx = iforest.matrix(rows)
        assert.are.same({ 1000, 3 }, { mx:size() })
        assert.are.equal(1000, #mx)
        local from_matrix = model:score_many(mx, 1)
        for i = 1, 1000, 50 do
            assert.are.equal(model:score(rows[i]), many[i])
            assert.are.equal(many[i], from_matrix[i])
        end
    end)

    it("is deterministic for a seed", function()
        local again = iforest.train(rows, { trees = 50, seed = 3 })
        local other = iforest.train(rows, { trees = 50, seed = 4 })
        assert.are.equal(model:score(rows[5]), again:score(rows[5]))
        assert.are_not.equal(model:score(rows[5]), other:score(rows[5]))
    end)

    it("explains a score exactly, by feature name", function()
        local far = { rows[1][1], 500, rows[1][3] }
        local phi, expected, score = model:explain(far)
        local sum = 0
        for _, v in pairs(phi) do sum = sum + v end
        assert.is_true(math.abs(sum - (score - expected)) < 1e-9)
        assert.is_true(phi.km > phi.hour and phi.km > phi.fails)
        assert.are.equal(model:score(far), score)
    end)

    it("saves and loads with identical scores, and checks names", function()
        local path = os.tmpname()
        assert.is_true(model:save(path))
        local loaded = assert(iforest.load(path, NAMES))
        assert.are.equal(model:score(rows[9]), loaded:score(rows[9]))
        local info = loaded:info()
        assert.are.equal(50, info.trees)
        assert.are.equal(3, info.seed)
        assert.are.same(NAMES, info.names)
        assert.are.equal(1000, info.train_rows)
        local bad, msg, code = iforest.load(path, { "hour", "km", "other" })
        assert.is_nil(bad)
        assert.matches("feature 3 is 'fails', expected 'other'", msg)
        assert.are.equal("invalid_model", code)
        local f = io.open(path, "r+b")
        f:seek("set", 40)
        f:write("\255\255")
        f:close()
        bad, msg, code = iforest.load(path)
        assert.is_nil(bad)
        assert.matches("checksum", msg)
        assert.are.equal("invalid_model", code)
        os.remove(path)
        assert.are.equal("io", select(3, model:save("/nonexistent/dir/m.model")))
    end)

    it("returns nil, msg, code for bad data and raises on misuse", function()
        local ok, msg, code = model:score({ 0 / 0, 1, 1 })
        assert.is_nil(ok)
        assert.matches("feature 'hour' is NaN", msg)
        assert.are.equal("nan", code)
        ok, msg, code = iforest.train({ { 1 } })
        assert.is_nil(ok)
        assert.are.equal("invalid_data", code)
        assert.has_error(function() model:score({ 1, 2 }) end)
        assert.has_error(function() model:score({ hour = 1, km = 2 }) end, "row 1: missing feature 'fails'")
        assert.has_error(function() model:score({ 1, "x", 3 }) end)
        assert.has_error(function() iforest.train(rows, { trees = 0 }) end)
        assert.has_error(function() iforest.train(rows, { names = { "a" } }) end)
        assert.has_error(function() iforest.matrix(0, 3) end)
    end)

    it("releases with <close>", function()
        local kept
        do
            local m <close> = iforest.train(rows, { trees = 5 })
            kept = m
        end
        assert.has_error(function() kept:score(rows[1]) end, "attempt to use a released model")
        assert.matches("released", tostring(kept))
    end)

    it("reads CSV into a matrix, with labels", function()
        local path = os.tmpname()
        local f = io.open(path, "w")
        f:write("hour,km,label\n1,2,0\n3,4.5,1\n")
        f:close()
        local mx, names, labels = iforest.read_csv(path, "label")
        assert.are.same({ "hour", "km" }, names)
        assert.are.same({ 0, 1 }, labels)
        assert.are.equal(4.5, mx:get(2, 2))
        mx:set(2, 2, 9)
        assert.are.equal(9, mx:get(2, 2))
        assert.has_error(function() mx:get(3, 1) end)
        f = io.open(path, "w")
        f:write("hour,km\n1,x\n")
        f:close()
        local bad, msg, code = iforest.read_csv(path)
        assert.is_nil(bad)
        assert.matches(":2:2: not a number", msg)
        assert.are.equal("invalid_csv", code)
        os.remove(path)
    end)
end)
