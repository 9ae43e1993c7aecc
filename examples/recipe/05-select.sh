#!/usr/bin/env bash
# Step 5: the features joined onto the pool, then s1K and the paper's 1K-random ablation.
# Paper (§2.2, §5.1, Table 2): 59,029 -> 54,116 (no API errors) -> 51,581 (formatting) -> 24,496 (neither
# Qwen model right) -> 1,000 over 50 domains, 384 of them pre-selected. Time: not stated; it runs on CPU.
# The report lists the same stages for your pool.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}

# The pool's rows, in order, with the columns s1 select reads by default: the verdicts of step 3
# (qwen7b_correct, qwen32b_correct, gemini_correct), the Gemini trace's thinking_tokens, and step 4's
# msc. Only the named columns are added, so the pool keeps its own thinking and response (the Gemini
# trace and answer, what s1K trains on). A question a table lacks (a missing shard, say) gets nulls,
# join reports how many, and s1 select drops it as a row with a missing feature.
s1 join "$WORK/pool.parquet" "$WORK/attempts/qwen7b.graded.jsonl" - --columns qwen7b_correct \
  | s1 join - "$WORK/attempts/qwen32b.graded.jsonl" - --columns qwen32b_correct \
  | s1 join - "$WORK/attempts/gemini.graded.jsonl" - --columns gemini_correct,thinking_tokens \
  | s1 join - "$WORK/labels.parquet" "$WORK/labelled.parquet" --columns msc,msc_name

s1 select "$WORK/labelled.parquet" "$WORK/s1k.parquet" --report "$WORK/s1k.report.md"

# 1K-random: 1,000 rows drawn uniformly after the quality filter only.
s1 select "$WORK/labelled.parquet" "$WORK/random1k.parquet" --mode random --seed 1 \
  --report "$WORK/random1k.report.md"
