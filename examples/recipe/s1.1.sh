#!/usr/bin/env bash
# s1.1: the s1K questions with DeepSeek-R1 traces instead of Gemini's (simplescaling/s1K-1.1), and the
# same training. Paper (App. A): traces regenerated with DeepSeek r1, same training procedure; s1
# repository README: 16 H100s (2 nodes x 8) recommended, block size 20,000 for s1.1 to avoid running out
# of memory. Time and cost: not stated.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}
RUNS=${RUNS:-runs}
OUT=${OUT:-ckpts/s1.1-32b}
GPQA=${GPQA:?set GPQA to your copy of GPQA Diamond, e.g. GPQA=gpqa_diamond.csv}
TASKS="aime24,aime25,math500,gpqa_diamond=$GPQA"
mkdir -p "$WORK"

# The data: R1's trace and answer as thinking / response.
s1 collect "$WORK/s1k-1.1.parquet" --source hf:simplescaling/s1K-1.1@train \
  --map thinking=deepseek_thinking_trajectory --map response=deepseek_attempt --map source=source_type
s1 sft "$WORK/s1k-1.1.parquet" "$OUT" --model hf:Qwen/Qwen2.5-32B-Instruct --block-size 20000 \
  --preflight-only

# The fine-tune on 2 nodes x 8 GPUs (Slurm; waits for the job). Without Slurm, run on each node:
#   TRAIN=work/s1k-1.1.parquet OUT=ckpts/s1.1-32b MACHINE_RANK=... MAIN_IP=... examples/recipe/06-sft.sh --block-size 20000
sbatch --wait examples/slurm/sft.slurm "$WORK/s1k-1.1.parquet" "$OUT" --block-size 20000

# Budget forcing, as in step 7; the released simplescaling/s1.1-32B works the same way.
s1 bench "$RUNS/s1.1-caps" --model "vllm:$OUT" --tasks "$TASKS" \
  --budgets 500,1000,2000,4000,8000,16000,none --label s1.1-caps
s1 bench "$RUNS/s1.1-waits" --model "vllm:$OUT" --tasks "$TASKS" \
  --budgets none --num-waits 0,1,2,4,6 --label s1.1-waits
