#!/usr/bin/env bash
# The offline tiny pipeline. Each step is an `s1` command reading and writing tables;
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

echo "== 3. a question pool from two sources, decontaminated against the bundled eval sets"
s1 data export pool_sample "$OUT/pool_sample.jsonl"
# A second source that, by construction, holds the AIME 2024 questions, under its own column name.
s1 data export aime24 - | s1 convert - "$OUT/leaky.csv" --map problem=question
s1 collect "$OUT/pool.parquet" --source "$OUT/pool_sample.jsonl" --source "leaky=$OUT/leaky.csv" \
    --map question=problem --decontaminate aime24,aime25,math500
leaked=$(s1 convert "$OUT/pool.parquet" - | grep -c '"source": "leaky"' || true)
test "$leaked" -eq 0
echo "every AIME 2024 copy was dropped; the matches are in $OUT/pool.contamination.parquet"

echo "== 4. grade with the rule judge: MATH500's reference solutions as attempts, with token counts"
s1 grade "$OUT/math500.jsonl" "$OUT/math500.graded.parquet" --judge rule --name reference \
  --map response=solution --count-tokens response --overwrite

echo "== 5. MSC2020 classes of the demo pool, with the offline classifier"
# A script adds SYNTHETIC trace lengths and verdicts to the demo pool (generate and grade would measure
# them); its made-up msc column is kept as synthetic_msc and replaced by real offline labels.
python examples/label_demo_pool.py "$OUT/synthetic.jsonl"
s1 classify-msc "$OUT/synthetic.jsonl" "$OUT/labelled.jsonl" --classifier offline \
  --map synthetic_msc=msc --overwrite

echo "== 6. select an s1K-style set: quality -> difficulty -> diversity (2^-rank by trace length)"
s1 select "$OUT/labelled.jsonl" "$OUT/s1k.jsonl" --size 40 --seed 0 --report "$OUT/s1k.report.md"

echo "== 7. fine-tune the tiny model (s1 sft): 2 MATH500 rows, reference solution as thinking, answer as response"
head -n 2 "$OUT/math500.jsonl" > "$OUT/sft-train.jsonl"
s1 sft "$OUT/sft-train.jsonl" "$OUT/sft-model" --model "hf:$OUT/tiny-model" --map thinking=solution \
  --map response=answer --max-steps 30 --batch-size 2 --lr 3e-3 --block-size 1024 --seed 0 --overwrite

echo "== 8. generate with the fine-tuned model on a training question (s1 generate --model hf:OUTDIR)"
head -n 1 "$OUT/sft-train.jsonl" > "$OUT/sft-question.jsonl"
s1 generate "$OUT/sft-question.jsonl" "$OUT/sft-generated.jsonl" --model "hf:$OUT/sft-model" \
  --max-thinking-tokens 200 --max-answer-tokens 32 --overwrite
python -c "import json, sys; row = json.loads(open(sys.argv[1]).readline()); print('answer:', row['response'][:120].strip(), '| reference:', row['answer'])" "$OUT/sft-generated.jsonl"

echo "== 9. generate with budget forcing: 4 AIME24 questions, thinking capped at 96 tokens, extended by up to 2 waits"
s1 data export aime24 - | s1 convert - "$OUT/aime24.head.jsonl" --limit 4
s1 generate "$OUT/aime24.head.jsonl" "$OUT/generations.jsonl" --model "hf:$OUT/tiny-model" \
  --max-thinking-tokens 96 --num-waits 2 --max-answer-tokens 32 --answer-prefix "Final Answer:" --overwrite

echo "== 10. bench: accuracy against thinking budget (a tiny random model scores 0%; the pipeline is the point)"
s1 bench "$OUT/bench" --model "hf:$OUT/tiny-model" --tasks math500 --limit 4 --budgets 32,64 \
  --n 2 --temperature 0.7 --max-answer-tokens 32 --overwrite
echo "report: $OUT/bench/report.md, plot: $OUT/bench/scaling.png"

echo "== done: outputs in $OUT/"
