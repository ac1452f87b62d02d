-- Clients that are not a person's browser: user agents of scripting tools
-- and headless browsers (the intel folder's bot_agents.patterns, edited by
-- the operator), and requests whose headers, as the caller reports them
-- ("headers" in the analyze request), contradict the user agent.
local function platform_of_ua(ua)
    if ua:find("Windows NT", 1, true) then return "windows" end
    if ua:find("Android", 1, true) then return "android" end
    if ua:find("iPhone", 1, true) or ua:find("iPad", 1, true) then return "ios" end
    if ua:find("CrOS", 1, true) then return "chromeos" end
    if ua:find("Mac OS X", 1, true) or ua:find("Macintosh", 1, true) then return "macos" end
    if ua:find("Linux", 1, true) then return "linux" end
    return nil
end

-- sec-ch-ua-platform and device.os values, normalised.
local PLATFORMS = {
    windows = "windows", macos = "macos", ["mac os"] = "macos", ["os x"] = "macos", linux = "linux",
    android = "android", ios = "ios", ipados = "ios", ["chrome os"] = "chromeos", chromeos = "chromeos",
}

local function platform_name(v)
    if not v then return nil end
    return PLATFORMS[v:gsub('"', ""):lower()]
end

-- What is wrong with the headers, as reasons; none without headers.
local function inconsistencies(ua, h, os)
    local found = {}
    local claimed = platform_of_ua(ua)
    if h then
        local ch = h["sec-ch-ua"]
        if ch and ch:find("HeadlessChrome", 1, true) then found[#found + 1] = "the client hints name a headless browser" end
        -- Chromium 90+ sends client hints on every secure request.
        local major = tonumber(ua:match("Chrome/(%d+)"))
        if major and major >= 90 and not ch then found[#found + 1] = "claims Chrome " .. major .. " but sends no client hints" end
        local hinted = platform_name(h["sec-ch-ua-platform"])
        if hinted and claimed and hinted ~= claimed then
            found[#found + 1] = "the user agent says " .. claimed .. " but the client hints say " .. hinted
        end
        if h["sec-ch-ua-mobile"] == "?1" and claimed and claimed ~= "android" and claimed ~= "ios" then
            found[#found + 1] = "a desktop user agent that reports itself mobile"
        end
        if not h["accept-language"] then found[#found + 1] = "no Accept-Language, which every browser sends" end
    end
    local said = platform_name(os)
    if said and claimed and said ~= claimed then
        found[#found + 1] = "the device says " .. said .. " but the user agent says " .. claimed
    end
    return found
end

return {
    name = "bot_client",
    family = "reputation",
    description = "a scripting tool or headless browser, or headers that contradict the user agent",
    weights = {
        bot = 55,                      -- a scripting tool's or headless browser's user agent
        bot_mismatch = 20,             -- each contradiction between the headers and the user agent
    },
    evaluate = function(ctx)
        local a = ctx.attempt
        local ua = a.user_agent
        if not ua or ua == "" then
            if a.headers then return config.weights.bot_mismatch, "no user agent" end
            return nil
        end
        local tool = ctx.intel.match("bot_agents", ua)
        if tool then
            return config.weights.bot, "the user agent is a scripting tool or headless browser (" .. tool .. ")"
        end
        local found = inconsistencies(ua, a.headers, a.os)
        if #found == 0 then return nil end
        return math.min(config.bot_mismatch_max, config.weights.bot_mismatch * #found), table.concat(found, "; ")
    end,
}
