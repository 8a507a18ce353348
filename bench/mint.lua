-- wrk script: mints verdict tokens through the real /init -> /score path.
--
-- Each wrk thread keeps a queue of session ids: a connection that is free
-- scores a waiting session if there is one, and opens a new one otherwise.
-- Tokens go to DIR/tokens.<thread>, one a line; the thread stops once it has
-- its share and then writes DIR/done.<thread>: wrk itself only stops at the
-- end of its -d duration, so bench/verify.sh waits for those markers and
-- stops wrk with SIGINT. Arguments (after --): SITE_KEY ORIGIN DIR
-- TOKENS_PER_THREAD.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  site_key, origin, dir, want = args[1], args[2], args[3], tonumber(args[4])
  headers = { ["Content-Type"] = "application/json", ["Origin"] = origin }
  init_req = wrk.format("POST", "/init", headers, '{"site_key":"' .. site_key .. '"}')
  out = io.open(dir .. "/tokens." .. id, "w")
  queue, head, tail = {}, 1, 0
  minted, failed = 0, 0
end

function request()
  if tail >= head then
    local sid = queue[head]
    queue[head] = nil
    head = head + 1
    return wrk.format("POST", "/score", headers,
      '{"session_id":"' .. sid .. '","pow":{"nonce":0},"signals":{}}')
  end
  return init_req
end

function response(status, _, body)
  if status ~= 200 then
    failed = failed + 1
    return
  end
  local sid = body:match('"session_id":"([^"]+)"')
  if sid and not body:find('"verdict"', 1, true) then
    tail = tail + 1
    queue[tail] = sid
    return
  end
  local token = body:match('"verdict":"([^"]+)"')
  if token and minted < want then
    out:write(token, "\n")
    minted = minted + 1
    if minted >= want then
      out:close()
      io.open(dir .. "/done." .. id, "w"):close()
      wrk.thread:stop()
    end
  end
end

function done(summary)
  local minted_all, failed_all = 0, 0
  for _, t in ipairs(threads) do
    minted_all = minted_all + t:get("minted")
    failed_all = failed_all + t:get("failed")
  end
  io.write(string.format("MINT minted=%d failed=%d requests=%d seconds=%.1f\n",
    minted_all, failed_all, summary.requests, summary.duration / 1e6))
end
