-- spec/mailcorpus_spec.lua — lib/mailcorpus.lua: the manifest, the fixed
-- held-out fifth, the headers stripped, the AUC per slice.
local corpus = require("lib.mailcorpus")

describe("mailcorpus", function()
    it("holds out every fifth message by its sha256, the same every time", function()
        assert.is_true(corpus.heldout("00000005aa"))       -- 5 % 5 == 0
        assert.is_false(corpus.heldout("00000007aa"))
        local n = 0
        for i = 1, 1000 do if corpus.heldout(string.format("%08x", i * 2654435761 % 4294967296)) then n = n + 1 end end
        assert.is_true(n > 150 and n < 250, n)
    end)

    it("strips the headers that date a message or say where it was kept, and keeps the rest", function()
        local raw = "Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\nFrom: x@y.example\r\nDate: Mon, 1 Jan 2024\r\n" ..
                    "X-Spam-Status: No\r\nList-Id: <l.example>\r\nDKIM-Signature: v=1;\r\n b=abc\r\nSubject: hi\r\n\r\n" ..
                    "Date: in the body stays\r\n"
        local out = corpus.strip_headers(raw)
        assert.are.equal("From: x@y.example\nSubject: hi\n\nDate: in the body stays\r\n", out)
        assert.are.equal("no headers at all", corpus.strip_headers("no headers at all"))
    end)

    it("reads a manifest, relative to its folder, and refuses a bad line", function()
        local dir = os.tmpname()
        os.remove(dir)
        os.execute("mkdir -p " .. dir)
        local f = assert(io.open(dir .. "/manifest.jsonl", "w"))
        f:write('{"file":"phish/a.eml","label":1,"source":"pot","date_year":2023,"sha256":"00000005","repo@commit":"r@c"}\n')
        f:write('{"file":"ham/b.eml","label":0,"source":"list","date_year":null,"sha256":"00000007"}\n')
        f:close()
        local e = assert(corpus.read_manifest(dir .. "/manifest.jsonl"))
        assert.are.same({ path = dir .. "/phish/a.eml", label = 1, source = "pot", year = 2023, sha256 = "00000005", origin = "r@c" }, e[1])
        assert.are.equal(0, e[2].label)
        assert.is_true(math.type(e[2].label) == "integer")
        assert.is_nil(e[2].year)
        f = assert(io.open(dir .. "/manifest.jsonl", "a"))
        f:write('{"file":"x","label":"spam"}\n')
        f:close()
        local none, err = corpus.read_manifest(dir .. "/manifest.jsonl")
        assert.is_nil(none)
        assert.matches("manifest.jsonl:3: not a manifest entry", err, 1, true)
        os.execute("rm -rf " .. dir)
    end)

    it("gives the AUC per slice: all, modern, each source against the other class", function()
        local meta = { { source = "pot", year = 2023, label = 1 }, { source = "pot", year = 2024, label = 1 },
                       { source = "old", year = 2004, label = 1 }, { source = "list", year = 2020, label = 0 },
                       { source = "sa", year = 2002, label = 0 } }
        local labels, scores = {}, { 0.9, 0.8, 0.1, 0.2, 0.05 }
        for i, m in ipairs(meta) do labels[i] = m.label end
        local got = {}
        for _, sl in ipairs(corpus.slices(scores, labels, meta)) do got[sl.name] = { sl.auc, sl.n } end
        assert.are.same({ 5 / 6, 5 }, got.auc)                 -- the old phishing below one legitimate message
        assert.are.same({ 1, 3 }, got.auc_modern)
        assert.are.same({ 0.5, 3 }, got.auc_old)
        assert.are.same({ 2 / 3, 4 }, got.auc_list)
        assert.are.equal(corpus.era(2004), "old")
        assert.are.equal(corpus.era(nil), "undated")
        assert.are.equal(corpus.era(2018), "2010s")
        assert.are.equal(corpus.era(2019), "modern")
    end)
end)
