-- tools.lua: the built-in tools from a script. No keys, no network.
--   llmspell run examples/tools.lua
local function show(label, envelope)
  print(("%-10s %s"):format(label, JSON.stringify(envelope.result)))
end

show("calc", Tool.execute("calculator", { input = "sqrt(16) + 2 ** 3" }))
show("upper", Tool.execute("text-manipulator", { operation = "upper", input = "hello tools" }))
show("snake", Tool.text_manipulator({ operation = "snake_case", input = "Hello Tools World" }))
show("sha256", Tool.execute("hash-calculator", { operation = "hash", input = "abc", algorithm = "sha256" }))
show("base64", Tool.execute("base64-encoder", { operation = "encode", input = "llmspell" }))
show("date", Tool.execute("datetime-handler", { operation = "parse", input = "2026-11-24T10:30:00Z" }))

local id = Tool.execute("uuid-generator", { operation = "generate" }).result
print("uuid      " .. JSON.stringify(id))

-- A failing call raises an error table that pcall catches.
local ok, err = pcall(Tool.execute, "calculator", { input = "1 / 0" })
print("1/0       " .. (ok and "no error?" or tostring(err.code)))

-- Bad parameters fail schema validation before the tool runs.
local ok2, err2 = pcall(Tool.execute, "calculator", { expression = "1" })
print("schema    " .. (ok2 and "no error?" or err2.code))

print(("%d tools in %d categories"):format(#Tool.list(), #Tool.categories()))
return { calc = Tool.calculator({ input = "6 * 7" }).result.value }
