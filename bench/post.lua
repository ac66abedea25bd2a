-- wrk script: POST the JSON body given after `--` to the URL, and print the results as one JSON
-- line when done (latencies in microseconds; `errors` counts socket errors and non-2xx answers).

function init(args)
   request_text = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, args[1])
end

function request()
   return request_text
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %.1f, "p99_us": %.1f}\n',
      summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
      latency:percentile(50), latency:percentile(99)))
end
