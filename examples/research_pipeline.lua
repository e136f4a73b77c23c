-- research_pipeline.lua: three researcher agents work on a topic in parallel, then an
-- editor agent merges their notes into one summary.
--   LLMSPELL_MODEL=openai/gpt-4o-mini OPENAI_API_KEY=... llmspell run examples/research_pipeline.lua -- "solid-state batteries"
--   LLMSPELL_MODEL=local/qwen LLMSPELL_BASE_URL=http://127.0.0.1:11434/v1 llmspell run examples/research_pipeline.lua
local topic = ARGS[1] or ARGS.topic or "solid-state batteries"

local function researcher(name, focus)
  return Agent.create{
    name = name,
    system_prompt = "You are a careful researcher. Focus on " .. focus .. ". Reply with three short bullet points.",
    max_tokens = 300,
  }
end

-- One step per angle; the steps run concurrently and their outputs are keyed by step name.
local research = Workflow.parallel{
  name = "research",
  max_concurrency = 3,
  steps = {
    { name = "technology", agent = researcher("technologist", "how the technology works"), input = "Technology of {{input}}" },
    { name = "market", agent = researcher("analyst", "markets, companies and costs"), input = "Market for {{input}}" },
    { name = "risks", agent = researcher("skeptic", "open problems and risks"), input = "Risks of {{input}}" },
  },
}

local editor = Agent.create{
  name = "editor",
  system_prompt = "You merge research notes into one clear paragraph for a busy reader.",
  max_tokens = 400,
}

local pipeline = Workflow.sequential{
  name = "research-pipeline",
  error_strategy = "retry",
  retry = { attempts = 2, backoff_ms = 500 },
  steps = {
    { name = "research", workflow = research },
    {
      name = "summary",
      agent = editor,
      input = "Summarise the notes on {{input}}.\n"
        .. "Technology: {{steps.research.output.technology.text}}\n"
        .. "Market: {{steps.research.output.market.text}}\n"
        .. "Risks: {{steps.research.output.risks.text}}",
    },
  },
}

local result = pipeline:execute(topic)
if not result.success then
  error(("research pipeline failed: %s"):format(result.errors[1].message))
end

print("# " .. topic)
print(result.output.text)
print(("(%d researchers, %.0f ms)"):format(3, result.duration_ms))

return {
  topic = topic,
  summary = result.output.text,
  notes = {
    technology = result.outputs.research.technology.text,
    market = result.outputs.research.market.text,
    risks = result.outputs.research.risks.text,
  },
}
