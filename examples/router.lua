-- router.lua: a classifier agent labels each request, then a conditional workflow routes
-- it to the matching specialist agent (or a generalist when nothing matches).
--   LLMSPELL_MODEL=openai/gpt-4o-mini OPENAI_API_KEY=... llmspell run examples/router.lua -- "My invoice is wrong"
local requests = #ARGS > 0 and { table.unpack(ARGS) } or {
  "I was charged twice this month, please refund my invoice",
  "The app shows a technical error when I open it",
  "What are your opening hours?",
}

local classifier = Agent.create{
  name = "classifier",
  system_prompt = "Label the customer's request with one word: billing, technical or other.",
  max_tokens = 5,
}

local function specialist(name, role)
  return Agent.create{ name = name, system_prompt = "You are " .. role .. ". Answer in two sentences." }
end

-- The last step of each branch records which route answered.
local function answered_by(route)
  return { name = "done", fn = function(ctx) return { route = route, reply = ctx.steps.reply.output.text } end }
end

local BILLING_WORDS = { "billing", "invoice", "refund", "charge" }

local router = Workflow.conditional{
  name = "router",
  branches = {
    {
      name = "billing",
      -- A Lua function: any billing word in the classifier's label.
      when = function(ctx)
        local label = ctx.input.label:lower()
        for _, word in ipairs(BILLING_WORDS) do
          if label:find(word, 1, true) then return true end
        end
        return false
      end,
      steps = {
        { name = "reply", agent = specialist("billing-desk", "a billing specialist"), input = "{{input.request}}" },
        answered_by("billing"),
      },
    },
    {
      name = "technical",
      -- A declarative condition on the same label.
      when = { key = "label", contains = "technical" },
      steps = {
        { name = "reply", agent = specialist("tech-desk", "a support engineer"), input = "{{input.request}}" },
        answered_by("technical"),
      },
    },
  },
  default = {
    { name = "reply", agent = specialist("front-desk", "a friendly receptionist"), input = "{{input.request}}" },
    answered_by("other"),
  },
}

local triage = Workflow.sequential{
  name = "triage",
  steps = {
    { name = "classify", agent = classifier, input = "{{input}}" },
    {
      name = "route",
      workflow = router,
      input = { label = "{{steps.classify.output.text}}", request = "{{input}}" },
    },
  },
}

local answers = {}
for i, request in ipairs(requests) do
  local result = triage:execute(request)
  if not result.success then error("routing failed: " .. result.errors[1].message) end
  answers[i] = { request = request, route = result.output.route, reply = result.output.reply }
  print(("[%s] %s\n  -> %s"):format(result.output.route, request, result.output.reply))
end

return answers
