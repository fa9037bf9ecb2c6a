-- wrk script: every connection rotates its own session's refresh token.
-- Run with as many threads as connections (-t64 -c64), so each thread has
-- one connection and one token chain; tokens come from tokens.txt (one per
-- line, one per thread), made by bench.sh.
local tokens = {}
local threads = {}
local next_index = 1

function setup(thread)
  if #tokens == 0 then
    for line in io.lines(os.getenv("EDGEAUTH_BENCH_TOKENS")) do
      tokens[#tokens + 1] = line
    end
  end
  thread:set("token", tokens[next_index])
  threads[#threads + 1] = thread
  next_index = next_index + 1
end

function init(args)
  failures = 0
end

request = function()
  if token == nil then
    -- wrk builds one request in the main state at start-up; threads have tokens.
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/auth/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

response = function(status, headers, body)
  if status == 200 then
    token = string.match(body, '"refresh_token":"([^"]+)"')
  else
    failures = failures + 1
  end
end

-- Every answer but 200 is a failure: a chain whose rotation failed is dead.
done = function(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("failures") or 0)
  end
  io.write(string.format("failed rotations: %d\n", failed))
end
