-- spec/helper.lua — loaded before every spec (see .busted): the engine
-- module comes from build/riskd.so, scripts from scripts/.
package.cpath = (os.getenv("RISKD_SO_DIR") or "./build") .. "/?.so;" .. package.cpath
package.path = "./scripts/?.lua;./scripts/?/init.lua;" .. package.path

-- `make coverage` sets RISKD_LUA_COVERAGE to collect line hits.
local cov = os.getenv("RISKD_LUA_COVERAGE")
if cov then
    package.path = "./tests/?.lua;" .. package.path
    require("luacov").start(cov)
end
