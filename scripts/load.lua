-- wrk script for scripts/load.py: POSTs the bodies of a file in turn and reports as JSON.
-- Each line of the file (the first argument after --) is "PATH<TAB>BODY".

local bodies = {}
local next_body = 1

function init(args)
  for line in io.lines(args[1]) do
    local path, body = line:match("^([^\t]+)\t(.*)$")
    bodies[#bodies + 1] = wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
  end
end

function request()
  local req = bodies[next_body]
  next_body = next_body % #bodies + 1
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
