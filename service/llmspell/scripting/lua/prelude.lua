-- llmspell Lua sandbox prelude. Runs once in every fresh runtime and returns the kernel
-- table the Python engine uses. A runtime then serves runs one after another (on one
-- thread): `open_run(host)` gives a run fresh globals, library tables and kernel state
-- (host: a table of Python callbacks and limits), `close_run()` drops them. Everything
-- captured here as a local stays out of reach of the script, which only sees the
-- sandboxed globals `open_run` builds; nothing a script can reach outlives its run.

local raw_pcall, raw_xpcall, raw_error = pcall, xpcall, error
local raw_type, raw_tostring, raw_select = type, tostring, select
local raw_setmetatable, raw_getmetatable = setmetatable, getmetatable
local raw_load, raw_rawget, raw_rawset, raw_next = load, rawget, rawset, next
local co_create, co_resume, co_yield = coroutine.create, coroutine.resume, coroutine.yield
local co_status, co_running, co_close = coroutine.status, coroutine.running, coroutine.close
local co_isyieldable = coroutine.isyieldable
local dbg_sethook, dbg_getinfo = debug.sethook, debug.getinfo
local t_pack, t_unpack, t_concat = table.pack, table.unpack, table.concat
local s_rep, s_find, s_match = string.rep, string.find, string.match
local s_gmatch, s_gsub, s_format, s_len, s_byte = string.gmatch, string.gsub, string.format, string.len, string.byte
local m_huge, m_tointeger = math.huge, math.tointeger

-- Per run (set by open_run, cleared by close_run).
local host_check, host_print, host_load_global, host_violation, host_hook_data
local lazy_globals, max_string, pattern_work
local env, ERR_MT, JSON_NULL
local object_keys, lazy_data, driven, driven_count, idle

-- Errors ---------------------------------------------------------------------------
local function error_tostring(e) return raw_tostring(e.code) .. ": " .. raw_tostring(e.message) end

local function make_error(code, message, details)
  return raw_setmetatable({ code = code, message = message, details = details or {} }, ERR_MT)
end

local function locate(err, level)
  local info = dbg_getinfo(level, "Sl")
  if info and info.currentline and info.currentline > 0 then
    err.file = info.short_src
    err.line = info.currentline
  end
  return err
end

-- Limits: one count hook on every thread the script can run on ------------------------
local FATAL = nil
local HOOK_COUNT = 1000
local CHECK_EVERY = 10
local max_steps = m_huge
local steps = 0

local function fatal(code, message, level, resource)
  if not FATAL then FATAL = locate(make_error(code, message, { resource = resource }), level or 3) end
  raw_error(FATAL, 0)
end

local function hook()
  if FATAL then raw_error(FATAL, 0) end
  steps = steps + 1
  if steps > max_steps then fatal("LIMIT_EXCEEDED", "instruction budget exceeded", 4, "instruction_budget") end
  if steps % CHECK_EVERY == 0 and host_check then
    local code, message = host_check()
    if code then fatal(code, message, 4) end
  end
end

local function new_thread(fn)
  local co = co_create(fn)
  dbg_sethook(co, hook, "", HOOK_COUNT)
  return co
end

local function checked(ok, ...)
  if not ok then
    if FATAL then raw_error(FATAL, 0) end
    local err = ...
    if err == "not enough memory" then fatal("LIMIT_EXCEEDED", "memory limit exceeded", 3, "memory_mb") end
  end
  return ok, ...
end

local function safe_pcall(f, ...) return checked(raw_pcall(f, ...)) end
local function safe_xpcall(f, handler, ...) return checked(raw_xpcall(f, handler, ...)) end

-- Awaiting Python: a private sentinel yielded up to the driver through any nesting of
-- script coroutines.
local AWAIT = {}

local function pass_awaits(co, res)
  while res[1] and res[2] == AWAIT and co_status(co) == "suspended" do
    local reply = t_pack(co_yield(AWAIT, res[3]))
    res = t_pack(co_resume(co, t_unpack(reply, 1, reply.n)))
  end
  return res
end

local function safe_resume(co, ...)
  local res = pass_awaits(co, t_pack(co_resume(co, ...)))
  if not res[1] then checked(false, res[2]) end
  return t_unpack(res, 1, res.n)
end

local function safe_wrap(fn)
  local co = new_thread(fn)
  return function(...)
    local res = pass_awaits(co, t_pack(co_resume(co, ...)))
    if not res[1] then
      checked(false, res[2])
      raw_error(res[2], 0)
    end
    return t_unpack(res, 2, res.n)
  end
end

local function safe_yield(...)
  if raw_select("#", ...) > 0 and (...) == AWAIT then
    raw_error(make_error("SANDBOX_VIOLATION", "reserved value passed to coroutine.yield"), 2)
  end
  return co_yield(...)
end

-- Calls into Python: the Python side answers ("ok", value), ("err", error_table) or
-- ("await", ticket), the last meaning "suspend until the driver has the result".
local function finish_call(tag, value)
  if tag == "ok" then return value end
  if tag == "await" then
    tag, value = co_yield(AWAIT, value)
    if tag == "ok" then return value end
  end
  if raw_type(value) == "table" then
    raw_setmetatable(value, ERR_MT)
    locate(value, 4)
    if value.code == "TIMEOUT" or value.code == "CANCELLED" or value.code == "LIMIT_EXCEEDED" then
      if value.details and value.details.fatal then FATAL = value end
    end
  end
  raw_error(value, 0)
end

-- A sandbox refusal: the host hears of it first (the SecurityViolation hook point; the
-- error is then marked as reported), then it is raised at the script's line.
local function refuse(message, level)
  local err = locate(make_error("SANDBOX_VIOLATION", message), level + 1)
  if host_violation then
    finish_call(host_violation(message, err.file, err.line))
    err._reported = true
  end
  raw_error(err, 0)
end

local function bridge(pyfn)
  return function(...)
    local result = finish_call(pyfn(...))
    return result
  end
end

-- An object: a table whose methods take the object as first argument (`obj:m(...)`)
-- and also work with a dot call (`obj.m(...)`). `key` lets `classify` tell the Python
-- side which object a table passed back to it stands for.
local function make_object(type_name, methods, key)
  local obj = {}
  if key ~= nil then object_keys[obj] = key end
  local cache = {}
  raw_setmetatable(obj, {
    __name = type_name,
    __tostring = function() return type_name end,
    __metatable = false,
    __index = function(_, key)
      local m = cache[key]
      if m then return m end
      if raw_type(key) ~= "string" then return nil end
      local pyfn = methods(key) -- wrapped on first use: most scripts call few methods
      if pyfn == nil then return nil end
      m = function(first, ...)
        local result
        if first == obj then result = finish_call(pyfn(...)) else result = finish_call(pyfn(first, ...)) end
        return result
      end
      cache[key] = m
      return m
    end,
  })
  return obj
end

-- An iterator over an awaited Python source: for x in obj:stream() do ... end
local function make_iterator(next_fn)
  return function()
    local result = finish_call(next_fn())
    return result
  end
end

-- Strings: C functions run without hooks, so their inputs are capped ---------------------
local function check_len(n, what)
  if n > max_string then
    fatal("LIMIT_EXCEEDED", what .. " would exceed the string size limit (" .. max_string .. " bytes)", 5,
      "max_string_bytes")
  end
end

local function quantifiers(pattern)
  -- Counts backtracking quantifiers; `.` quantifiers count double (they match anything).
  local count, i, n = 0, 1, s_len(pattern)
  while i <= n do
    local c = s_byte(pattern, i)
    if c == 37 then -- %
      i = i + 1
    elseif c == 91 then -- [ ... ]
      local j = s_find(pattern, "]", i + 2, true)
      i = j or n
    elseif c == 42 or c == 43 or c == 45 then -- * + -
      count = count + ((i > 1 and s_byte(pattern, i - 1) == 46) and 2 or 1)
    end
    i = i + 1
  end
  return count
end

local function check_pattern(s, pattern, plain)
  if raw_type(s) == "number" then s = raw_tostring(s) end
  if raw_type(s) ~= "string" or raw_type(pattern) ~= "string" or plain then return end
  local k = quantifiers(pattern)
  if k >= 2 then
    local work = (s_len(s) + 1) ^ (k / 2)
    if work > pattern_work then
      fatal("LIMIT_EXCEEDED", "pattern too expensive for a subject of " .. s_len(s) .. " bytes", 5, "pattern")
    end
  end
end

local LIB = { string = string, table = table, math = math, utf8 = utf8, os = os }
local string_capped = {}
string_capped.rep = function(s, n, sep)
  s = raw_tostring(s)
  n = m_tointeger(n) or n
  if raw_type(n) == "number" and n > 0 then
    check_len(s_len(s) * n + (sep and s_len(raw_tostring(sep)) * (n - 1) or 0), "string.rep")
  end
  return s_rep(s, n, sep)
end
string_capped.find = function(s, p, init, plain) check_pattern(s, p, plain); return s_find(s, p, init, plain) end
string_capped.match = function(s, p, init) check_pattern(s, p, false); return s_match(s, p, init) end
string_capped.gmatch = function(s, p, init) check_pattern(s, p, false); return s_gmatch(s, p, init) end
string_capped.gsub = function(s, p, r, n)
  check_pattern(s, p, false)
  if raw_type(r) == "string" and raw_type(s) == "string" then
    check_len(s_len(s) * (s_len(r) + 1), "string.gsub")
  end
  return s_gsub(s, p, r, n)
end
string_capped.format = function(fmt, ...)
  local total = s_len(raw_tostring(fmt))
  for i = 1, raw_select("#", ...) do
    local v = raw_select(i, ...)
    if raw_type(v) == "string" then total = total + s_len(v) end
  end
  check_len(total, "string.format")
  return s_format(fmt, ...)
end
local function table_concat(t, sep, i, j)
  local total = 0
  for idx = i or 1, j or #t do
    local v = t[idx]
    if raw_type(v) == "string" then total = total + s_len(v) end
    if sep then total = total + s_len(sep) end
  end
  check_len(total, "table.concat")
  return t_concat(t, sep, i, j)
end

-- The sandboxed globals (built per run by build_env) -----------------------------------
local BASE_NAMES = {
  "assert", "ipairs", "next", "pairs", "rawequal", "rawget", "rawlen", "rawset", "select",
  "tonumber", "tostring", "type", "error",
}
local BASE = {}
for _, name in ipairs(BASE_NAMES) do BASE[name] = _G[name] end
local G_VERSION = _VERSION

local function sandbox_setmetatable(t, mt)
  if raw_type(mt) == "table" and raw_rawget(mt, "__gc") ~= nil then
    -- Lua switches hooks off while finalizers run: no script finalizers.
    local copy = {}
    for k, v in raw_next, mt do if k ~= "__gc" then copy[k] = v end end
    mt = copy
  end
  return raw_setmetatable(t, mt)
end
local function sandbox_getmetatable(v)
  if raw_type(v) == "string" then
    refuse("the string metatable is not available in the sandbox", 2)
  end
  return raw_getmetatable(v)
end
local function sandbox_load(chunk, name, mode, chunk_env)
  if (mode ~= nil and mode ~= "t") or (raw_type(chunk) == "string" and s_byte(chunk, 1) == 27) then
    refuse("binary chunks cannot be loaded", 2)
  end
  return raw_load(chunk, name, "t", chunk_env or env)
end
local function sandbox_print(...)
  local n = raw_select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = raw_tostring((raw_select(i, ...))) end
  finish_call(host_print(t_concat(parts, "\t")))
end

local function copy_of(lib)
  local t = {}
  for k, v in raw_next, lib do t[k] = v end
  return t
end

-- Names the sandbox removed raise SANDBOX_VIOLATION instead of reading as nil, so an
-- escape attempt fails loudly at the line that tried it.
-- Lazy globals with Lua-side members, created before the Python module adds its own
-- (filled once those members are defined, below).
local PRESETS

local function guard(tbl, label, removed, lazy)
  return raw_setmetatable(tbl, { __index = function(t, key)
    if removed[key] then
      refuse(label .. key .. " is not available in the sandbox", 3)
    end
    if lazy and lazy[key] then
      lazy[key] = nil
      local preset = PRESETS[key]
      if preset then raw_rawset(t, key, preset()) end
      finish_call(host_load_global(key))
      return raw_rawget(t, key)
    end
    return nil
  end })
end
local function name_set(names)
  local set = {}
  for _, n in ipairs(names) do set[n] = true end
  return set
end
local REMOVED_GLOBALS = name_set({ "io", "debug", "python", "package", "require", "dofile", "loadfile",
  "collectgarbage", "loadstring", "module", "setfenv", "getfenv", "newproxy" })
local REMOVED_OS = name_set({ "execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale" })
local REMOVED_STRING = name_set({ "dump" })
local REMOVED_NONE = {}

local build_env -- defined once the helpers it installs exist (below)

-- JSON helpers the Python side needs to recognise --------------------------------------
local function null_tostring() return "null" end
local function null_newindex() raw_error("JSON.null is read-only", 2) end
local ARRAY_MT = { __name = "array", __metatable = "array" }

local function classify(t)
  if t == JSON_NULL then return "null" end
  local key = object_keys[t]
  if key ~= nil then return key end
  if raw_getmetatable(t) == "array" then return "array" end
  return nil
end

local function mark_array(t)
  t = t or {}
  if raw_getmetatable(t) == nil then raw_setmetatable(t, ARRAY_MT) end
  return t
end

PRESETS = {
  JSON = function() return { null = JSON_NULL, array = mark_array } end,
}

-- Hook contexts: `data` stays a Python value until the hook first reads it (most hooks
-- never do), then it is converted once and stored in the table.
local function load_data(t)
  local source = lazy_data[t]
  if source == nil then return raw_rawget(t, "data") end
  lazy_data[t] = nil
  if raw_rawget(t, "data") == nil then raw_rawset(t, "data", finish_call(host_hook_data(source))) end
  return raw_rawget(t, "data")
end

local HOOK_CONTEXT_MT = {
  __index = function(t, key) if key == "data" then return load_data(t) end end,
  __pairs = function(t) load_data(t); return raw_next, t, nil end,
  __metatable = false,
}

local FLAT_MAX = 4000
local m_type = math.type

-- A table's kind and contents in one call, for the Python converter (reading a table
-- from Python costs a round trip per key): ("null") | (object key) | ("seq", v1, ..., vn)
-- for 1..n | ("map" or "array", k1, v1, k2, v2, ...) | ("big") past FLAT_MAX values.
-- The pairs of t from key k on, as multiple values (small tables: no table to build).
local function pairs_after(t, k)
  local nk, nv = raw_next(t, k)
  if nk == nil then return end
  return nk, nv, pairs_after(t, nk)
end

local function explode(t)
  if t == JSON_NULL then return "null" end
  local key = object_keys[t]
  if key ~= nil then return key end
  if lazy_data[t] ~= nil then load_data(t) end
  local n, top, seq = 0, 0, true
  for k in raw_next, t do
    n = n + 1
    if seq then
      if m_type(k) == "integer" and k >= 1 then
        if k > top then top = k end
      else
        seq = false
      end
    end
  end
  if n > FLAT_MAX then return "big" end
  if n > 0 and seq and top == n then return "seq", t_unpack(t, 1, n) end
  local kind = raw_getmetatable(t) == "array" and "array" or "map"
  if n <= 16 then return kind, pairs_after(t, nil) end
  local flat, i = {}, 0
  for k, v in raw_next, t do
    flat[i + 1], flat[i + 2] = k, v
    i = i + 2
  end
  return kind, t_unpack(flat, 1, i)
end

-- Threads driven from Python are kept here by number (lupa does not hand Lua threads
-- back to Lua intact).

local function spawn(fn)
  driven_count = driven_count + 1
  driven[driven_count] = new_thread(fn)
  return driven_count
end

-- Workers: threads that run one function per trip and wait for the next (a function
-- that returns yields DONE and its first result), so Python calling a Lua function (a
-- hook, a script tool, a callback) reuses an idle thread instead of creating one.
local DONE = {}
local MAX_IDLE = 8

local function worker(fn, ...)
  return worker(co_yield(DONE, (fn(...))))
end

local function settle(id, co, ok, first, ...)
  if not ok then driven[id] = nil; return "error", first end
  if first == DONE then
    driven[id] = nil
    if #idle < MAX_IDLE then idle[#idle + 1] = co end
    return "done", (...)
  end
  if co_status(co) == "dead" then driven[id] = nil; return "done", first end
  if first == AWAIT then return "await", (...) end
  driven[id] = nil
  return "error", make_error("VALIDATION", "coroutine.yield called outside a coroutine")
end

local function step(id, ...)
  local co = driven[id]
  return settle(id, co, co_resume(co, ...))
end

-- Run fn(...) on a worker: (id, tag, value) as `step` answers, in one call from Python.
local function start(fn, ...)
  local co = idle[#idle]
  if co ~= nil then
    idle[#idle] = nil
    if co_status(co) ~= "suspended" then co = new_thread(worker) end
  else
    co = new_thread(worker)
  end
  driven_count = driven_count + 1
  driven[driven_count] = co
  return driven_count, settle(driven_count, co, co_resume(co, fn, ...))
end

-- The table a hook function gets, built in one call from Python; `source` is data not
-- converted yet (see load_data).
local function hook_context(point, ctype, cname, data, source, correlation_id, run_id, attempt)
  local t = { point = point, component = { type = ctype, name = cname }, data = data,
    correlation_id = correlation_id, run_id = run_id, attempt = attempt }
  if source ~= nil then lazy_data[t] = source end
  return raw_setmetatable(t, HOOK_CONTEXT_MT)
end

-- start(fn, hook_context(...)) in one call from Python.
local function start_hook(fn, point, ctype, cname, data, source, correlation_id, run_id, attempt)
  return start(fn, hook_context(point, ctype, cname, data, source, correlation_id, run_id, attempt))
end

-- Installs global `name` (into the table already there, if any). Done in Lua: lupa's
-- table access from Python is unreliable while a script coroutine is suspended in a callback.
-- Functions are bridged on first use (`index(key)` asks Python for one, and a script calls
-- few of a namespace's functions); `names` lists them for `pairs`, which bridges them all.
local function make_namespace(name, names, values, index)
  local ns = raw_rawget(env, name) or {}
  for k, v in raw_next, values do ns[k] = v end
  raw_setmetatable(ns, {
    __index = function(t, key)
      if raw_type(key) ~= "string" then return nil end
      local found = index(key)
      if found == nil then return nil end
      local f = bridge(found)
      raw_rawset(t, key, f)
      return f
    end,
    __pairs = function(t)
      for i = 1, #names do
        local key = names[i]
        if raw_rawget(t, key) == nil then local _ = t[key] end
      end
      return raw_next, t, nil
    end,
  })
  raw_rawset(env, name, ns)
end

-- Streaming.create(fn): an iterator over a coroutine (`:next()`, `:collect()`, `for x in s do`).
local function streaming_create(fn)
  if raw_type(fn) ~= "function" then
    raw_error(make_error("VALIDATION", "Streaming.create expects a function"), 2)
  end
  local co = new_thread(fn)
  local finished = false
  local stream = {}
  function stream.next(_)
    if finished then return nil end
    local res = pass_awaits(co, t_pack(co_resume(co)))
    if not res[1] then
      checked(false, res[2])
      raw_error(res[2], 0)
    end
    if co_status(co) == "dead" then finished = true end
    return res[2]
  end
  function stream.collect(self)
    local out = mark_array({})
    while true do
      local v = self:next()
      if v == nil then break end
      out[#out + 1] = v
    end
    return out
  end
  function stream.done(_) return finished end
  return raw_setmetatable(stream, { __name = "Stream", __call = function(self) return self:next() end })
end
function build_env()
  env = {}
  env._G = env
  env._VERSION = G_VERSION
  for name, fn in raw_next, BASE do env[name] = fn end
  env.pcall = safe_pcall
  env.xpcall = safe_xpcall
  env.setmetatable = sandbox_setmetatable
  env.getmetatable = sandbox_getmetatable
  env.load = sandbox_load
  env.print = sandbox_print
  local string_safe = copy_of(LIB.string)
  string_safe.dump = nil
  for k, fn in raw_next, string_capped do string_safe[k] = fn end
  -- Methods on string values (`("x"):rep(10)`) go through this run's capped functions.
  raw_getmetatable("").__index = string_safe
  env.string = string_safe
  local table_safe = copy_of(LIB.table)
  table_safe.concat = table_concat
  env.table = table_safe
  env.math = copy_of(LIB.math)
  env.utf8 = copy_of(LIB.utf8)
  env.os = { time = LIB.os.time, clock = LIB.os.clock, date = LIB.os.date, difftime = LIB.os.difftime }
  env.coroutine = {
    create = new_thread,
    resume = safe_resume,
    wrap = safe_wrap,
    yield = safe_yield,
    status = co_status,
    running = co_running,
    isyieldable = co_isyieldable,
    close = co_close,
  }
  env.Streaming = { create = streaming_create }
  guard(env, "", REMOVED_GLOBALS, lazy_globals)
  guard(env.os, "os.", REMOVED_OS)
  guard(string_safe, "string.", REMOVED_STRING)
  guard(env.coroutine, "coroutine.", REMOVED_NONE)
end

-- Remove whatever the runtime put in the real globals (python, io, debug, ...).
for k in raw_next, _G do
  if k ~= "_G" then _G[k] = nil end
end

-- A run's state: fresh globals and tables; returns JSON.null of the run.
local function open_run(host)
  host_check, host_print, host_load_global = host.check, host.print, host.load_global
  host_violation, host_hook_data = host.violation, host.hook_data
  lazy_globals = host.lazy_globals or {}
  max_string, pattern_work = host.max_string, host.pattern_work
  ERR_MT = { __name = "LLMSpellError", __tostring = error_tostring }
  JSON_NULL = raw_setmetatable({}, { __name = "null", __tostring = null_tostring,
    __newindex = null_newindex, __metatable = false })
  object_keys = raw_setmetatable({}, { __mode = "k" })
  lazy_data = raw_setmetatable({}, { __mode = "k" })
  driven, driven_count, idle = {}, 0, {}
  FATAL = nil
  build_env()
  max_steps = host.max_steps or m_huge
  steps = 0
  return JSON_NULL
end

-- Ends a run: true when the runtime can serve another one (no limit stopped the run
-- and none of its threads is still suspended half-way).
local function close_run()
  local clean = FATAL == nil and raw_next(driven) == nil
  host_check, host_print, host_load_global, host_violation, host_hook_data = nil, nil, nil, nil, nil
  lazy_globals, env, ERR_MT, JSON_NULL = nil, nil, nil, nil
  object_keys, lazy_data, driven, idle = nil, nil, nil, nil
  raw_getmetatable("").__index = LIB.string
  return clean
end

-- The main thread counts too (set last: a hooked thread runs every instruction through the
-- hook check, and the rest of this chunk needs none).
dbg_sethook(hook, "", HOOK_COUNT)

local function compile(source, chunk_name)
  local fn, problem = raw_load(source, "@" .. chunk_name, "t", env)
  return fn, problem
end

return {
  open_run = open_run,
  close_run = close_run,
  compile = compile,
  new_thread = new_thread,
  bridge = bridge,
  make_object = make_object,
  make_iterator = make_iterator,
  make_error = make_error,
  make_namespace = make_namespace,
  step = step,
  spawn = spawn,
  start = start,
  start_hook = start_hook,
  hook_context = hook_context,
  classify = classify,
  explode = explode,
  mark_array = mark_array,
  AWAIT = AWAIT,
  resume = co_resume,
  status = co_status,
  fatal = function() return FATAL end,
  pack = t_pack,
  steps = function() return steps * HOOK_COUNT end,
}
