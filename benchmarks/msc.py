"""Quality and speed of the offline MSC classifier (`s1 classify-msc --classifier offline`).

    .venv/bin/python benchmarks/msc.py [--candidates s1] [--dev MATH_TRAIN.jsonl] [--json out.json]

Scores the classifier on the bundled MATH500 questions whose MATH subject maps to one MSC class:
Number Theory → 11, Geometry → 51, Counting & Probability → 05 or 60 (141 questions), and on the
bundled pool's OlympiadBench questions with the same subfields (Combinatorics → 05 or 60). Prints
accuracy per subject, where the other subjects' questions went, and questions per second.

Nothing is fitted to these questions: the classifier is a hand-written lexicon
(s1cli/data/msc_lexicon.tsv) whose weights were adjusted while looking only at the MATH *train*
split (disjoint from MATH500, which is drawn from the test split) and the OlympiadBench rows.
``--dev FILE`` scores any table of MATH-style rows (`problem` or `question`, and `type` or
`metadata.subject`), e.g. the 7,500-problem MATH train split, the same way.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import machine_line, parse_args, table, timed, write_json
from s1cli.bundled import load_table
from s1cli.msc import candidates
from s1cli.msc_offline import OfflineClassifier
from s1cli.table import read_rows

EXPECTED = {"Number Theory": {"11"}, "Geometry": {"51"}, "Counting & Probability": {"05", "60"},
            "Combinatorics": {"05", "60"}}


def math500() -> list[tuple[str, str]]:
    return [(r["question"], r["metadata"]["subject"]) for r in load_table("math500")]


def olympiadbench() -> list[tuple[str, str]]:
    return [(r["question"], r["metadata"]["subfield"]) for r in load_table("pool_sample")
            if r["source"] == "olympiadbench"]


def dev_rows(path: Path) -> list[tuple[str, str]]:
    rows = []
    for row in read_rows(path, unique=False):
        question = row.get("problem") or row.get("question")
        subject = row.get("type") or (row.get("metadata") or {}).get("subject")
        if question and subject:
            rows.append((question, subject))
    return rows


def score(name: str, rows: list[tuple[str, str]], classifier: OfflineClassifier) -> dict:
    seconds, codes = timed(lambda: [classifier.classify(question).code for question, _ in rows])
    spread: dict[str, Counter] = defaultdict(Counter)
    right: Counter[str] = Counter()
    for (_, subject), code in zip(rows, codes, strict=True):
        spread[subject][code] += 1
        right[subject] += code in EXPECTED.get(subject, ())
    scored = {s: (right[s], sum(spread[s].values())) for s in spread if s in EXPECTED}
    hits, total = sum(r for r, _ in scored.values()), sum(n for _, n in scored.values())
    return {"set": name, "rows": len(rows), "seconds": seconds, "per_second": len(rows) / seconds,
            "subjects": {s: {"correct": r, "total": n, "accuracy": r / n} for s, (r, n) in scored.items()},
            "overall": {"correct": hits, "total": total, "accuracy": hits / total if total else None},
            "spread": {s: dict(c.most_common()) for s, c in spread.items()}}


def report(result: dict) -> None:
    print(f"\n{result['set']}: {result['rows']} questions, {result['per_second']:,.0f} questions/s")
    rows = [(subject, "/".join(sorted(EXPECTED[subject])), f"{f['correct']}/{f['total']}", f"{f['accuracy']:.1%}")
            for subject, f in result["subjects"].items()]
    overall = result["overall"]
    if overall["total"]:
        rows.append(("overall", "", f"{overall['correct']}/{overall['total']}", f"{overall['accuracy']:.1%}"))
    print(textwrap.indent(table(["subject", "expected", "correct", "accuracy"], rows, align="llrr"), "  "))
    print("  where each subject went (top classes):")
    for subject, counts in result["spread"].items():
        top = ", ".join(f"{code} {n}" for code, n in list(counts.items())[:6])
        print(f"    {subject:<24} {top}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", default="s1", help="s1 (61 classes, the default), all, or a code list")
    parser.add_argument("--dev", type=Path, help="also score a MATH-style table (problem/type columns)")
    args, start = parse_args(parser)
    seconds, classifier = timed(lambda: OfflineClassifier(candidates(args.candidates)))
    print(f"offline classifier over {len(classifier.codes)} classes, built in {seconds:.2f} s")
    results = [score("MATH500 (bundled)", math500(), classifier),
               score("OlympiadBench rows of the bundled pool", olympiadbench(), classifier)]
    if args.dev:
        results.append(score(f"dev: {args.dev}", dev_rows(args.dev), classifier))
    for result in results:
        report(result)
    print(f"\n{machine_line(start)}")
    write_json(args.json, results, start)


if __name__ == "__main__":
    main()
