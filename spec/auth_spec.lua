-- spec/auth_spec.lua — riskd.auth (passwords, tokens) and the /api/auth
-- handlers on a real SQLite store, with an explicit secret (the server's
-- comes from JWT_SECRET).
local auth = require("riskd.auth")
local api = require("api.auth")
local store = require("riskd.store")

local SECRET = "spec-secret-that-is-long-enough-0123456789"

describe("riskd.auth", function()
    it("hashes with argon2id and verifies", function()
        local h = assert(auth.hash("correct horse battery"))
        assert.are.equal("$argon2id$", h:sub(1, 10))
        assert.is_true(auth.verify_password(h, "correct horse battery"))
        assert.is_false(auth.verify_password(h, "correct horse batterY"))
        assert.is_false(auth.verify_password("not a hash", "x"))
    end)

    it("applies the password policy", function()
        assert.is_true(auth.policy("ana", "a long enough passphrase"))
        local ok, msg, code = auth.policy("ana", "short")
        assert.is_nil(ok)
        assert.are.equal("weak_password", code)
        assert.is_string(msg)
    end)

    it("issues and verifies tokens", function()
        local tok, c = auth.issue("ana", "analyst", { ttl = 60, secret = SECRET, pwv = "v1" })
        assert.is_string(tok)
        assert.are.equal(60, c.exp - c.iat)
        local v = assert(auth.verify(tok, SECRET))
        assert.are.same({ c.sub, c.role, c.jti, "v1" }, { v.sub, v.role, v.jti, v.pwv })
        local none, msg, code = auth.verify(tok, SECRET .. "x")
        assert.is_nil(none)
        assert.are.equal("invalid_token", code)
        assert.is_string(msg)
    end)

    it("says when there is no secret, and checks its arguments", function()
        local tok, msg, code = auth.issue("ana", "analyst")
        assert.is_nil(tok)
        assert.are.equal("no_secret", code)
        assert.is_string(msg)
        assert.are.equal("no_secret", select(3, auth.verify("a.b.c")))
        assert.are.equal("no_secret", select(3, auth.issue("ana", "analyst", { secret = "too short" })))
        assert.has_error(function() auth.issue("", "analyst", { secret = SECRET }) end)
        assert.has_error(function() auth.issue("ana", "analyst", { ttl = 0, secret = SECRET }) end)
        assert.has_error(function() auth.issue("ana", string.rep("r", 40), { secret = SECRET }) end)
        assert.has_error(function() auth.issue("ana", "analyst", { pwv = string.rep("p", 80), secret = SECRET }) end)
        assert.has_error(function() auth.issue("ana", "analyst", "x") end)
        assert.are.equal(3600, auth.ttl())
    end)
end)

describe("api.auth", function()
    local path = os.tmpname()
    os.remove(path)
    local db = assert(store.open("sqlite:" .. path))
    api.use(db, SECRET)
    assert(db:user_create({ username = "root", role = "admin", password_hash = assert(auth.hash("root passphrase!")) }))
    teardown(function() db:close() os.remove(path) os.remove(path .. "-wal") os.remove(path .. "-shm") os.remove(path .. "-accounts") end)

    local function req(body, token, ip)
        return { body = body, headers = { authorization = token and ("Bearer " .. token) or nil },
                 remote_addr = ip or "192.0.2.1", query = {}, params = {} }
    end

    local function login(u, p, ip) return api.login(req({ username = u, password = p }, nil, ip)) end

    it("signs in, names the caller, registers", function()
        local s, d = login("root", "root passphrase!")
        assert.are.equal(200, s)
        assert.are.equal("admin", d.user.role)
        local s2, me = api.me(req(nil, d.token))
        assert.are.equal(200, s2)
        assert.are.equal("root", me.username)
        local s3, u = api.register(req({ username = "ana", password = "ana passphrase!", role = "analyst" }, d.token))
        assert.are.equal(201, s3)
        assert.are.equal("analyst", u.role)
        local s4, e = api.register(req({ username = "b@d name", password = "ana passphrase!" }, d.token))
        assert.are.equal(400, s4)
        assert.matches("username", e.error.message)
        local s5 = api.register(req({ username = "bo", password = "bo passphrase!!", email = "not-an-address" }, d.token))
        assert.are.equal(400, s5)
        local s6 = api.register(req("not a table", d.token))
        assert.are.equal(400, s6)
    end)

    it("voids older tokens when the password changes, and follows role changes", function()
        local _, d = login("ana", "ana passphrase!")
        assert.are.equal(200, (api.me(req(nil, d.token))))
        assert(db:user_set_password("ana", assert(auth.hash("ana new passphrase"))))
        local s, e = api.me(req(nil, d.token))
        assert.are.equal(401, s)
        assert.matches("password has changed", e.error.message)
        local _, d2 = login("ana", "ana new passphrase")
        assert.are.equal(200, (api.me(req(nil, d2.token))))
        assert.are.equal("", api.password_version(nil))
    end)

    it("remembers a checked token, but never past its expiry", function()
        local pwv = api.password_version(assert(db:user("root")).password_hash)
        local tok = assert(auth.issue("root", "admin", { ttl = 1, secret = SECRET, pwv = pwv }))
        assert.are.equal(200, (api.me(req(nil, tok))))
        assert.are.equal(200, (api.me(req(nil, tok))))   -- from the cache
        local c = tok:sub(-10, -10)
        local tampered = tok:sub(1, -11) .. (c == "A" and "B" or "A") .. tok:sub(-9)
        assert.are.equal(401, (api.me(req(nil, tampered))))
        local deadline = os.time() + 3
        repeat os.execute("sleep 0.2") until os.time() >= deadline - 1
        local s, e = api.me(req(nil, tok))
        assert.are.equal(401, s)
        assert.matches("expired", e.error.message)
    end)

    it("reads an account once while no account changes, again after any change, from any handle", function()
        local reads = 0
        local spy = setmetatable({}, { __index = function(_, k)
            local f = db[k]
            return function(_, ...)
                if k == "user" then reads = reads + 1 end
                return f(db, ...)
            end
        end })
        api.use(spy, SECRET)
        local _, d = login("ana", "ana new passphrase")
        reads = 0
        for _ = 1, 3 do assert.are.equal(200, (api.me(req(nil, d.token)))) end
        assert.are.equal(1, reads)
        -- another handle on the same file, as `riskd user` in another process
        local other = assert(store.open("sqlite:" .. path))
        assert(other:user_set_password("ana", assert(auth.hash("ana newer passphrase"))))
        other:close()
        local s, e = api.me(req(nil, d.token))
        assert.are.equal(401, s)
        assert.matches("password has changed", e.error.message)
        assert.are.equal(2, reads)
        local _, d2 = login("ana", "ana newer passphrase")
        assert.are.equal(200, (api.me(req(nil, d2.token))))
        assert(db:user_set_password("ana", assert(auth.hash("ana new passphrase"))))
        api.use(db, SECRET)
    end)

    it("refuses a token for an account deleted since", function()
        local _, d = login("ana", "ana new passphrase")
        assert(db:user_delete("ana"))
        local s, e = api.me(req(nil, d.token))
        assert.are.equal(401, s)
        assert.matches("no longer exists", e.error.message)
    end)

    it("makes one address wait for one account, with back-off from the 5th failure capped at 15 minutes", function()
        local now = 1000000
        api.clock = function() return now end
        assert(db:user_create({ username = "kim", role = "analyst", password_hash = assert(auth.hash("kim passphrase!!")) }))
        for _ = 1, 4 do assert.are.equal(401, (login("kim", "wrong!", "198.51.100.9"))) end
        assert.are.equal(401, (login("kim", "wrong!", "198.51.100.9")))   -- the 5th: that address waits 30 s
        local s, e, h = login("kim", "kim passphrase!!", "198.51.100.9")
        assert.are.equal(429, s)
        assert.are.equal("too_many_attempts", e.error.code)
        assert.are.equal("30", h["Retry-After"])
        -- the owner, elsewhere, is not locked out by someone else's failures
        assert.are.equal(200, (login("kim", "kim passphrase!!", "198.51.100.10")))
        assert.are.equal(200, (login("root", "root passphrase!", "198.51.100.9")))   -- nor other accounts
        now = now + 30
        assert.are.equal(401, (login("kim", "wrong!", "198.51.100.9")))    -- the 6th: 60 s
        assert.are.equal("60", select(3, login("kim", "x", "198.51.100.9"))["Retry-After"])
        for _ = 1, 10 do now = now + 901 login("kim", "wrong!", "198.51.100.9") end
        local _, _, h2 = login("kim", "kim passphrase!!", "198.51.100.9")
        assert.are.equal("900", h2["Retry-After"])                          -- never more than the cap
        now = now + 900
        assert.are.equal(200, (login("kim", "kim passphrase!!", "198.51.100.9")))   -- then it works, and resets
        assert.are.equal(401, (login("kim", "wrong!", "198.51.100.9")))
        assert.are.equal(200, (login("kim", "kim passphrase!!", "198.51.100.9")))
        api.clock = os.time
    end)

    it("slows an account failing from many addresses, never where its owner signed in before", function()
        local now = 1500000
        api.clock = function() return now end
        assert(db:user_create({ username = "lee", role = "analyst", password_hash = assert(auth.hash("lee passphrase!!")) }))
        assert.are.equal(200, (login("lee", "lee passphrase!!", "192.0.2.77")))   -- the owner's office
        for i = 1, 20 do assert.are.equal(401, (login("lee", "wrong!", "203.0.113." .. i))) end
        -- the ceiling: addresses the account does not know get one try every 10 s between them
        assert.are.equal(401, (login("lee", "wrong!", "203.0.113.100")))
        local s, _, h = login("lee", "wrong!", "203.0.113.101")
        assert.are.equal(429, s)
        assert.are.equal("10", h["Retry-After"])
        -- the owner from the office: not slowed, not counted, signs in
        assert.are.equal(401, (login("lee", "a typo", "192.0.2.77")))
        assert.are.equal(200, (login("lee", "lee passphrase!!", "192.0.2.77")))
        now = now + 10
        assert.are.equal(401, (login("lee", "wrong!", "203.0.113.102")))   -- slowed, not locked
        assert.are.equal(429, (login("lee", "lee passphrase!!", "203.0.113.103")))
        now = now + 901                                                     -- the window passes
        assert.are.equal(200, (login("lee", "lee passphrase!!", "198.51.100.200")))
        api.clock = os.time
    end)

    it("limits one address to 100 failures in 10 minutes", function()
        local now = 2000000
        api.clock = function() return now end
        for i = 1, 100 do assert.are.equal(401, (login("nobody" .. i, "wrong!", "203.0.113.50"))) end
        local s, _, h = login("root", "root passphrase!", "203.0.113.50")
        assert.are.equal(429, s)
        assert.are.equal("600", h["Retry-After"])
        assert.are.equal(200, (login("root", "root passphrase!", "203.0.113.51")))
        now = now + 600
        assert.are.equal(200, (login("root", "root passphrase!", "203.0.113.50")))
        api.clock = os.time
    end)

    it("takes a service's API key as X-API-Key or Bearer, refuses it once revoked, records its last use", function()
        local keys = require("api.keys")
        keys.use(db)
        local s, made = keys.create({ body = { name = "checkout" }, params = {} })
        assert.are.equal(201, s)
        assert.matches("^rk_%x+_%x+$", made.key)
        assert.are.equal("service", made.role)
        local function with(h) return { headers = h, query = {}, params = {}, remote_addr = "192.0.2.9" } end
        local now = 1700000000
        api.clock = function() return now end
        local c = assert(api.authenticate(with({ ["x-api-key"] = made.key })))
        assert.are.same({ "key:checkout", "service" }, { c.sub, c.role })
        c = assert(api.authenticate(with({ authorization = "Bearer " .. made.key })))
        assert.are.equal("service", c.role)
        local me_s, me = api.me(with({ ["x-api-key"] = made.key }))
        assert.are.equal(200, me_s)
        assert.are.same({ "checkout", "service", "checkout" }, { me.username, me.role, me.key.name })
        assert.is_nil(me.token)
        -- the last use: written once, then not again within the minute
        local _, list = keys.list()
        assert.are.equal(require("lib.time").format(1700000000000), list.keys[1].last_used_at)
        now = now + 30
        assert(api.authenticate(with({ ["x-api-key"] = made.key })))
        assert.are.equal(require("lib.time").format(1700000000000), select(2, keys.list()).keys[1].last_used_at)
        -- a wrong secret, garbage, then revoked: 401 at once
        local wrong = made.key:sub(1, -2) .. (made.key:sub(-1) == "0" and "1" or "0")
        local none, st, body = api.authenticate(with({ ["x-api-key"] = wrong }))
        assert.is_nil(none)
        assert.are.equal(401, st)
        assert.are.equal("unknown API key", body.error.message)
        assert.are.equal(401, select(2, api.authenticate(with({ ["x-api-key"] = "letmein" }))))
        local rs, rv = keys.revoke({ params = { name = "checkout" } })
        assert.are.equal(200, rs)
        assert.are.equal("checkout", rv.name)
        local _, st2, body2 = api.authenticate(with({ authorization = "Bearer " .. made.key }))
        assert.are.equal(401, st2)
        assert.are.equal("the API key was revoked", body2.error.message)
        assert.are.equal(404, (keys.revoke({ params = { name = "checkout" } })))
        -- the admin API's refusals, and the list never shows a key
        assert.are.equal(400, (keys.create({ body = { name = "a b" }, params = {} })))
        assert.are.equal(400, (keys.create({ body = {}, params = {} })))
        assert.are.equal(201, (keys.create({ body = { name = "checkout" }, params = {} })))
        assert.are.equal(409, (keys.create({ body = { name = "checkout" }, params = {} })))
        local _, all = keys.list()
        assert.are.equal(2, #all.keys)
        for _, k in ipairs(all.keys) do assert.is_nil(k.key) end
        assert.is_false(all.keys[2].live)
        api.clock = os.time
    end)

    it("answers 503 without a secret or a store", function()
        api.use(db, nil)
        local s, e = api.me(req(nil, "a.b.c"))
        assert.are.equal(503, s)
        assert.are.equal("auth_unavailable", e.error.code)
        local s2, e2 = login("root", "root passphrase!", "203.0.113.1")
        assert.are.equal(503, s2)
        assert.are.equal("auth_unavailable", e2.error.code)
        api.use(nil, SECRET)
        assert.are.equal(503, (login("root", "root passphrase!", "203.0.113.2")))
        api.use(db, SECRET)
    end)
end)
