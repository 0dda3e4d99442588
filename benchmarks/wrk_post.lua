-- wrk script (benchmarks/loadgen.py): POST one file on every request; at the end, one JSON line with
-- the counts and wrk's whole latency histogram (microseconds, count), so that rounds combine exactly.
local file = assert(io.open(os.getenv("FASHION_EDGE_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*all")
file:close()
wrk.headers["Content-Type"] = os.getenv("FASHION_EDGE_CONTENT_TYPE") or "application/octet-stream"

done = function(summary, latency, requests)
  local pairs = {}
  for i = 1, #latency do
    local value, count = latency(i)
    pairs[#pairs + 1] = string.format("[%d,%d]", value, count)
  end
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, "latency_us": [%s]}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout, table.concat(pairs, ",")))
end
