-- lib/worker_store.lua — the store an API module uses: this worker's
-- (riskd.store.worker()), or one a spec gives it.
--
--   local db = require("lib.worker_store").new()
--   function M.use(d) db.use(d) end      -- specs
--   local d = db.get()                   -- nil outside a server without use()
local M = {}

function M.new()
    local h, chosen = {}, nil
    function h.use(d) chosen = d end
    function h.get()
        chosen = chosen or require("riskd.store").worker()
        return chosen
    end
    return h
end

return M
