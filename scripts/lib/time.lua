-- lib/time.lua — ISO 8601 timestamps <-> UTC milliseconds, without the C
-- library's local-time functions (days-from-civil, after H. Hinnant).
local M = {}

local function days_from_civil(y, m, d)
    y = m <= 2 and y - 1 or y
    local era = (y >= 0 and y or y - 399) // 400
    local yoe = y - era * 400
    local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
    local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
end

local function civil_from_days(z)
    z = z + 719468
    local era = (z >= 0 and z or z - 146096) // 146097
    local doe = z - era * 146097
    local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    local y = yoe + era * 400
    local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    local mp = (5 * doy + 2) // 153
    local d = doy - (153 * mp + 2) // 5 + 1
    local m = mp < 10 and mp + 3 or mp - 9
    return m <= 2 and y + 1 or y, m, d
end

local DIM = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- "2026-11-25T15:04:05Z", "...05.123Z", "...05+01:00", "2026-11-25 15:04:05" -> ms, or nil, why
function M.parse(s)
    if type(s) ~= "string" then return nil, "not a string" end
    local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
    if not y then return nil, "expected ISO 8601, like 2026-11-25T15:04:05Z" end
    y, mo, d, h, mi, sec = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
    if mo < 1 or mo > 12 or d < 1 or d > DIM[mo] or h > 23 or mi > 59 or sec > 60 then
        return nil, "date or time out of range"
    end
    if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then
        return nil, "date or time out of range"
    end
    local ms = 0
    local frac, tz = rest:match("^%.(%d+)(.*)$")
    if frac then ms = tonumber((frac .. "00"):sub(1, 3)); rest = tz end
    local offset = 0
    if rest == "Z" or rest == "z" or rest == "" then
        offset = 0
    else
        local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
        if not sign then return nil, "bad time zone '" .. rest .. "'" end
        offset = (tonumber(oh) * 60 + tonumber(om)) * 60000 * (sign == "+" and 1 or -1)
    end
    local days = days_from_civil(y, mo, d)
    return ((days * 24 + h) * 60 + mi) * 60000 + math.min(sec, 59) * 1000 + ms - offset
end

-- ms -> "2026-11-25T15:04:05.123Z"
function M.format(ms)
    local days = ms // 86400000
    local rem = ms - days * 86400000
    local y, m, d = civil_from_days(days)
    local h = rem // 3600000
    local mi = rem % 3600000 // 60000
    local s = rem % 60000 // 1000
    return string.format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, h, mi, s, rem % 1000)
end

return M
