#!/usr/bin/env bash
# Step 5: s1K, and the paper's 1K-random ablation.
# Paper (§2.2, §5.1, Table 2): 59,029 -> 54,116 (no API errors) -> 51,581 (formatting) -> 24,496 (neither
# Qwen model right) -> 1,000 over 50 domains, 384 of them pre-selected. Time: not stated; it runs on CPU.
# The report lists the same stages for your pool.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}

# Reads qwen7b_correct, qwen32b_correct, gemini_correct, thinking_tokens and msc (the defaults).
s1 select "$WORK/labelled.parquet" "$WORK/s1k.parquet" --report "$WORK/s1k.report.md"

# 1K-random: 1,000 rows drawn uniformly after the quality filter only.
s1 select "$WORK/labelled.parquet" "$WORK/random1k.parquet" --mode random --seed 1 \
  --report "$WORK/random1k.report.md"
