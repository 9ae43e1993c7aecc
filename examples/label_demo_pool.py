"""Write the bundled demo pool with SYNTHETIC labels, so `s1 select` has something to select from offline.

    python examples/label_demo_pool.py demo-out/labelled.jsonl

The real pipeline gets these columns from `s1 generate` (thinking_tokens), `s1 grade`
(qwen7b_correct, qwen32b_correct, gemini_correct) and `s1 classify-msc` (msc). Here they are made
up, deterministically from each row's id, with plausible rates per source (GSM8K mostly easy,
OlympiadBench mostly hard), and every row is marked `synthetic_labels: true`. Do not train on them.
"""

from __future__ import annotations

import hashlib
import sys

from s1cli.bundled import load_table
from s1cli.table import write_table

# source: (MSC classes to draw from, trace-length range, P(7B right), P(32B right))
PROFILES = {
    "gsm8k": (["97", "91", "60", "05"], (300, 2500), 0.85, 0.92),
    "amc23": (["05", "11", "51", "60", "26", "12"], (2000, 9000), 0.45, 0.55),
    "olympiadbench": (["05", "11", "51", "26", "12", "15", "39", "52"], (3000, 14000), 0.25, 0.35),
}


def unit(row_id: str, what: str) -> float:
    """A number in [0, 1) fixed by the row id and the label it is for."""
    digest = hashlib.sha256(f"{row_id}/{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def label(row: dict) -> dict:
    classes, (low, high), p7, p32 = PROFILES[row["source"]]
    rid = row["id"]
    return {**row,
            "msc": classes[int(unit(rid, "msc") * len(classes))],
            "thinking_tokens": int(low + (high - low) * unit(rid, "tokens")),
            "qwen7b_correct": unit(rid, "7b") < p7,
            "qwen32b_correct": unit(rid, "32b") < p32,
            "gemini_correct": unit(rid, "gemini") < 0.8,
            "synthetic_labels": True}


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    written = write_table(sys.argv[1], (label(row) for row in load_table("pool_sample")))
    print(f"wrote {written} rows of pool_sample with synthetic labels to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
