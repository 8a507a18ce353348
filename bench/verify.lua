-- wrk script: POSTs /verify with the next unused token, so that every token
-- is verified exactly once across all wrk threads (thread N reads TOKENS.N).
-- Arguments (after --): TOKENS API_KEY USED_OUT.
-- done() prints one RESULT line for bench/verify.sh, and writes how many
-- tokens each thread sent to USED_OUT.N (for the single-use re-check).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix, api_key = args[1], args[2]
  used_out = args[3]
  -- Every request is built before the run: request() only hands them out,
  -- so that wrk spends as little of the two cores as it can.
  local headers = { ["Content-Type"] = "application/json" }
  local body_head = '{"api_key":"' .. api_key .. '","token":"'
  requests = {}
  for line in io.lines(prefix .. "." .. id) do
    requests[#requests + 1] = wrk.format("POST", "/verify", headers, body_head .. line .. '"}')
  end
  -- What a thread sends once it has no token left: counted apart, never a
  -- second use of a token.
  spare = wrk.format("GET", "/health")
  sent, ran_out = 0, 0
  -- wrk calls request() once on thread 0 before the run, to see whether the
  -- script pipelines, and never sends that request: give it no token.
  probe = id == 0
end

function request()
  if probe then
    probe = false
    return spare
  end
  if sent < #requests then
    sent = sent + 1
    return requests[sent]
  end
  ran_out = ran_out + 1
  wrk.thread:stop()
  return spare
end

function done(summary, latency)
  local sent_all, ran_out_all = 0, 0
  for _, t in ipairs(threads) do
    local s = t:get("sent")
    sent_all = sent_all + s
    ran_out_all = ran_out_all + t:get("ran_out")
    local f = io.open(t:get("used_out") .. "." .. t:get("id"), "w")
    f:write(s, "\n")
    f:close()
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d max_us=%d non2xx=%d "
      .. "connect=%d read=%d write=%d timeout=%d sent=%d ran_out=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout, sent_all, ran_out_all))
end
