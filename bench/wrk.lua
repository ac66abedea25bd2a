-- wrk script: send the method given after `--` (and the JSON body after it, for a POST) to the
-- URL, and print the results as one JSON line when done (latencies in microseconds; `errors`
-- counts socket errors and non-2xx answers).

function init(args)
   local method, body = args[1], args[2]
   if method == "POST" then
      request_text = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
   else
      request_text = wrk.format(method, nil, {}, nil)
   end
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
