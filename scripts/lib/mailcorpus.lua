-- lib/mailcorpus.lua — a corpus of real mail for training and judging the
-- phishing model: its manifest (one JSON object per line: file, label,
-- source, date_year, sha256, "repo@commit"; files relative to it), the
-- fixed held-out fifth, the headers a model must not lean on, and the
-- held-out ROC AUC per source and era. riskd phishing train --manifest and
-- bench/phishing_corpus.py agree on the split through M.heldout.
local cjson = require("cjson")
local iforest = require("riskd.iforest")

local M = {}

-- The held-out fifth of a corpus: chosen by the message's sha256, so that
-- training and the benchmark agree without sharing state.
function M.heldout(sha256)
    return tonumber(sha256:sub(1, 8), 16) % 5 == 0
end

-- The headers that date a message or say where it was stored or filtered,
-- not what it says: --strip-headers drops them to show that the model does
-- not lean on them.
local STRIP = { "date", "received", "x-", "list-", "dkim-signature", "arc-", "authentication-results",
                "received-spf", "delivered-to", "precedence", "return-path", "message-id", "sender", "mailing-list" }
function M.strip_headers(raw)
    local s, e = raw:find("\r?\n\r?\n")
    if not s then return raw end
    local out, keep = {}, true
    for line in (raw:sub(1, s - 1) .. "\n"):gmatch("([^\n]*)\n") do
        line = line:gsub("\r$", "")
        if not line:match("^[ \t]") then   -- a new header; folded lines follow their header
            local name = (line:match("^([^:]+):") or ""):lower()
            keep = true
            for _, p in ipairs(STRIP) do
                if name == p or (p:sub(-1) == "-" and name:sub(1, #p) == p) then keep = false break end
            end
        end
        if keep then out[#out + 1] = line end
    end
    return table.concat(out, "\n") .. "\n\n" .. raw:sub(e + 1)
end

-- The entries of a manifest: { path, label, source, year, sha256, origin }.
function M.read_manifest(path)
    local f, err = io.open(path, "rb")
    if not f then return nil, err end
    local dir = path:match("^(.*)/[^/]*$") or "."
    local out, n = {}, 0
    for line in f:lines() do
        n = n + 1
        local ok, e = pcall(cjson.decode, line)
        if not ok or type(e) ~= "table" or type(e.file) ~= "string" or (e.label ~= 0 and e.label ~= 1) then
            f:close()
            return nil, string.format("%s:%d: not a manifest entry", path, n)
        end
        out[#out + 1] = { path = dir .. "/" .. e.file, label = math.tointeger(e.label), source = tostring(e.source or "?"),
                          year = type(e.date_year) == "number" and math.tointeger(e.date_year) or nil, sha256 = tostring(e.sha256 or e.file),
                          origin = e["repo@commit"] }
    end
    f:close()
    return out
end

-- The era a message belongs to in reports: "old" (before 2010), "2010s"
-- (2010-2018), "modern" (2019 and later), or "undated".
function M.era(year)
    if not year then return "undated" end
    return year < 2010 and "old" or year < 2019 and "2010s" or "modern"
end

-- The held-out ROC AUC by slice: { name, auc, n } for all messages
-- ("auc"), modern phishing against modern legitimate mail ("auc_modern":
-- era is the corpus's strongest leak), and each source against every
-- message of the other class ("auc_<source>"). meta[i]: { source, year,
-- label } of scores[i]; slices with one class only are left out.
function M.slices(scores, labels, meta)
    local label_of, sources = {}, {}
    for _, m in ipairs(meta) do
        if label_of[m.source] == nil then label_of[m.source] = m.label; sources[#sources + 1] = m.source end
    end
    table.sort(sources)
    local slices = { { "auc", function() return true end },
                     { "auc_modern", function(m) return M.era(m.year) == "modern" end } }
    for _, src in ipairs(sources) do
        slices[#slices + 1] = { "auc_" .. src, function(m) return m.source == src or m.label ~= label_of[src] end }
    end
    local res = {}
    for _, sl in ipairs(slices) do
        local s, l = {}, {}
        for i, m in ipairs(meta) do
            if sl[2](m) then s[#s + 1] = scores[i]; l[#l + 1] = labels[i] end
        end
        local auc = iforest.auc(s, l)
        if auc then res[#res + 1] = { name = sl[1], auc = auc, n = #s } end
    end
    return res
end

return M
