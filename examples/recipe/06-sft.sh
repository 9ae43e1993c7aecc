#!/usr/bin/env bash
# Step 6: fine-tune Qwen2.5-32B-Instruct on s1K with FSDP on 2 nodes x 8 GPUs.
# Paper (§4.1, §5.1, App. D): 26 minutes on 16 NVIDIA H100 GPUs with PyTorch FSDP (7 H100 GPU hours;
# the 59K pool took 394); 5 epochs, batch 16, 315 steps, lr 1e-5 (5% warmup, cosine), AdamW
# (0.9, 0.95), weight decay 1e-4, bf16, loss on traces and answers only: the defaults of s1 sft.
#
# Run this script on both nodes at once, with MACHINE_RANK=0 on the main node and MACHINE_RANK=1 on
# the other, and MAIN_IP the main node's address; on Slurm, examples/slurm/sft.slurm does it for you.
# OUT must be on storage both nodes see. Arguments are more s1 sft options, e.g. --save-every 100 to
# checkpoint for --resume. For the 1K-random ablation: TRAIN=work/random1k.parquet OUT=ckpts/random1k.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}
TRAIN=${TRAIN:-$WORK/s1k.parquet}
OUT=${OUT:-ckpts/s1-32b}
MACHINE_RANK=${MACHINE_RANK:?set MACHINE_RANK: 0 on the main node, 1 on the other}
MAIN_IP=${MAIN_IP:?set MAIN_IP to the main node address}

# What it will train on: token lengths against the 32,768-token block, loss share, memory. No weights load.
if [[ $MACHINE_RANK == 0 ]]; then
  s1 sft "$TRAIN" "$OUT" --model hf:Qwen/Qwen2.5-32B-Instruct --preflight-only "$@"
fi

# --loss-average sequence averages per-example losses as the s1 run did (one example per GPU per step).
accelerate launch --config_file examples/accelerate/multi_node.yaml \
  --machine_rank "$MACHINE_RANK" --main_process_ip "$MAIN_IP" --main_process_port 29500 \
  -m s1cli.cli sft "$TRAIN" "$OUT" --model hf:Qwen/Qwen2.5-32B-Instruct \
  --gradient-checkpointing --loss-average sequence "$@"
