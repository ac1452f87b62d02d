-- spec/helper.lua — loaded before every spec (see .busted): the engine
-- module comes from build/riskd.so, scripts from scripts/.
package.cpath = "./build/?.so;" .. package.cpath
package.path = "./scripts/?.lua;./scripts/?/init.lua;" .. package.path
