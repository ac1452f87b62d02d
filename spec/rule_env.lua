-- spec/rule_env.lua — the environment a rule is loaded in, as the engine
-- loads it (engine/sandbox.c): the allow-list, the set's config, and an
-- error on any other global. Shared by the rule specs.
return function(config)
    local env = {
        assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
        select = select, tonumber = tonumber, tostring = tostring, type = type, xpcall = xpcall,
        os = { time = os.time, date = os.date, clock = os.clock }, string = string, table = table, math = math,
        utf8 = utf8, config = config,
    }
    return setmetatable(env, { __index = function(_, k) error("unknown global '" .. tostring(k) .. "'") end })
end
