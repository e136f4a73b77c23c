-- agent.lua: an agent with a tool, against any OpenAI-compatible server.
--   LLMSPELL_MODEL=openai/gpt-4o-mini OPENAI_API_KEY=... llmspell run examples/agent.lua
--   LLMSPELL_MODEL=local/qwen LLMSPELL_BASE_URL=http://127.0.0.1:11434/v1 llmspell run examples/agent.lua
local question = ARGS[1] or "calc: 6 * 7"

local agent = Agent.builder()
  :name("assistant")
  :system_prompt("You are a precise assistant. Use the calculator for arithmetic.")
  :tools({ "calculator" })
  :max_tool_calls(4)
  :build()

local answer = agent:execute(question)
print(answer.text)
for _, call in ipairs(answer.tool_calls) do
  print(("tool %s(%s)"):format(call.name, JSON.stringify(call.arguments)))
end
print(("tokens: %d"):format(answer.usage.total_tokens))

for chunk in agent:stream("Say hello") do
  print("chunk: " .. chunk)
end

return { text = answer.text, tool_calls = #answer.tool_calls }
