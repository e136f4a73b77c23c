-- collection_loop.lua: a loop workflow runs the calculator tool once per order line,
-- then an agent writes a one-line report of the totals.
--   LLMSPELL_MODEL=openai/gpt-4o-mini OPENAI_API_KEY=... llmspell run examples/collection_loop.lua
local order = {
  { item = "notebook", qty = 3, price = 4.5 },
  { item = "pen", qty = 10, price = 1.2 },
  { item = "backpack", qty = 1, price = 39.9 },
}

-- One iteration per line: {{loop.item}} is the line, {{loop.index}} its position (from 1).
local lines = Workflow.loop{
  name = "price-lines",
  collection = "{{input}}",
  body = {
    {
      name = "total",
      tool = "calculator",
      input = { input = "round(qty * price, 2)", variables = { qty = "{{loop.item.qty}}", price = "{{loop.item.price}}" } },
    },
    {
      name = "line",
      fn = function(ctx)
        local line = ctx.loop.item
        return { item = line.item, total = ctx.steps.total.output.result.value }
      end,
    },
  },
  aggregate = "all",
}

local reporter = Agent.create{
  name = "reporter",
  system_prompt = "You write one-line order summaries.",
  max_tokens = 80,
}

local checkout = Workflow.sequential{
  name = "checkout",
  steps = {
    { name = "lines", workflow = lines },
    {
      name = "sum",
      fn = function(ctx)
        local sum = 0
        for _, line in ipairs(ctx.steps.lines.output) do sum = sum + line.total end
        return sum
      end,
    },
    { name = "report", agent = reporter, input = "Order lines: {{steps.lines.output}}. Grand total: {{steps.sum.output}}." },
  },
}

local result = checkout:execute(order)
if not result.success then error("checkout failed: " .. result.errors[1].message) end

for i, line in ipairs(result.outputs.lines) do
  print(("%d. %-9s %8.2f"):format(i, line.item, line.total))
end
print(("total %.2f"):format(result.outputs.sum))
print(result.output.text)

return { lines = result.outputs.lines, total = result.outputs.sum, report = result.output.text }
