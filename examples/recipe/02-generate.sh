#!/usr/bin/env bash
# Step 2: attempts by Qwen2.5-7B-Instruct and Qwen2.5-32B-Instruct at every pool question, on vLLM.
# Paper (§2.2, Difficulty): both models answer each question. Time and cost: not stated. (The s1
# repository's data/bulk_inference.sh ran each model as 6 shards of 10,000 questions, 2 GPUs a shard.)
#
# Each model's attempts go to their own table, attempts/MODEL.jsonl: the pool and its Gemini traces
# are only read. Step 3 grades each table and step 5 joins the verdicts back onto the pool by id.
#
# The Qwen models answer as plain chat models: this custom format opens "thinking" where the chat
# template opens the assistant turn and closes it at <|im_end|>, so the prompt is the plain chat prompt
# and the whole attempt lands in `thinking` (the one-token `response` after it is unused). Temperature
# 0.05 and the 32K context follow the repository's bulk_inference.py.
#
# One GPU runs both in turn; the two runs read only the pool, so on two GPUs (or machines) run them
# at the same time. To spread a model over GPUs, run its command with --shard I/N on N GPUs and
# concatenate the parts (examples/slurm/generate.slurm does this as a job array). s1 has no
# tensor-parallel option for in-process vLLM, so Qwen2.5-32B in bf16 needs a GPU with more than 80 GB
# (e.g. H200); on 80 GB GPUs serve it with `vllm serve` instead (examples/README.md, step 2).
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}

s1 generate "$WORK/pool.parquet" "$WORK/attempts/qwen7b.jsonl" --model vllm:Qwen/Qwen2.5-7B-Instruct \
  --format custom --think-start '<|im_start|>assistant' --think-end '<|im_end|>' --max-answer-tokens 1 \
  --temperature 0.05 --batch-size 256

s1 generate "$WORK/pool.parquet" "$WORK/attempts/qwen32b.jsonl" --model vllm:Qwen/Qwen2.5-32B-Instruct \
  --format custom --think-start '<|im_start|>assistant' --think-end '<|im_end|>' --max-answer-tokens 1 \
  --temperature 0.05 --batch-size 256
