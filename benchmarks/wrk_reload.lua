-- wrk script (benchmarks/reload_study.py): every answer written down with the photo it answers.
-- Run with as many threads as connections and as many photos: thread i POSTs photo i on its one
-- keep-alive connection, so each answer's photo is known whatever order wrk calls `request` in (it
-- also calls it once while starting, for its own checks). Each thread writes "<photo>\t<status>\t<body>"
-- lines to its own file; `done` prints wrk's counts as one JSON line.
local dir = os.getenv("FASHION_EDGE_PHOTOS")          -- 0.jpg .. N-1.jpg, N = threads
local answers = os.getenv("FASHION_EDGE_ANSWERS")     -- folder for the per-thread answer files
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local f = assert(io.open(dir .. "/" .. id .. ".jpg", "rb"))
  wrk.method = "POST"
  wrk.path = "/v1/classify"
  wrk.headers["Content-Type"] = "image/jpeg"
  wrk.body = f:read("*all")
  f:close()
  out = assert(io.open(answers .. "/" .. id .. ".tsv", "w"))
end

function response(status, headers, body)
  out:write(id, "\t", status, "\t", (body:gsub("[\r\n]", " ")), "\n")
  out:flush()
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d}\n', summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
