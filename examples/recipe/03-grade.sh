#!/usr/bin/env bash
# Step 3: difficulty and quality features. Claude judges each Qwen attempt and each Gemini answer
# against the reference solution (judge prompt: s1cli/prompts/judge_v1.md), through Message Batches
# (half price); the Gemini traces are also counted in Qwen2.5-32B-Instruct tokens.
# Paper (§2.2, App. C.3): Claude 3.5 Sonnet graded; trace length in Qwen2.5 tokens. Cost and time: not stated.
#
# Each table is graded where it is: attempts/MODEL.jsonl into attempts/MODEL.graded.jsonl, and the
# pool itself (Gemini's answers are its `response`) into attempts/gemini.graded.jsonl. Step 5 joins
# the verdicts and counts onto the pool. Each run prints its cost and appends it to OUT-stem.cost.json.
# See a run's bound before paying: add --dry-run to its command. A killed run resumes from the reply
# cache and the saved batch ids.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}
# The paper's judge, anthropic:claude-3-5-sonnet-20241022, has been retired by Anthropic.
JUDGE=${JUDGE:-anthropic:claude-sonnet-4-5}
MAX_COST=${MAX_COST:?set MAX_COST: the most (USD) each grading run may spend}
: "${ANTHROPIC_API_KEY:?set ANTHROPIC_API_KEY}"

# qwen7b_correct, qwen32b_correct: was the attempt right? (s1 select drops a question either got right.)
# Step 2's plain-chat format put each whole attempt in `thinking`.
s1 grade "$WORK/attempts/qwen7b.jsonl" "$WORK/attempts/qwen7b.graded.jsonl" --judge "$JUDGE" --name qwen7b \
  --attempt-column thinking --reference solution --message-batches --max-cost "$MAX_COST"
s1 grade "$WORK/attempts/qwen32b.jsonl" "$WORK/attempts/qwen32b.graded.jsonl" --judge "$JUDGE" --name qwen32b \
  --attempt-column thinking --reference solution --message-batches --max-cost "$MAX_COST"

# gemini_correct: was the pool's own answer (`response`) right? thinking_tokens: the length of its
# Gemini trace (`thinking`) in Qwen tokens, the length s1 select ranks by.
s1 grade "$WORK/pool.parquet" "$WORK/attempts/gemini.graded.jsonl" --judge "$JUDGE" --name gemini \
  --reference solution --message-batches --max-cost "$MAX_COST" \
  --count-tokens thinking --tokenizer hf:Qwen/Qwen2.5-32B-Instruct
