-- lib/vocab.lua — the risk levels and the roles, as the engine defines them
-- (engine/store.c), with what the scripts look them up by:
--   vocab.levels = { "low", "medium", "high", "critical" }; vocab.level_rank.high == 2 (0-based,
--   as the real-time feeds number them); vocab.roles; vocab.is_role.admin == true.
local store = require("riskd.store")

local M = { levels = store.levels, roles = store.roles, level_rank = {}, is_role = {} }
for i, name in ipairs(M.levels) do M.level_rank[name] = i - 1 end
for _, role in ipairs(M.roles) do M.is_role[role] = true end

return M
