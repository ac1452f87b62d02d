-- api/auth.lua — accounts and sessions (the Flask system's /api/auth/*).
--
-- POST /api/auth/login     {username, password} -> a Bearer token (HS256 JWT)
-- GET  /api/auth/me        the caller, from its token
-- GET  /api/auth/verify    {valid: true, user} for a good token
-- POST /api/auth/register  an admin creates an account (self-sign-up of
--                          analysts only with RISKD_OPEN_REGISTRATION=1)
--
-- Unknown user and wrong password get the same answer and take the same
-- time (a dummy hash is verified for unknown users). Repeated failures are
-- throttled with 429 and Retry-After (limits below).
local auth = require("riskd.auth")
local response = require("lib.response")
local time = require("lib.time")
local store = require("riskd.store")

local M = {}

local ROLES = require("lib.vocab").is_role
-- Sign-in throttling is the engine's (engine/lockout.h, docs/operations.md):
-- one address that keeps failing for one account waits, the account is
-- slowed (never locked) for addresses it never signed in from, and an
-- address failing across many accounts waits. Shared by the workers and
-- kept across reloads; set with riskd serve --lockout-* and --ip-*.

M.clock = os.time   -- specs replace it

local db
local function get_db()
    db = db or store.worker()
    return db
end

-- For specs: another store, and a token secret (the server uses JWT_SECRET).
local secret

-- Tokens whose signature checked out, with their claims: a service sends the
-- same token with every attempt, and checking the HMAC (libjwt, jansson) was
-- a sixth of an analysis's CPU. Only the signature is remembered: expiry is
-- checked on every request, and the account as below.
-- Bounded: emptied when full.
local VERIFIED_MAX = 1024
local verified, nverified = {}, 0

local function verify_token(tok)
    local c = verified[tok]
    if c and c.exp > os.time() then
        return { sub = c.sub, role = c.role, jti = c.jti, pwv = c.pwv, iat = c.iat, exp = c.exp }
    end
    local claims, err, code = auth.verify(tok, secret)
    if not claims then return nil, err, code end
    if nverified >= VERIFIED_MAX then verified, nverified = {}, 0 end
    if not verified[tok] then nverified = nverified + 1 end
    verified[tok] = { sub = claims.sub, role = claims.role, jti = claims.jti, pwv = claims.pwv, iat = claims.iat,
                      exp = claims.exp }
    return claims
end

-- Accounts and API keys as last read, kept while the store's accounts
-- generation stays the same: any change to an account or a key, by this
-- server or by `riskd user` / `riskd key` in another process, moves it, so
-- a deleted account, a changed password or a revoked key stops at the next
-- request, as when they were read every time. A store without one (MongoDB)
-- is read every time. Bounded: emptied when full.
local ACCOUNTS_MAX = 1024
local accounts = { n = 0, users = {}, keys = {} }

local function account_cache(d)
    local g = d:accounts_generation()
    if g == nil then return nil end
    if accounts.gen ~= g or accounts.n >= ACCOUNTS_MAX then accounts = { gen = g, n = 0, users = {}, keys = {} } end
    return accounts
end

-- d:method(id), from the cache c (may be nil) when it holds it.
local function cached(c, kind, d, method, id)
    local v = c and c[kind][id]
    if v then return v end
    local err, code
    v, err, code = d[method](d, id)
    if v and c then
        c[kind][id] = v
        c.n = c.n + 1
    end
    return v, err, code
end

function M.use(d, s)
    db, secret, verified, nverified, touched = d, s, {}, 0, {}
    accounts = { n = 0, users = {}, keys = {} }
end

-- Replaceable in specs (the pipeline has its own).
function M.assess(username, req, success) return require("api.login").assess_signin(username, req, success) end

local dummy_hash
local function burn_verify(password)
    dummy_hash = dummy_hash or assert(auth.hash("riskd-dummy-password-for-timing"))
    auth.verify_password(dummy_hash, password)
end

local function unauthorized(message)
    return response.error(401, "unauthorized", message, { ["WWW-Authenticate"] = 'Bearer realm="riskd"' })
end

local function nonempty_string(v, max) return type(v) == "string" and #v > 0 and #v <= max end

-- A password's version: the salt of its hash, new with every password, so
-- a token carrying an older one is void. Not secret (it is in the hash).
function M.password_version(hash)
    return hash and hash:match("%$([^$]+)%$[^$]+$") or ""
end

-- A service's API key (riskd key create, /api/admin/keys): "X-API-Key: KEY"
-- or "Authorization: Bearer KEY". The key's record is read on every call,
-- so a revoked key gets 401 at once; its last use is written at most once
-- a minute per worker (KEY_TOUCH_MS), not with every request.
local KEY_TOUCH_MS = 60000
local touched = {}

local function api_key_of(req)
    local h = req.headers
    if not h then return nil end
    if h["x-api-key"] then return h["x-api-key"] end
    return h["authorization"] and h["authorization"]:match("^[Bb]earer%s+(rk_%S+)%s*$")
end

local function authenticate_key(req, key)
    local d = get_db()
    if not d then return nil, response.unavailable() end
    local k, why, code = cached(account_cache(d), "keys", d, "key_check", key)
    if not k then
        if code == "invalid" then return nil, unauthorized(why) end
        return nil, response.unavailable(why)
    end
    local now = math.floor(M.clock() * 1000)
    if now - (touched[k.id] or 0) >= KEY_TOUCH_MS then
        if d:key_touch(k.id, now) then touched[k.id] = now end
    end
    return { sub = "key:" .. k.name, role = k.role, key = k, user = { username = k.name, role = k.role, created = k.created } }
end

-- The caller from "Authorization: Bearer <token>" (or an API key): the
-- token's claims with the account's current role, or nil, status, body,
-- headers. The account is read on every call, so a deleted account or a
-- changed password stops its tokens at once, and a role change applies at
-- once.
function M.authenticate(req)
    local key = api_key_of(req)
    if key then return authenticate_key(req, key) end
    local h = req.headers and req.headers["authorization"]
    if not h then return nil, unauthorized("a Bearer token or an X-API-Key is required") end
    local tok = h:match("^[Bb]earer%s+(%S+)%s*$")
    if not tok then return nil, unauthorized("the Authorization header must be 'Bearer <token>'") end
    local claims, err, code = verify_token(tok)
    if not claims then
        if code == "no_secret" then return nil, response.error(503, "auth_unavailable", err) end
        return nil, unauthorized(err)
    end
    local d = get_db()
    if not d then return nil, response.unavailable() end
    local u, uerr, ucode = cached(account_cache(d), "users", d, "user", claims.sub)
    if not u then
        if ucode == "not_found" then return nil, unauthorized("the account no longer exists") end
        return nil, response.unavailable(uerr)
    end
    if claims.pwv ~= M.password_version(u.password_hash) then
        return nil, unauthorized("the password has changed since this token was issued; sign in again")
    end
    claims.role, claims.user = u.role, u
    return claims
end

-- POST /api/auth/login
function M.login(req)
    local b = req.body
    if type(b) ~= "table" or not nonempty_string(b.username, 128) or not nonempty_string(b.password, 1024) then
        return response.bad_request("username and password are required strings")
    end
    local now = M.clock()
    local ip = req.remote_addr
    local wait = auth.lockout_wait(b.username, ip, now)
    if wait > 0 then
        return response.error(429, "too_many_attempts", "too many failed sign-ins; try again later",
            { ["Retry-After"] = tostring(wait) })
    end
    local d = get_db()
    if not d then return response.unavailable() end
    local u, err, code = d:user(b.username)
    if not u and code ~= "not_found" then return response.unavailable(err) end
    local ok, verr
    if u and u.password_hash then
        ok, verr = auth.verify_password(u.password_hash, b.password)
        -- The check itself did not finish (the pool was saturated past the
        -- request's time): not a wrong password, and not counted as one.
        if ok == nil then return response.error(503, "auth_unavailable", verr) end
    else
        burn_verify(b.password)
        ok = false
    end
    -- Every verified attempt is a login event like any other: analysed,
    -- stored, alerting (riskd's own accounts are worth protecting too).
    M.assess(b.username:sub(1, 120), req, ok)
    if not ok then
        auth.lockout_failed(b.username, ip, now)
        return unauthorized("invalid username or password")
    end
    auth.lockout_succeeded(b.username, ip, now)
    local tok, claims, icode = auth.issue(u.username, u.role, { secret = secret, pwv = M.password_version(u.password_hash) })
    if not tok then return response.error(503, "auth_unavailable", claims .. " (" .. icode .. ")") end
    return 200, {
        token = tok, token_type = "Bearer", expires_in = claims.exp - claims.iat,
        expires_at = time.format(claims.exp * 1000),
        user = { username = u.username, role = u.role, email = u.email },
    }
end

-- GET /api/auth/verify (the Flask system's check): {valid, user}
function M.verify(req)
    local s, body, headers = M.me(req)
    if s ~= 200 then return s, body, headers end
    return 200, { valid = true, user = { username = body.username, role = body.role, email = body.email },
                  expires_at = body.token and body.token.expires_at or nil }
end

-- GET /api/auth/me
function M.me(req)
    local claims, s, body, headers = M.authenticate(req)
    if not claims then return s, body, headers end
    local u = claims.user
    if claims.key then
        local k = claims.key
        return 200, { username = u.username, role = u.role, created_at = time.format(k.created),
                      key = { id = k.id, name = k.name, created_at = time.format(k.created) } }
    end
    return 200, {
        username = u.username, role = u.role, email = u.email, created_at = time.format(u.created),
        token = { id = claims.jti, issued_at = time.format(claims.iat * 1000), expires_at = time.format(claims.exp * 1000) },
    }
end

-- Self-sign-up is off unless RISKD_OPEN_REGISTRATION=1 (then it makes
-- analysts only); read per call so a restart is not needed to close it.
local function open_registration()
    local ok, cfg = pcall(require("riskd.engine").config)
    return ok and cfg and cfg.open_registration == true
end

-- POST /api/auth/register (admin only, or anyone for an analyst account
-- when registration is open)
function M.register(req)
    local admin = false
    if req.headers and req.headers["authorization"] or not open_registration() then
        local claims, s, body, headers = M.authenticate(req)
        if not claims then return s, body, headers end
        if claims.role ~= "admin" then return response.error(403, "forbidden", "only an admin may create accounts") end
        admin = true
    end
    local b = req.body
    if type(b) ~= "table" or not nonempty_string(b.username, 127) or not nonempty_string(b.password, 1024) then
        return response.bad_request("username and password are required strings")
    end
    if not b.username:match("^[%w._@-]+$") then
        return response.bad_request("username may hold letters, digits and . _ @ - only")
    end
    local role = b.role or "analyst"
    if not ROLES[role] then return response.bad_request("role must be admin, analyst or service") end
    if not admin and role ~= "analyst" then
        return response.error(403, "forbidden", "open registration creates analysts only")
    end
    if b.email ~= nil and not (nonempty_string(b.email, 254) and b.email:match("^[^@%s]+@[^@%s]+$")) then
        return response.bad_request("email is not an address")
    end
    local okp, perr = auth.policy(b.username, b.password)
    if not okp then return response.bad_request(perr, "weak_password") end
    local breached = require("api.intel").breached(b.password)
    if breached then return response.bad_request(breached, "breached_password") end
    local d = get_db()
    if not d then return response.unavailable() end
    local hash, herr = auth.hash(b.password)
    if not hash then return response.error(500, "hash_failed", herr) end
    local u, err, code = d:user_create({ username = b.username, role = role, email = b.email, password_hash = hash })
    if not u then
        if code == "conflict" then return response.error(409, "conflict", "user " .. b.username .. " exists") end
        return response.unavailable(err)
    end
    return 201, { username = u.username, role = u.role, email = u.email, created_at = time.format(u.created) }
end

return M
