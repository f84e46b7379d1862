-- wrk script for the public log's read path (docs/benchmarks.md, "Transparency log: proofs,
-- growth, tile serving"). Each request is, at random:
--   35 % a full level-0 hash tile   /log/tile/0/<N>
--   15 % a full level-1 hash tile   /log/tile/1/<N>
--   35 % a full entry bundle        /log/tile/entries/<N>
--   15 % the checkpoint             /log/checkpoint
-- on a log of SIZE entries (default 10,000,000). Level-0 tiles and bundles are drawn from the
-- newest HOT entries (default: all of them, so most are not in the server's tile cache).
--
--   SIZE=10000000 [HOT=262144] wrk -t1 -c32 -d20s -s scripts/wrk-tiles.lua http://127.0.0.1:18431
local size = tonumber(os.getenv("SIZE") or "10000000")
local hot = tonumber(os.getenv("HOT") or tostring(size))
local full0 = math.floor(size / 256)
local first0 = math.max(0, full0 - math.floor(hot / 256))
local full1 = math.floor(size / 65536)

-- A tile index in tlog-tiles form: 3-digit groups, all but the last prefixed with "x".
local function enc(n)
  local groups = {}
  repeat
    table.insert(groups, 1, string.format("%03d", n % 1000))
    n = math.floor(n / 1000)
  until n == 0
  for i = 1, #groups - 1 do
    groups[i] = "x" .. groups[i]
  end
  return table.concat(groups, "/")
end

function init(args)
  -- A different sequence in every thread and run.
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + address % 1000003)
end

function request()
  local r = math.random()
  local path
  if r < 0.35 then
    path = "/log/tile/0/" .. enc(math.random(first0, full0 - 1))
  elseif r < 0.50 then
    path = "/log/tile/1/" .. enc(math.random(0, full1 - 1))
  elseif r < 0.85 then
    path = "/log/tile/entries/" .. enc(math.random(first0, full0 - 1))
  else
    path = "/log/checkpoint"
  end
  return wrk.format("GET", path)
end
