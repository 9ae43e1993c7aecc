#!/usr/bin/env bash
# Step 1: the question pool.
# Paper (§2.1, App. C.5): 59,029 questions from 16 sources, decontaminated against MATH500, GPQA Diamond
# and AIME24 (8-gram overlap) and deduplicated. Time and cost: not stated. Runs on CPU; datasets come
# through the Hugging Face cache (HF_HOME).
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}    # every table of the recipe lands here
GPQA=${GPQA:?set GPQA to your copy of GPQA Diamond, e.g. GPQA=gpqa_diamond.csv}
mkdir -p "$WORK"

# 1a. The 16 sources, read as examples/s1-sources.toml says: questions and reference solutions,
#     no reasoning traces (the recipe's comments say where it differs from the paper's collection).
s1 collect "$WORK/questions.parquet" --recipe examples/s1-sources.toml \
  --decontaminate "aime24,aime25,math500,gpqa_diamond=$GPQA"

# 1b. The reasoning traces. The paper generated them with the Gemini 2.0 Flash Thinking API
#     (gemini-2.0-flash-thinking-exp-1219), which s1 does not call; its 59K pool with those traces is
#     released as simplescaling/data_ablation_full59K. This pool is the one the next steps read.
#     (To use questions.parquet with traces from a teacher you run, see examples/README.md.)
s1 collect "$WORK/pool.parquet" --source hf:simplescaling/data_ablation_full59K@train \
  --map thinking=thinking_trajectories --map response=attempt --map source=source_type \
  --decontaminate "aime24,aime25,math500,gpqa_diamond=$GPQA"
