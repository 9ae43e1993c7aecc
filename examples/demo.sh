#!/usr/bin/env bash
# The offline tiny pipeline. Each step is an `s1` command reading and writing tables;
# later steps (collect, classify-msc, bench) join as they land.
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

echo "== 5. fine-tune the tiny model (s1 sft): 2 MATH500 rows, reference solution as thinking, answer as response"
head -n 2 "$OUT/math500.jsonl" > "$OUT/sft-train.jsonl"
s1 sft "$OUT/sft-train.jsonl" "$OUT/sft-model" --model "hf:$OUT/tiny-model" --map thinking=solution \
  --map response=answer --max-steps 30 --batch-size 2 --lr 3e-3 --block-size 1024 --seed 0 --overwrite

echo "== 6. generate with the fine-tuned model on a training question (s1 generate --model hf:OUTDIR)"
head -n 1 "$OUT/sft-train.jsonl" > "$OUT/sft-question.jsonl"
s1 generate "$OUT/sft-question.jsonl" "$OUT/sft-generated.jsonl" --model "hf:$OUT/sft-model" \
  --max-thinking-tokens 200 --max-answer-tokens 32 --overwrite
python -c "import json, sys; row = json.loads(open(sys.argv[1]).readline()); print('answer:', row['response'][:120].strip(), '| reference:', row['answer'])" "$OUT/sft-generated.jsonl"

echo "== done: outputs in $OUT/"
