-- hello.lua: no keys, no network. Run: llmspell run examples/hello.lua -- --name World
local name = ARGS.name or ARGS[1] or "llmspell"
print("Hello, " .. name .. "!")

local data = JSON.parse('{"languages": ["lua", "python"], "version": 1}')
print("Languages: " .. table.concat(data.languages, ", "))

return { greeting = "Hello, " .. name, languages = #data.languages }
