#!/usr/bin/env bash
# Step 3: difficulty and quality features. Claude judges each Qwen attempt and each Gemini answer
# against the reference solution (judge prompt: s1cli/prompts/judge_v1.md), through Message Batches
# (half price); then the Gemini traces are counted in Qwen2.5-32B-Instruct tokens.
# Paper (§2.2, App. C.3): Claude 3.5 Sonnet graded; trace length in Qwen2.5 tokens. Cost and time: not stated.
#
# Each run prints its cost and appends it to OUT-stem.cost.json. See a run's bound before paying:
# add --dry-run to its command. A killed run resumes from the reply cache and the saved batch ids.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}
# The paper's judge, anthropic:claude-3-5-sonnet-20241022, has been retired by Anthropic.
JUDGE=${JUDGE:-anthropic:claude-sonnet-4-5}
MAX_COST=${MAX_COST:?set MAX_COST: the most (USD) each grading run may spend}
: "${ANTHROPIC_API_KEY:?set ANTHROPIC_API_KEY}"

# qwen7b_correct, qwen32b_correct: was the attempt right? (s1 select drops a question either got right.)
s1 grade "$WORK/attempts.jsonl" "$WORK/graded-7b.jsonl" --judge "$JUDGE" --name qwen7b \
  --attempt-column qwen7b_attempt --reference solution --batch --max-cost "$MAX_COST"
s1 grade "$WORK/graded-7b.jsonl" "$WORK/graded-32b.jsonl" --judge "$JUDGE" --name qwen32b \
  --attempt-column thinking --reference solution --batch --max-cost "$MAX_COST"

# gemini_correct and thinking_tokens. The Gemini trace and answer move back to thinking / response
# (the 32B attempt to qwen32b_attempt); thinking_tokens becomes the trace's length in Qwen tokens.
s1 grade "$WORK/graded-32b.jsonl" "$WORK/graded.parquet" --judge "$JUDGE" --name gemini \
  --reference solution --batch --max-cost "$MAX_COST" \
  --map qwen32b_attempt=thinking --map thinking=gemini_thinking --map response=gemini_attempt \
  --count-tokens thinking --tokenizer hf:Qwen/Qwen2.5-32B-Instruct
