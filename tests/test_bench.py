"""`s1 bench` end to end: budget sweeps on the tiny model with resume, grading existing tables with
hand-computed metrics, splitting thinking from answers, --n, GPQA references, --compare, worker
processes, and bad input."""

from __future__ import annotations

import csv
import json
import re
from itertools import combinations
from pathlib import Path

import pytest
from PIL import Image

from s1cli import bench as lib
from s1cli.bundled import load_table
from s1cli.evalsets import load_gpqa
from s1cli.table import read_rows, write_table

from .conftest import run_s1
from .synthetic import write_gpqa

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_valid_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.load()  # decodes every pixel; raises on a truncated or corrupt file
        assert image.format == "PNG" and image.width >= 300 and image.height >= 200
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 10, "the plot is blank"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def csv_rows(path: Path) -> list[dict]:
    """A summary CSV with its numbers as numbers and empty cells as None."""
    def value(cell: str):
        if cell == "":
            return None
        for kind in (int, float):
            try:
                return kind(cell)
            except ValueError:
                pass
        return cell

    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def without_seconds(path: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_rows(path)]


# ------------------------------------------------------------------------------------------ the tiny model


def test_two_budgets_on_five_math500_questions_then_a_rerun_recomputes_nothing(tmp_path, tiny_model):
    out = tmp_path / "run"
    common = ["bench", out, "--model", f"hf:{tiny_model}", "--tasks", "math500", "--limit", "5",
              "--max-answer-tokens", "8", "--label", "tiny", "--bootstrap", "200"]
    args = [*common, "--budgets", "8,16"]
    first = run_s1(*args)
    assert first.exit_code == 0, first.stderr
    assert "math500: 5 of 500 questions × 2 settings × 1 samples" in first.stderr
    assert "generated 10 samples" in first.stderr and "graded 10 samples (0 unchanged" in first.stderr
    for name in ("samples.parquet", "summary.csv", "scaling.csv", "report.md", "scaling.png", "run.json",
                 "generations/math500/budget-8.jsonl", "generations/math500/budget-16.jsonl"):
        assert (out / name).is_file(), name
    samples = read_rows(out / "samples.parquet", unique=False)
    assert len(samples) == 10
    assert {(r["budget"], r["sample"]) for r in samples} == {(8, 0), (16, 0)}
    assert all({"run", "task", "id", "answer", "response", "pred", "correct", "num_waits", "thinking_tokens"} <= set(r)
               and "thinking" not in r for r in samples)
    assert {r["task"] for r in samples} == {"math500"} and {r["run"] for r in samples} == {"tiny"}
    assert all(r["thinking_tokens"] <= r["budget"] for r in samples)
    summary = csv_rows(out / "summary.csv")
    assert [(r["budget"], r["questions"], r["samples"]) for r in summary] == [(8, 5, 5), (16, 5, 5)]
    for row in summary:
        assert 0 <= row["accuracy"] <= 1 and row["within_budget"] == 1
        assert row["accuracy"] == pytest.approx(sum(s["correct"] for s in samples if s["budget"] == row["budget"]) / 5)
        assert row["thinking_tokens"] == pytest.approx(
            sum(s["thinking_tokens"] for s in samples if s["budget"] == row["budget"]) / 5)
    (method,) = csv_rows(out / "scaling.csv")
    assert (method["run"], method["method"], method["settings"], method["control"]) == ("tiny", "cap", 2, 1)
    report = (out / "report.md").read_text()
    assert "## math500 (5 questions)" in report and "![accuracy against average thinking tokens](scaling.png)" in report
    assert f"`hf:{tiny_model}`" in report and "Control %" in report
    assert_valid_png(out / "scaling.png")
    assert "acc %" in first.stderr and "95% CI" in first.stderr
    assert "math500 · tiny · budget forcing: cap: Control 100%" in first.stderr
    config = json.loads((out / "run.json").read_text())
    assert config["model"] == f"hf:{tiny_model}" and config["max_answer_tokens"] == 8

    before = snapshot(out)
    again = run_s1(*args)
    assert again.exit_code == 0, again.stderr
    assert "nothing to generate" in again.stderr and "graded 0 samples (10 unchanged" in again.stderr
    after = snapshot(out)
    for name, (content, mtime) in before.items():
        if name.startswith("generations/"):
            assert after[name] == (content, mtime), f"{name} was rewritten"
        else:
            assert after[name][0] == content, f"{name} changed"

    more = run_s1(*common, "--budgets", "8,16,32")
    assert more.exit_code == 0, more.stderr
    assert "generating 5 samples (10 already done)" in more.stderr
    assert "graded 5 samples (10 unchanged" in more.stderr
    assert [r["budget"] for r in csv_rows(out / "summary.csv")] == [8, 16, 32]
    for name in ("generations/math500/budget-8.jsonl", "generations/math500/budget-16.jsonl"):
        assert snapshot(out)[name] == before[name]

    changed = run_s1(*args, "--temperature", "0.7")
    assert changed.exit_code == 2
    assert "holds a run made with other options (temperature: 0.0 there, 0.7 now)" in changed.stderr


def test_caps_and_waits_are_separate_methods_each_with_its_own_metrics(tmp_path, stopper_model):
    # The stopper model tries to end its thinking early, so uncapped runs are short and "Wait" has work.
    out = tmp_path / "run"
    result = run_s1("bench", out, "--model", f"hf:{stopper_model}", "--tasks", "math500", "--limit", "3",
                    "--max-answer-tokens", "8", "--label", "tiny", "--bootstrap", "50",
                    "--budgets", "none,8", "--num-waits", "0,1")
    assert result.exit_code == 0, result.stderr
    settings = {(r["budget"], r["num_waits"]): r for r in csv_rows(out / "summary.csv")}
    assert sorted(settings, key=lambda s: (s[0] is None, s)) == [(8, 0), (8, 1), (None, 0), (None, 1)]
    methods = {m["method"]: m for m in csv_rows(out / "scaling.csv")}
    assert list(methods) == ["cap", "wait@8", "wait", "unforced"]
    members = {"cap": [(8, 0)], "wait@8": [(8, 0), (8, 1)], "wait": [(None, 0), (None, 1)], "unforced": [(None, 0)]}
    for name, keys in members.items():
        method, rows = methods[name], [settings[k] for k in keys]
        tokens_ = [r["thinking_tokens"] for r in rows]
        assert method["settings"] == len(rows) and method["performance"] == max(r["accuracy"] for r in rows)
        assert (method["thinking_tokens_low"], method["thinking_tokens_high"]) == (min(tokens_), max(tokens_))
        if len(rows) == 2:  # one pair: its slope, unless the two settings are the same compute
            (low, high) = sorted(rows, key=lambda r: r["thinking_tokens"])
            gap = high["thinking_tokens"] - low["thinking_tokens"]
            if gap > 0.1 * high["thinking_tokens"]:
                slope = (high["accuracy"] - low["accuracy"]) * 100 / (gap / 1000)
                assert method["pairs"] == 1 and method["scaling"] == pytest.approx(slope, abs=1e-3)
            else:
                assert method["same_compute_pairs"] == 1 and method["scaling"] is None
        else:
            assert method["scaling"] is None and method["pairs"] == 0
    assert all(r["thinking_tokens"] <= 8 for k, r in settings.items() if k[0] == 8)
    assert methods["cap"]["control"] == 1 and methods["wait@8"]["control"] == 1
    assert methods["unforced"]["control"] is None  # nothing was asked of its thinking
    # the Wait runs did extend thinking: the stopper model stops early and is sent back
    extended, own = settings[(None, 1)], settings[(None, 0)]
    assert extended["waits"] > 0 and extended["thinking_tokens"] > own["thinking_tokens"]
    results = json.loads((out / "results.json").read_text())
    assert [m["method"] for m in results["methods"]] == list(methods)
    assert results["methods"][2]["label"] == "budget forcing: extend with Wait (no cap)"
    assert results["methods"][1]["cap"] == 8 and results["units"]["scaling"].startswith("accuracy points per 1,000")
    assert len(results["settings"]) == 4
    report = (out / "report.md").read_text()
    for label in ("budget forcing: cap", "budget forcing: extend with Wait (cap 8)",
                  "budget forcing: extend with Wait (no cap)", "no forcing (baseline)"):
        assert f"| math500 | tiny | {label} |" in report
        assert f"math500 · tiny · {label}: Control" in " ".join(result.stderr.split())
    assert_valid_png(out / "scaling.png")


def test_plot_labels_of_settings_at_one_spot_do_not_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from s1cli.metrics import RunMetrics
    from s1cli.plots import scaling_figure

    def setting(budget, tokens, accuracy, waits=0):
        metrics = RunMetrics(questions=60, samples=60, n=1, accuracy=accuracy, interval=None,
                             thinking_tokens=tokens)
        return lib.RunSummary("tiny", None, "toy", budget, waits, metrics)

    # caps 32, 48, 64 and none no longer bind: four settings on one spot, as in the demo's easy questions
    runs = [setting(8, 7.4, 0.40), setting(16, 12.7, 0.53), setting(24, 15.8, 0.60),
            *(setting(b, 17.43, 0.867) for b in (32, 48, 64, None)), setting(None, 17.9, 0.50, waits=1)]
    fig = scaling_figure(lib.method_summaries(runs))
    renderer = FigureCanvasAgg(fig).get_renderer()
    (ax,) = fig.axes
    texts = [t for t in ax.texts if t.get_text()]
    assert sorted(t.get_text() for t in texts) == ["16", "24", "32 … no cap", "8", "no cap +1w"]
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, j in combinations(range(len(boxes)), 2):
        assert not boxes[i].overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
    # the cap line and the Wait line are two lines: none joins a capped setting to a forced Wait
    assert {line.get_linestyle() for line in ax.get_lines() if len(line.get_xdata()) > 1} == {"-", "--"}


def test_shards_generate_apart_then_one_run_grades_them_as_a_whole_run_would(tmp_path, tiny_model):
    common = ["--model", f"hf:{tiny_model}", "--tasks", "math500", "--limit", "6", "--budgets", "8,16",
              "--max-answer-tokens", "8", "--label", "tiny", "--bootstrap", "0"]
    sharded = tmp_path / "sharded"
    for index in range(3):
        part = run_s1("bench", sharded, *common, "--shard", f"{index}/3")
        assert part.exit_code == 0, part.stderr
        assert f"shard {index}/3 done" in part.stderr
    assert not (sharded / "samples.parquet").exists()  # a shard alone neither grades nor reports
    folder = sharded / "generations" / "math500"
    assert not (folder / "budget-8.jsonl").exists() and not (folder / "budget-16.jsonl").exists()
    ids = [r["id"] for path in folder.glob("budget-8.shard-*-of-3.jsonl") for r in read_rows(path, unique=False)]
    assert sorted(ids) == sorted(r["id"] for r in load_table("math500")[:6])  # each question in one shard

    lost = folder / "budget-16.shard-1-of-3.jsonl"  # a shard that never finished
    missing = len(read_rows(lost, unique=False))
    lost.unlink()
    merged = run_s1("bench", sharded, *common)
    assert merged.exit_code == 0, merged.stderr
    assert f"generating {missing} samples ({12 - missing} already done)" in merged.stderr  # only the lost ones
    assert "graded 12 samples" in merged.stderr
    whole = tmp_path / "whole"
    assert run_s1("bench", whole, *common).exit_code == 0
    key = lambda r: (r["budget"], r["id"])  # noqa: E731
    ours = sorted(read_rows(sharded / "samples.parquet", unique=False), key=key)
    theirs = sorted(read_rows(whole / "samples.parquet", unique=False), key=key)
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in ours] == \
           [{k: v for k, v in r.items() if k not in drop} for r in theirs]
    assert csv_rows(sharded / "summary.csv") == csv_rows(whole / "summary.csv")

    graded_only = run_s1("bench", tmp_path / "p", "--predictions", whole / "samples.parquet", "--shard", "0/2")
    assert graded_only.exit_code == 2 and "--shard splits generation: it needs --model" in graded_only.stderr


def test_a_crashed_sweep_resumes_where_it_stopped(tmp_path, tiny_model):
    out = tmp_path / "run"
    args = ["bench", out, "--model", f"hf:{tiny_model}", "--tasks", "aime24", "--limit", "4", "--budgets", "6",
            "--num-waits", "0,1", "--max-answer-tokens", "4", "--n", "2", "--temperature", "0.9", "--bootstrap", "0"]
    assert run_s1(*args).exit_code == 0
    complete = {p.name: without_seconds(p) for p in (out / "generations" / "aime24").iterdir()}
    assert sorted(complete) == ["budget-6-waits-1.jsonl", "budget-6.jsonl"]
    # as if killed: one file half written (a partial last line), the reports never written
    path = out / "generations" / "aime24" / "budget-6-waits-1.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:3]) + lines[3][:20])
    for name in ("samples.parquet", "summary.csv", "report.md"):
        (out / name).unlink()
    resumed = run_s1(*args)
    assert resumed.exit_code == 0, resumed.stderr
    assert "generating 5 samples (11 already done)" in resumed.stderr
    assert {p.name: without_seconds(p) for p in path.parent.iterdir()} == complete  # seeded per (id, sample)
    summary = csv_rows(out / "summary.csv")
    assert [(r["budget"], r["num_waits"], r["samples"], r["n"]) for r in summary] == [(6, 0, 8, 2), (6, 1, 8, 2)]


def test_gpqa_questions_reach_the_model_with_their_lettered_choices(tmp_path, tiny_model):
    gpqa = write_gpqa(tmp_path / "gpqa.csv")
    out = tmp_path / "run"
    result = run_s1("bench", out, "--model", f"hf:{tiny_model}", "--tasks", f"gpqa_diamond={gpqa}", "--limit", "3",
                    "--budgets", "4", "--max-answer-tokens", "4", "--subset", "high_level_domain=physics,biology")
    assert result.exit_code == 0, result.stderr
    samples = read_rows(out / "samples.parquet")
    assert [s["id"] for s in samples] == ["rec000", "rec002", "rec003"]
    expected = {row["id"]: row for row in load_gpqa(str(gpqa))}
    for sample in samples:
        assert sample["question"] == expected[sample["id"]]["question"] and "\nD) " in sample["question"]
        assert sample["answer"] == expected[sample["id"]]["answer"]


# ------------------------------------------------------------------------------------------ existing tables


def prediction_rows() -> list[dict]:
    """Three questions × two budgets × four samples, with responses whose verdicts are known."""
    answers = {"q1": "2", "q2": r"\frac{1}{2}", "q3": "7"}
    low = {
        "q1": [r"so \boxed{2}", r"\boxed{3}", "The answer is 2.", ""],
        "q2": [r"\boxed{0.5}", r"\boxed{\frac{1}{3}}", r"\boxed{\dfrac{1}{3}}", "I get **1/2**"],
        "q3": ["no idea", r"\boxed{8}", r"\boxed{8}", r"\boxed{7}"],
    }
    rows = []
    for qid, responses in low.items():
        for sample, response in enumerate(responses):
            rows.append({"id": qid, "answer": answers[qid], "model": "hf:models/demo", "sample": sample,
                         "budget": 100, "response": response, "thinking_tokens": 50, "response_tokens": 9})
            rows.append({"id": qid, "answer": answers[qid], "model": "hf:models/demo", "sample": sample,
                         "budget": 200, "response": rf"\boxed{{{answers[qid]}}}", "thinking_tokens": 150,
                         "response_tokens": 4})
            rows.append({"id": qid, "answer": answers[qid], "model": "hf:models/demo", "sample": sample,
                         "budget": 250, "response": rf"\boxed{{{answers[qid]}}}", "thinking_tokens": 300,
                         "response_tokens": 4})
    return rows


def test_grading_a_table_gives_the_hand_computed_metrics(tmp_path):
    table = tmp_path / "gens.parquet"
    write_table(table, prediction_rows())
    out = tmp_path / "graded"
    result = run_s1("bench", out, "--predictions", table)
    assert result.exit_code == 0, result.stderr
    summary = {r["budget"]: r for r in csv_rows(out / "summary.csv")}
    low = summary[100]
    assert low["run"] == "demo" and low["task"] == "gens" and low["n"] == 4 and low["questions"] == 3
    assert low["accuracy"] == pytest.approx((2 / 4 + 2 / 4 + 1 / 4) / 3, abs=1e-6)
    assert low["pass@2"] == pytest.approx((5 / 6 + 5 / 6 + 1 / 2) / 3, abs=1e-6)  # 1 - C(n-c,2)/C(4,2)
    assert low["pass@4"] == pytest.approx(1.0)
    # maj@4: q1 {2: 2 votes} right; q2 {1/2: 2, 1/3 (two spellings): 2} tie, 1/2 came first: right; q3 {8: 2}: wrong
    assert low["maj@4"] == pytest.approx(2 / 3, abs=1e-6)
    # maj@2 blocks: q1 [2,3]→2 ✓ [2,-]→2 ✓; q2 [½,⅓]→½ ✓ [⅓,½]→⅓ ✗; q3 [-,8]→8 ✗ [8,7]→8 ✗
    assert low["maj@2"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-6)
    assert low["no_answer"] == pytest.approx(2 / 12, abs=1e-6)  # the empty response and "no idea"
    assert low["thinking_tokens"] == 50 and low["within_budget"] == 1 and low["capped"] == 0
    assert low["ci_low"] <= low["accuracy"] <= low["ci_high"]
    assert summary[200]["accuracy"] == 1 and summary[250]["within_budget"] == 0
    (method,) = csv_rows(out / "scaling.csv")  # no num_waits column: caps only
    assert method["method"] == "cap" and method["settings"] == 3
    assert method["control"] == pytest.approx(2 / 3, abs=1e-6)  # budget 250's 300 thinking tokens pass its cap
    accuracy = (2 / 4 + 2 / 4 + 1 / 4) / 3
    slopes = [(1 - accuracy) * 100 / 0.1, (1 - accuracy) * 100 / 0.25, 0.0]  # points per 1k thinking tokens
    assert method["scaling"] == pytest.approx(sum(slopes) / 3, abs=1e-4)
    assert method["performance"] == 1 and (method["pairs"], method["same_compute_pairs"]) == (3, 0)
    samples = {(s["id"], s["budget"], s["sample"]): s for s in read_rows(out / "samples.parquet", unique=False)}
    assert samples[("q2", 100, 3)]["pred"] == "1/2" and samples[("q2", 100, 3)]["correct"] is True
    assert samples[("q1", 100, 3)]["pred"] is None and samples[("q3", 100, 0)]["pred"] is None
    assert samples[("q1", 100, 2)]["pred"] == "2"
    report = (out / "report.md").read_text()
    assert "| demo | 100 | – | 50 | 41.7 [" in report
    assert "| gens | demo | budget forcing: cap | 3 | 50–300 | 67 | " in report
    assert_valid_png(out / "scaling.png")

    again = run_s1("bench", out, "--predictions", table)
    assert again.exit_code == 0 and "graded 0 samples (36 unchanged" in again.stderr


def test_n_takes_the_first_samples_and_is_never_silently_ignored(tmp_path):
    table = tmp_path / "gens.jsonl"
    write_table(table, [r for r in prediction_rows() if r["budget"] == 100])
    two = run_s1("bench", tmp_path / "two", "--predictions", table, "--n", "2")
    assert two.exit_code == 0, two.stderr
    (row,) = csv_rows(tmp_path / "two" / "summary.csv")
    assert row["n"] == 2 and row["samples"] == 6
    assert row["accuracy"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3, abs=1e-6)
    too_many = run_s1("bench", tmp_path / "five", "--predictions", table, "--n", "5")
    assert too_many.exit_code == 2
    assert too_many.stderr.strip() == (f"error: {table}: id 'q1' (task gens, budget 100) has 4 of the --n 5 "
                                       "samples (0 .. 4) needed")
    assert not (tmp_path / "five").exists()


def test_only_the_text_after_the_thinking_is_graded(tmp_path):
    table = tmp_path / "raw.jsonl"
    write_table(table, [
        {"id": "a", "answer": "2", "text": "<think>\nmaybe \\boxed{2}\n</think>\n\nSo \\boxed{3}"},
        {"id": "b", "answer": "2", "text": "<think>\nit is \\boxed{2}, let me check"},  # thinking never ended
        {"id": "c", "answer": "2", "text": "<think>\nhm\n</think>\n\n**2**"},
    ])
    split = run_s1("bench", tmp_path / "split", "--predictions", table, "--response-column", "text", "--split",
                   "--format", "r1", "--label", "raw")
    assert split.exit_code == 0, split.stderr
    rows = {r["id"]: r for r in read_rows(tmp_path / "split" / "samples.parquet")}
    assert (rows["a"]["pred"], rows["a"]["correct"]) == ("3", False)
    assert (rows["b"]["pred"], rows["b"]["correct"], rows["b"]["response"]) == (None, False, "")
    assert (rows["c"]["pred"], rows["c"]["correct"]) == ("2", True)
    (summary,) = csv_rows(tmp_path / "split" / "summary.csv")
    assert summary["no_answer"] == pytest.approx(1 / 3, abs=1e-6)
    # graded whole, the box inside the unfinished thinking would count: the pitfall --split avoids
    whole = run_s1("bench", tmp_path / "whole", "--predictions", table, "--response-column", "text")
    assert whole.exit_code == 0
    assert {r["id"]: r["correct"] for r in read_rows(tmp_path / "whole" / "samples.parquet")}["b"] is True


def test_references_can_come_from_the_tasks(tmp_path):
    gpqa = write_gpqa(tmp_path / "gpqa.csv")
    letters = {row["id"]: row["answer"] for row in load_gpqa(str(gpqa))}
    wrong = {"A": "B", "B": "C", "C": "D", "D": "A"}
    table = tmp_path / "preds.jsonl"
    write_table(table, [
        {"id": "rec000", "response": f"Answer: {letters['rec000']}"},
        {"id": "rec001", "response": f"The answer is ({letters['rec001']})."},
        {"id": "rec002", "response": rf"\boxed{{{wrong[letters['rec002']]}}}"},
        {"id": "rec003", "response": "Answer: right 3"},  # the choice's text, not its letter
        {"id": "other", "response": "Answer: A"},  # not in the task: left out
    ])
    result = run_s1("bench", tmp_path / "out", "--predictions", table, "--tasks", f"gpqa_diamond={gpqa}")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(tmp_path / "out" / "samples.parquet")
    assert [(r["id"], r["task"], r["correct"]) for r in rows] == [
        ("rec000", "gpqa_diamond", True), ("rec001", "gpqa_diamond", True), ("rec002", "gpqa_diamond", False),
        ("rec003", "gpqa_diamond", True)]
    assert rows[3]["pred"] == letters["rec003"]
    (summary,) = csv_rows(tmp_path / "out" / "summary.csv")
    assert summary["accuracy"] == pytest.approx(3 / 4, abs=1e-6) and summary["budget"] is None


def test_compare_overlays_runs_from_other_directories(tmp_path):
    table = tmp_path / "gens.jsonl"
    write_table(table, prediction_rows())
    other = tmp_path / "other.jsonl"
    write_table(other, [{**r, "response": r"\boxed{2}", "thinking_tokens": r["thinking_tokens"] * 2}
                        for r in prediction_rows()])
    assert run_s1("bench", tmp_path / "a", "--predictions", table, "--label", "alpha").exit_code == 0
    assert run_s1("bench", tmp_path / "b", "--predictions", other, "--label", "beta").exit_code == 0
    single = (tmp_path / "a" / "scaling.png").read_bytes()
    result = run_s1("bench", tmp_path / "cmp", "--compare", tmp_path / "a", "--compare", tmp_path / "b")
    assert result.exit_code == 0, result.stderr
    summary = csv_rows(tmp_path / "cmp" / "summary.csv")
    assert sorted({r["run"] for r in summary}) == ["alpha", "beta"] and len(summary) == 6
    assert not (tmp_path / "cmp" / "samples.parquet").exists()  # the runs stay in their own directories
    report = (tmp_path / "cmp" / "report.md").read_text()
    assert "- **alpha**: graded from" in report and "- **beta**: graded from" in report
    assert_valid_png(tmp_path / "cmp" / "scaling.png")
    assert (tmp_path / "cmp" / "scaling.png").read_bytes() != single
    # a run directory can also be re-reported with others overlaid
    overlay = run_s1("bench", tmp_path / "a", "--compare", tmp_path / "b")
    assert overlay.exit_code == 0 and "graded 0 samples" in overlay.stderr
    assert {r["run"] for r in csv_rows(tmp_path / "a" / "summary.csv")} == {"alpha", "beta"}
    # runs of the same name from two directories stay two runs
    assert run_s1("bench", tmp_path / "c", "--predictions", other, "--label", "alpha").exit_code == 0
    same = run_s1("bench", tmp_path / "same", "--compare", tmp_path / "a", "--compare", tmp_path / "c")
    assert same.exit_code == 0, same.stderr
    assert sorted({r["run"] for r in csv_rows(tmp_path / "same" / "summary.csv")}) == ["alpha", "alpha (c)"]
    missing = run_s1("bench", tmp_path / "cmp2", "--compare", tmp_path / "nowhere")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (f"error: {tmp_path}/nowhere/samples.parquet: no such file (--compare takes "
                                      "directories written by s1 bench)")


def test_grading_in_worker_processes_matches_the_main_thread():
    pairs = [json.loads(line) for line in (Path(__file__).parent / "data" / "answer_pairs.jsonl").read_text()
             .splitlines()]
    samples = [{"run": "r", "task": "t", "id": str(i), "sample": 0, "response": p["response"], "answer": p["gold"],
                "metadata": {"choices": p["choices"]} if "choices" in p else None} for i, p in enumerate(pairs)]
    in_workers, graded = lib.grade([dict(s) for s in samples], workers=2)
    assert graded == len([p for p in pairs if p["response"].strip()])
    assert [s["correct"] for s in in_workers] == [p["equivalent"] for p in pairs]
    assert [s["pred"] for s in in_workers] == [p["pred"] for p in pairs]


# ------------------------------------------------------------------------------------------ bad input


def one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {message}"]
    assert "Traceback" not in result.stderr


def test_an_unknown_task_is_one_line_and_writes_nothing(tmp_path):
    result = run_s1("bench", tmp_path / "out", "--model", "hf:models/none", "--tasks", "aime24,aime23")
    one_line_error(result, "unknown task 'aime23'; choose from aime24, aime25, math500, gpqa_diamond=FILE, or a "
                           "table with question and answer columns (FILE or NAME=FILE)")
    assert not (tmp_path / "out").exists()


def test_predictions_without_a_response_column(tmp_path):
    table = tmp_path / "preds.jsonl"
    write_table(table, [{"id": "1", "answer": "2", "output": r"\boxed{2}"}])
    result = run_s1("bench", tmp_path / "out", "--predictions", table)
    one_line_error(result, f"{table}:1: column 'response' is missing")
    assert not (tmp_path / "out").exists()
    mapped = run_s1("bench", tmp_path / "out", "--predictions", table, "--map", "response=output")
    assert mapped.exit_code == 0, mapped.stderr


def test_a_gpqa_file_with_a_missing_choice_names_file_row_and_column(tmp_path):
    gpqa = tmp_path / "gpqa.csv"
    gpqa.write_text("Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
                    "Pick,yes,no,maybe,never\n"
                    "\"Two\nlines\",up,down,,left\n", encoding="utf-8")
    result = run_s1("bench", tmp_path / "out", "--model", "hf:models/none", "--tasks", f"gpqa_diamond={gpqa}")
    one_line_error(result, f"{gpqa}:3: column 'incorrect_answer_2' (mapped from 'Incorrect Answer 2') is null")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "hf:x", "--predictions", "p.jsonl"], "--model and --predictions are two ways to get generations"),
    (["--model", "hf:x"], "--model needs --tasks"),
    (["--model", "x", "--tasks", "aime24"], "--model 'x': expected BACKEND:NAME"),
    (["--model", "hf:x", "--tasks", "aime24", "--budgets", "512,lots"], "'lots' is not a whole number of tokens"),
    (["--model", "hf:x", "--tasks", "aime24", "--budgets", "0"], "a budget must be at least 1 token"),
    (["--model", "hf:x", "--tasks", "aime24", "--num-waits", "1,1"], "--num-waits '1,1': 1 appears twice"),
    (["--model", "hf:x", "--tasks", "aime24", "--budgets", "64", "--min-thinking-tokens", "100"],
     "--min-thinking-tokens 100 exceeds --max-thinking-tokens 64"),
    (["--model", "hf:x", "--tasks", "aime24", "--subset", "level=5"], "task aime24 has no column or metadata field"),
    (["--model", "hf:x", "--tasks", "aime24", "--n", "0"], "--n must be at least 1"),
    ([], "nothing to do:"),
    (["--tasks", "aime24"], "--tasks needs --model (to generate) or --predictions (to grade)"),
])
def test_bad_options_are_one_line(tmp_path, args, message):
    result = run_s1("bench", tmp_path / "out", *args)
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and re.search(re.escape(message), result.stderr)
    assert not (tmp_path / "out").exists()
