-- wrk script: 64 connections rotate 64 independent refresh-token chains.
-- Each thread keeps a pool of the current tokens of its chains: a request
-- takes one, its response puts the successor back. wrk asks a connection
-- for its next request only after handing over its response, so a
-- connection always finds a token, and no two requests ever carry the same
-- token. Each thread gets one token more than it has connections: before
-- the run wrk calls the first thread's request() once more, to inspect the
-- request, and never sends it, so that token would otherwise be lost.
-- Run with EDGEAUTH_BENCH_TOKENS (one token a line: connections + threads
-- of them) and EDGEAUTH_BENCH_PER_THREAD (connections / threads).
local tokens = {}
local threads = {}

function setup(thread)
  if #tokens == 0 then
    for line in io.lines(os.getenv("EDGEAUTH_BENCH_TOKENS")) do
      tokens[#tokens + 1] = line
    end
  end
  local per = tonumber(os.getenv("EDGEAUTH_BENCH_PER_THREAD")) + 1
  local first = #threads * per
  thread:set("mine", table.concat(tokens, "\n", first + 1, first + per))
  threads[#threads + 1] = thread
end

function init(args)
  pool = {}
  for token in string.gmatch(mine, "[^\n]+") do
    pool[#pool + 1] = token
  end
  failures = 0
end

request = function()
  local token = pool and table.remove(pool)
  if token == nil then
    -- wrk builds one request in the main state at start-up (no pool);
    -- in a thread, an empty pool means chains were lost (counted below).
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/auth/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

response = function(status, headers, body)
  local successor = status == 200 and string.match(body, '"refresh_token":"([^"]+)"')
  if successor then
    pool[#pool + 1] = successor
  else
    failures = failures + 1
  end
end

-- With EDGEAUTH_BENCH_DELAY_MS, each connection waits that long before its
-- next request (open-loop-like pacing: the rate is about connections /
-- (delay + latency)); wrk's latency excludes the wait.
local pace = tonumber(os.getenv("EDGEAUTH_BENCH_DELAY_MS") or "")
if pace then
  delay = function()
    return pace
  end
end

-- Every answer but a new token is a failure: a chain whose rotation failed
-- is dead.
done = function(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("failures") or 0)
  end
  io.write(string.format("failed rotations: %d\n", failed))
end
