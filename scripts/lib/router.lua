-- lib/router.lua — matches a method and a path against the route table.
--
-- Static paths are looked up in a hash; patterns with parameters are tried in
-- table order. A path that matches some route but not the method gives the
-- methods that would have matched, for a 405 with Allow.
local M = {}
M.__index = M

-- The params of a route without parameters: shared, so read-only.
local NO_PARAMS = setmetatable({}, {
    __newindex = function() error("read-only table", 2) end,
    __metatable = "read-only",
})

local function split(path)
    local segs = {}
    for seg in path:gmatch("[^/]+") do segs[#segs + 1] = seg end
    return segs
end

local function compile(pattern)
    local segs, dynamic = split(pattern), false
    for i, seg in ipairs(segs) do
        local kind = seg:sub(1, 1)
        if kind == ":" or kind == "*" then
            assert(#seg > 1, "empty parameter name in " .. pattern)
            assert(kind == ":" or i == #segs, "'*' must be the last segment in " .. pattern)
            dynamic = true
        end
    end
    return segs, dynamic
end

-- routes: list of { method, pattern, handler_function }
function M.new(routes)
    local self = setmetatable({ static = {}, dynamic = {} }, M)
    for _, r in ipairs(routes) do
        local method, pattern, fn = r[1], r[2], r[3]
        assert(type(method) == "string" and type(pattern) == "string", "route needs a method and a pattern")
        assert(type(fn) == "function", "route " .. method .. " " .. pattern .. " has no handler function")
        local segs, dynamic = compile(pattern)
        local entry = { method = method:upper(), pattern = pattern, fn = fn, segs = segs }
        if dynamic then
            self.dynamic[#self.dynamic + 1] = entry
        else
            local key = "/" .. table.concat(segs, "/")
            local by_method = self.static[key] or {}
            assert(not by_method[entry.method], "duplicate route " .. method .. " " .. pattern)
            by_method[entry.method] = entry
            self.static[key] = by_method
        end
    end
    return self
end

local function match_segs(segs, parts)
    local params = {}
    for i, seg in ipairs(segs) do
        local c = seg:sub(1, 1)
        if c == "*" then
            params[seg:sub(2)] = table.concat(parts, "/", i)
            return params
        end
        local part = parts[i]
        if part == nil then return nil end
        if c == ":" then params[seg:sub(2)] = part
        elseif seg ~= part then return nil end
    end
    if #parts ~= #segs then return nil end
    return params
end

local function allow_list(set)
    if set.GET then set.HEAD = true end
    set.OPTIONS = true
    local list = {}
    for m in pairs(set) do list[#list + 1] = m end
    table.sort(list)
    return table.concat(list, ", ")
end

-- Returns route, params  |  nil, allow_header (path known, method not)  |  nil
function M:match(method, path)
    local lookup = method == "HEAD" and "GET" or method
    -- Fast path: a static route asked for by its exact path.
    local exact = self.static[path]
    if exact and exact[lookup] then return exact[lookup], NO_PARAMS end
    local parts = split(path)
    local key = "/" .. table.concat(parts, "/")
    local allowed
    local by_method = self.static[key]
    if by_method then
        local r = by_method[lookup]
        if r then return r, NO_PARAMS end
        allowed = {}
        for m in pairs(by_method) do allowed[m] = true end
    end
    for _, r in ipairs(self.dynamic) do
        local params = match_segs(r.segs, parts)
        if params then
            if r.method == lookup then return r, params end
            allowed = allowed or {}
            allowed[r.method] = true
        end
    end
    if allowed then return nil, allow_list(allowed) end
    return nil
end

return M
