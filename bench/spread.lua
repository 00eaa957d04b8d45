-- wrk script for spread traffic: each request goes to a random school (Host and Bearer token
-- from BENCH_TARGETS, "host token" per line; BENCH_SCHOOLS limits it to the first N lines,
-- 1 = all traffic to one school). BENCH_KIND: list | detail | results | save.
local targets = {}
local limit = tonumber(os.getenv("BENCH_SCHOOLS") or "0")
for line in io.lines(os.getenv("BENCH_TARGETS")) do
  local host, token = line:match("^(%S+) (%S+)$")
  if host then table.insert(targets, {host, token}) end
  if limit > 0 and #targets >= limit then break end
end
local kind = os.getenv("BENCH_KIND") or "list"
local student = os.getenv("BENCH_STUDENT") or "1"
local session = os.getenv("BENCH_SESSION") or "1"
local class = os.getenv("BENCH_CLASS") or "1"
local exam = os.getenv("BENCH_EXAM") or "1"
local body = nil
if kind == "save" then
  -- Fifty rows of the first class, three scores each; a little different each time.
  body = io.open(os.getenv("BENCH_SAVE_BODY")):read("*a")
end
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)

request = function()
  local t = targets[math.random(#targets)]
  local headers = {Host = t[1], Authorization = "Bearer " .. t[2]}
  if kind == "list" then
    return wrk.format("GET", "/api/v1/school/admissions/?page_size=50", headers)
  elseif kind == "detail" then
    return wrk.format("GET", "/api/v1/school/admissions/" .. student .. "/", headers)
  elseif kind == "results" then
    return wrk.format("GET", "/api/v1/school/exam-sessions/" .. session .. "/results/?academic_class=" .. class, headers)
  else
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/v1/school/exams/" .. exam .. "/marks/", headers, body)
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
