-- spec/admin_spec.lua — api/admin.lua's retrain job: what it starts, and how.
local engine = require("riskd.engine")
local models = require("riskd.models")

describe("api.admin retrain", function()
    it("passes the store's URI in the environment, never on the command line", function()
        local dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir -p " .. dir))
        local uri = "mongodb://riskd:s3cret@db.example:27017/riskd"
        local saved = { config = engine.config, spawn = engine.spawn, dir = models.dir }
        local got = {}
        engine.config = function() return { db = uri, models = dir, scripts = "scripts", rules = "rules" } end
        engine.spawn = function(args, env) got.args, got.env = args, env return 4242 end
        models.dir = function() return dir end
        local ok, s, body = pcall(require("api.admin").retrain, { body = { margin = 0.1 } })
        engine.config, engine.spawn, models.dir = saved.config, saved.spawn, saved.dir
        assert(ok, s)
        assert.are.equal(202, s)
        assert.truthy(body.job)
        for _, a in ipairs(got.args) do assert.is_nil(a:find("s3cret", 1, true), a) end
        assert.are.equal(uri, got.env.RISKD_DB)
        assert.are.equal("retrain", got.args[1])
        os.execute("rm -rf " .. dir)
    end)
end)
