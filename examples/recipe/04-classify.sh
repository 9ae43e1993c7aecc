#!/usr/bin/env bash
# Step 4: diversity labels. Claude gives every question one top-level MSC2020 class, choosing from the
# classes with their subfields (prompt: s1cli/prompts/msc_v1.md), through Message Batches.
# Paper (§2.2, Diversity): Claude 3.5 Sonnet, MSC classes; s1K spans 50 domains. Cost and time: not stated.
#
# The pool is only read: the labels (msc, msc_name, msc_detail) go to labels.parquet, and step 5
# joins them onto the pool by id.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=${WORK:-work}
CLASSIFIER=${CLASSIFIER:-anthropic:claude-sonnet-4-5}    # the paper's Claude 3.5 Sonnet is retired
MAX_COST=${MAX_COST:?set MAX_COST: the most (USD) the labelling run may spend}
: "${ANTHROPIC_API_KEY:?set ANTHROPIC_API_KEY}"

s1 classify-msc "$WORK/pool.parquet" "$WORK/labels.parquet" --classifier "$CLASSIFIER" \
  --message-batches --max-cost "$MAX_COST"

# An audit at no cost: where the offline classifier and Claude disagree (rows beside the output).
s1 classify-msc "$WORK/labels.parquet" "$WORK/msc-audit.parquet" --classifier offline \
  --map claude_msc=msc --compare claude_msc
