-- wrk script for `make bench`'s HTTP section: each thread alternates
-- POST /v1/acquire of a random key with POST /v1/release of a key it was
-- granted (the token read from the acquire's response), over keep-alive
-- connections. Counts the operations that answered 200 in `done`.
local pending = {}   -- {key, token} granted and not yet released
local holder = "bench-holder"
local ok = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

local last_key = nil

function request()
  local r = table.remove(pending)
  if r then
    return wrk.format("POST", "/v1/release", {["Content-Type"] = "application/json"},
      string.format('{"key":"%s","holder":"%s","token":%s}', r[1], holder, r[2]))
  end
  last_key = "hk:" .. math.random(1, 1000000000)
  return wrk.format("POST", "/v1/acquire", {["Content-Type"] = "application/json"},
    string.format('{"key":"%s","holder":"%s","ttl_ms":30000}', last_key, holder))
end

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
    local key, token = body:match('"key":"([^"]+)","holder":"[^"]*","token":(%d+),"expires_at')
    if key then table.insert(pending, {key, token}) end
  end
end

function done(summary, latency, requests)
  -- One line per thread is not available here; the total is in summary.
  io.write(string.format("requests=%d\nerrors=%d\n", summary.requests,
    summary.errors.status + summary.errors.read + summary.errors.write +
    summary.errors.connect + summary.errors.timeout))
end
