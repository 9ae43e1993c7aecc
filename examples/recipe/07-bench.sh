#!/usr/bin/env bash
# Step 7: accuracy against thinking budget, with budget forcing, on AIME24, AIME25, MATH500 and GPQA Diamond.
# Paper (§3, §4, Figures 1 and 4, Tables 1 and 3): greedy decoding; thinking capped, or extended by
# suppressing the end of thinking and appending "Wait" (2, 4, 6 times in Figure 4). The caps below are
# the s1 repository's eval/commands.sh: 500 to 16,000 thinking tokens, and no cap (its "auto").
# Time and cost: not stated.
#
# The repository evaluated in float32 with tensor parallelism 8 (vLLM); in-process vLLM here runs bf16
# on one GPU, which for a 32B model needs more than 80 GB. The served form is in examples/README.md.
# To spread a sweep over N machines sharing RUNS: run with SHARD=I/N on machine I, then once without
# SHARD, which generates only what a failed shard left out, grades and reports.
set -euo pipefail
cd "$(dirname "$0")/../.."

MODEL=${MODEL:-ckpts/s1-32b}    # a fine-tuned directory, or a hub id such as simplescaling/s1-32B
RUNS=${RUNS:-runs}
GPQA=${GPQA:?set GPQA to your copy of GPQA Diamond, e.g. GPQA=gpqa_diamond.csv}
TASKS="aime24,aime25,math500,gpqa_diamond=$GPQA"
SHARD=${SHARD:-0/1}    # 0/1: the whole sweep on this machine

# Capped thinking (Figure 1): each cap forces the end of thinking once reached.
s1 bench "$RUNS/caps" --model "vllm:$MODEL" --tasks "$TASKS" \
  --budgets 500,1000,2000,4000,8000,16000,none --label s1-caps --shard "$SHARD"

# Extended thinking (Figure 4, left): no cap, up to K forced "Wait"s.
s1 bench "$RUNS/waits" --model "vllm:$MODEL" --tasks "$TASKS" \
  --budgets none --num-waits 0,1,2,4,6 --label s1-waits --shard "$SHARD"

# Both sweeps in one report and plot (Control, Scaling, Performance per task and method: caps, and Wait at each cap): $RUNS/caps/report.md.
if [[ $SHARD == 0/1 ]]; then
  s1 bench "$RUNS/caps" --compare "$RUNS/waits"
fi
