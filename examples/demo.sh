#!/usr/bin/env bash
# The s1 recipe in miniature, offline on a CPU: every step is an `s1` command reading and writing
# tables. A toy reasoning world stands in for the paper's 59K math questions: its questions take
# 1 to 10 reasoning steps, so a model that is cut off early must guess, and accuracy can rise with
# the thinking budget. `make demo` runs this script; rerunning it skips the steps already done.
#
#   bash examples/demo.sh [OUT]          (default OUT: demo-out)
#
# The sizes below are the defaults; the test suite runs a reduced version through the same
# variables. The same seeds give the same figures on the same machine.
set -euo pipefail
OUT=${1:-demo-out}
POOL_N=${POOL_N:-2400}            # toy pool questions with reference traces (the paper's Gemini traces), 1..MAX_STEPS steps
SOLVER_N=${SOLVER_N:-3000}        # the solvers' own split: short questions only (1..SHORT steps)
SHORT=${SHORT:-4}                 # the solvers, like instruct models, know short reasoning only
EVAL_N=${EVAL_N:-60}              # held-out hard questions (SHORT+1..MAX_STEPS steps), the demo's AIME
EASY_N=${EASY_N:-30}              # held-out easy questions (1..SHORT steps)
MAX_STEPS=${MAX_STEPS:-10}
WEAK_STEPS=${WEAK_STEPS:-100}     # optimizer steps of the weak solver (the paper's Qwen2.5-7B-Instruct)
STRONG_STEPS=${STRONG_STEPS:-400} # ... of the strong solver (Qwen2.5-32B-Instruct), the student's base model
STUDENT_STEPS=${STUDENT_STEPS:-300}
SIZE=${SIZE:-1200}                # rows selected (the paper's 1,000 of 59K)
BUDGETS=${BUDGETS:-8,16,24,32,48,64,none}
WAITS=${WAITS:-1,2}
WAIT_BUDGET=${WAIT_BUDGET:-none}  # the cap of the Wait runs (none: a trained model ends its thinking itself)
ATTEMPT_TOKENS=${ATTEMPT_TOKENS:-80} # the solvers' thinking cap: a 10-step trace is about 70 tokens
RANDOM_STUDENT=${RANDOM_STUDENT:-1} # 0 skips the 1K-random ablation's student
mkdir -p "$OUT/data" "$OUT/models" "$OUT/attempts" "$OUT/bench"

# step DONE_PATH DESCRIPTION -- COMMAND...: run COMMAND unless DONE_PATH exists (commands write
# their outputs atomically, so an existing output is a finished one).
step() {
  local done=$1 what=$2
  shift 3
  if [[ -e $done ]]; then
    echo "== $what: done ($done)"
  else
    echo "== $what"
    local start=$SECONDS
    "$@"
    echo "   ($((SECONDS - start)) s)"
  fi
}
TRAIN=(--batch-size 32 --lr 3e-3 --block-size 2048 --seed 0 --overwrite)
GEN=(--max-answer-tokens 8 --batch-size 64)

echo "# 1. data: a toy reasoning world, the bundled pool sample, a tiny base model"
step "$OUT/data/toy-pool.jsonl" "toy pool: $POOL_N questions with step-by-step traces, some with a slip and a 'Wait'" -- \
  s1 data toy "$OUT/data/toy-pool.jsonl" --n "$POOL_N" --seed 2 --max-steps "$MAX_STEPS"
step "$OUT/data/solver-train.jsonl" "the solvers' own training split: $SOLVER_N questions of 1 to $SHORT steps" -- \
  s1 data toy "$OUT/data/solver-train.jsonl" --n "$SOLVER_N" --seed 1 --max-steps "$SHORT"
step "$OUT/data/toy-hard.jsonl" "toy eval set: $EVAL_N held-out hard questions" -- \
  s1 data toy "$OUT/data/toy-hard.jsonl" --n "$EVAL_N" --seed 3 --min-steps $((SHORT + 1)) --max-steps "$MAX_STEPS" \
  --slip-rate 0 --check-rate 0
step "$OUT/data/toy-easy.jsonl" "toy eval set: $EASY_N held-out easy questions" -- \
  s1 data toy "$OUT/data/toy-easy.jsonl" --n "$EASY_N" --seed 4 --max-steps "$SHORT" --slip-rate 0 --check-rate 0
step "$OUT/data/pool_sample.jsonl" "bundled pool sample (GSM8K, AMC23, OlympiadBench; questions without traces)" -- \
  s1 data export pool_sample "$OUT/data/pool_sample.jsonl"
step "$OUT/models/base" "a tiny Qwen2 base model (1.25M parameters, random weights)" -- \
  s1 tiny "$OUT/models/base" --hidden-size 128 --layers 4 --intermediate-size 512 --seed 0

echo "# 2. collect (s1 §2.1): one pool, decontaminated against the bundled eval sets and the toy eval set"
# 8-gram overlap, as the paper, against AIME24/25 and MATH500 ...
step "$OUT/pool.raw.parquet" "collect the toy pool and the pool sample" -- \
  s1 collect "$OUT/pool.raw.parquet" --source "$OUT/data/toy-pool.jsonl" --source "$OUT/data/pool_sample.jsonl" \
  --decontaminate aime24,aime25,math500
# ... and whole questions against the toy eval set: toy questions share their wording, so any
# 8-gram would match most of them; an n-gram longer than a question matches only the same question.
step "$OUT/pool.parquet" "decontaminate against the toy eval sets" -- \
  s1 collect "$OUT/pool.parquet" --source "$OUT/pool.raw.parquet" \
  --decontaminate "toy-hard=$OUT/data/toy-hard.jsonl,toy-easy=$OUT/data/toy-easy.jsonl" --ngram 64

echo "# 3. grade (s1 §2.2): difficulty is what the solvers get wrong, and trace length in real tokens"
for solver in weak strong; do
  steps=$WEAK_STEPS; [[ $solver == strong ]] && steps=$STRONG_STEPS
  step "$OUT/models/$solver/s1_sft.json" "train the $solver solver: $steps steps on its own split" -- \
    s1 sft "$OUT/data/solver-train.jsonl" "$OUT/models/$solver" --model "hf:$OUT/models/base" --max-steps "$steps" \
    "${TRAIN[@]}"
  step "$OUT/attempts/$solver.graded.jsonl" "the $solver solver attempts every pool question; the rule judge grades it" -- \
    bash -c "s1 generate '$OUT/pool.parquet' '$OUT/attempts/$solver.jsonl' --model 'hf:$OUT/models/$solver' \
      --max-thinking-tokens $ATTEMPT_TOKENS ${GEN[*]} && \
      s1 grade '$OUT/attempts/$solver.jsonl' '$OUT/attempts/$solver.graded.jsonl' --judge rule --name $solver --overwrite"
done
step "$OUT/data/toy-pool.graded.jsonl" "grade the reference traces and count their tokens with the model's tokenizer" -- \
  s1 grade "$OUT/data/toy-pool.jsonl" "$OUT/data/toy-pool.graded.jsonl" --judge rule --name reference \
  --count-tokens thinking --tokenizer "hf:$OUT/models/base" --overwrite
step "$OUT/labelled.parquet" "join the verdicts and token counts onto the pool" -- \
  bash -c "s1 join '$OUT/pool.parquet' '$OUT/data/toy-pool.graded.jsonl' - --columns reference_correct,thinking_tokens \
    | s1 join - '$OUT/attempts/weak.graded.jsonl' - --columns weak_correct \
    | s1 join - '$OUT/attempts/strong.graded.jsonl' '$OUT/labelled.parquet' --columns strong_correct"

echo "# 4. select (s1 §2.2, §5.1): quality -> difficulty -> diversity, and the random ablation"
# The toy families are the domains (the real recipe labels math questions with s1 classify-msc).
step "$OUT/s1k.jsonl" "select $SIZE rows as s1K was built" -- \
  s1 select "$OUT/labelled.parquet" "$OUT/s1k.jsonl" --size "$SIZE" --easy-if weak_correct,strong_correct \
  --trace-correct-column reference_correct --domain-column domain --seed 0 --report "$OUT/s1k.report.md"
step "$OUT/random.jsonl" "select $SIZE rows at random (the paper's 1K-random)" -- \
  s1 select "$OUT/labelled.parquet" "$OUT/random.jsonl" --mode random --size "$SIZE" \
  --trace-correct-column reference_correct --domain-column domain --seed 0 --report "$OUT/random.report.md"

echo "# 5. sft (s1 §3): the student starts from the strong solver, as s1-32B from Qwen2.5-32B-Instruct"
students=(s1k)
[[ $RANDOM_STUDENT == 1 ]] && students+=(random)
for set in "${students[@]}"; do
  step "$OUT/models/student-$set/s1_sft.json" "fine-tune on $set.jsonl: $STUDENT_STEPS steps" -- \
    s1 sft "$OUT/$set.jsonl" "$OUT/models/student-$set" --model "hf:$OUT/models/strong" --max-steps "$STUDENT_STEPS" \
    "${TRAIN[@]}"
done

echo "# 6. bench (s1 §3.1, §4): accuracy against the thinking budget, and extension with 'Wait'"
TASKS="toy-hard=$OUT/data/toy-hard.jsonl,toy-easy=$OUT/data/toy-easy.jsonl"
for model in strong "${students[@]/#/student-}"; do
  step "$OUT/bench/$model/report.md" "bench $model at budgets $BUDGETS" -- \
    s1 bench "$OUT/bench/$model" --model "hf:$OUT/models/$model" --tasks "$TASKS" \
    --budgets "$BUDGETS" --label "$model" "${GEN[@]}"
done
step "$OUT/bench/student-s1k-wait/report.md" "bench student-s1k at budget $WAIT_BUDGET, extended by $WAITS 'Wait's" -- \
  s1 bench "$OUT/bench/student-s1k-wait" --model "hf:$OUT/models/student-s1k" --tasks "$TASKS" \
  --budgets "$WAIT_BUDGET" --num-waits "$WAITS" --label "student-s1k + Wait" "${GEN[@]}"
compare=()
for dir in "$OUT"/bench/*/; do
  [[ $dir == */student-s1k/ || $dir == */report/ ]] || compare+=(--compare "$dir")
done
s1 bench "$OUT/bench/student-s1k" "${compare[@]}"
cp "$OUT/bench/student-s1k/report.md" "$OUT/report.md"
cp "$OUT/bench/student-s1k/scaling.png" "$OUT/scaling.png"
echo "== done in $SECONDS s: $OUT/report.md and $OUT/scaling.png (accuracy against thinking tokens, every model)"
