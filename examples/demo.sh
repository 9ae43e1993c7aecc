#!/usr/bin/env bash
# The offline tiny pipeline. Each step is an `s1` command reading and writing tables;
# later steps (collect, classify-msc, sft) join as they land.
set -euo pipefail
OUT=${1:-demo-out}
mkdir -p "$OUT"

echo "== 1. a tiny Qwen2 model and tokenizer, built offline"
s1 tiny "$OUT/tiny-model"

echo "== 2. a bundled eval set, round-tripped through every table format and a pipe"
s1 data export math500 "$OUT/math500.jsonl"
s1 convert "$OUT/math500.jsonl" "$OUT/math500.parquet"
s1 convert "$OUT/math500.parquet" - | s1 convert - "$OUT/math500.csv"
s1 convert "$OUT/math500.csv" "$OUT/math500.jsonl.gz"
s1 convert "$OUT/math500.jsonl.gz" "$OUT/math500.roundtrip.jsonl"
cmp "$OUT/math500.jsonl" "$OUT/math500.roundtrip.jsonl"
echo "round trip jsonl -> parquet -> stdout | stdin -> csv -> jsonl.gz -> jsonl: identical"

echo "== 3. grade with the rule judge: MATH500's reference solutions as attempts, with token counts"
s1 grade "$OUT/math500.jsonl" "$OUT/math500.graded.parquet" --judge rule --name reference \
  --map response=solution --count-tokens response --overwrite

echo "== 4. select an s1K-style set: quality -> difficulty -> diversity (2^-rank by trace length)"
# grade and classify-msc will label the pool; until then a script adds SYNTHETIC labels to the demo pool.
python examples/label_demo_pool.py "$OUT/labelled.jsonl"
s1 select "$OUT/labelled.jsonl" "$OUT/s1k.jsonl" --size 40 --seed 0 --report "$OUT/s1k.report.md"

echo "== 5. bench: accuracy against thinking budget (a tiny random model scores 0%; the pipeline is the point)"
s1 bench "$OUT/bench" --model "hf:$OUT/tiny-model" --tasks math500 --limit 4 --budgets 32,64 \
  --n 2 --temperature 0.7 --max-answer-tokens 32 --overwrite
echo "report: $OUT/bench/report.md, plot: $OUT/bench/scaling.png"

echo "== done: outputs in $OUT/"
