"""Test-time scaling methods side by side (issue 18): majority voting against budget forcing, the paper's
length-control baselines (token-, step- and class-conditional prompts, rejection sampling), their
Control / Scaling / Performance per method, the report's ranking and parallel-against-sequential
table, the plots, resume across methods, and the one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s1cli import bench as lib
from s1cli.engines.base import Sampling
from s1cli.engines.hf import HFEngine
from s1cli.forcing import FORCED, FORCED_LENGTH, Budget
from s1cli.generation import GenerateSpec, Job, generate
from s1cli.length_control import instruction_for, parse_methods
from s1cli.metrics import Method, RunMetrics, maj_at_k, vote_of
from s1cli.report import parallel_vs_sequential, ranked
from s1cli.table import iter_rows, read_rows
from s1cli.thinking import FORMATS

from .conftest import run_s1
from .test_bench import assert_valid_png, csv_rows, without_seconds

QUESTIONS = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(1, 7)]


# ------------------------------------------------------------------------------------------ prompts


def test_each_prompted_method_states_its_budget_in_its_own_words():
    assert instruction_for("token-conditional", budget=2048).apply("Q?") == \
        "Q?\n\nThink for up to 2,048 tokens before you answer."
    steps = instruction_for("step-conditional+budget-forcing", budget=512, step_tokens=100)
    assert steps.apply("Q?") == "Q?\n\nThink in at most 5 steps of about 100 tokens each before you answer."
    assert instruction_for("step-conditional", budget=30, step_tokens=100).apply("Q?").count("at most 1 steps") == 1
    short, long = (instruction_for("class-conditional", length=k).apply("Q?") for k in ("short", "long"))
    assert short.startswith("Q?\n\nThink briefly") and long.startswith("Q?\n\nThink at length") and "token" not in short
    assert instruction_for("budget-forcing", budget=8) is None
    assert instruction_for("rejection-sampling", budget=8) is None
    versions = {instruction_for("token-conditional", budget=b).version for b in (8, 16)}
    assert len(versions) == 1 and versions.pop().startswith("length_tokens_v1@")  # the file, not the value


def test_methods_parse_in_order_and_refuse_unknown_or_repeated_names():
    assert parse_methods("majority-vote, budget-forcing") == ["majority-vote", "budget-forcing"]
    for text, message in (("best-of-n", "unknown method 'best-of-n'"), ("majority-vote,majority-vote", "twice"),
                          (",", "--methods is empty")):
        with pytest.raises(Exception, match=message):
            parse_methods(text)


def test_the_settings_each_method_needs():
    settings = lib.method_settings(["budget-forcing", "majority-vote", "class-conditional", "step-conditional",
                                    "rejection-sampling"], [8, None], [0], step_tokens=4, max_tries=3)
    slugs = [s.slug for s in settings]
    assert slugs == ["budget-8", "budget-none", "class-conditional-short", "class-conditional-long",
                     "rejection-sampling-budget-8-tries-3", "step-conditional-budget-8-steps-of-4"]
    assert slugs.count("budget-none") == 1  # budget forcing's baseline is majority voting's samples too


# ------------------------------------------------------------------------------------------ generation


class Recording(HFEngine):
    """The real HF engine, keeping the prompts it was given (to read what a method asked)."""

    seen: list[list[int]]

    def stream(self, requests, *args, **kwargs):
        self.seen = getattr(self, "seen", []) + [list(r.prompt_ids) for r in requests]
        return super().stream(requests, *args, **kwargs)


def test_a_prompted_method_sends_its_instruction_and_records_it(tiny_model):
    engine = Recording.load(str(tiny_model), dtype="float32")
    instruction = instruction_for("token-conditional", budget=96)
    # capped, as with +budget-forcing: the random model would think on to its last position
    spec = GenerateSpec(model="hf:tiny", fmt=FORMATS["s1"], budget=Budget(max_thinking_tokens=8, max_answer_tokens=4),
                        method="token-conditional", instruction=instruction, batch_size=4)
    (row,) = list(generate(engine, [Job(QUESTIONS[0], 0)], spec))
    prompt = engine.tokenizer.decode(engine.seen[0])
    assert "What is 1 + 1?\n\nThink for up to 96 tokens before you answer." in prompt
    assert (row["method"], row["prompt_version"]) == ("token-conditional", instruction.version)


def rejection_rows(model: Path, max_tries: int) -> list[dict]:
    engine = HFEngine.load(str(model), dtype="float32")
    spec = GenerateSpec(model="hf:stopper", fmt=FORMATS["s1"],
                        budget=Budget(max_thinking_tokens=4, max_answer_tokens=4),
                        sampling=Sampling(temperature=1.0, seed=3), n=4, batch_size=8, method="rejection-sampling",
                        max_tries=max_tries)
    jobs = [Job(q, s) for s in range(4) for q in QUESTIONS]
    try:
        rows = [{k: v for k, v in row.items() if k != "seconds"} for row in generate(engine, jobs, spec)]
        return sorted(rows, key=lambda r: (r["id"], r["sample"]))  # the streaming engine yields as rows finish
    finally:
        engine.close()


def test_rejection_sampling_draws_until_the_thinking_ends_within_the_cap(stopper_model):
    rows = rejection_rows(stopper_model, max_tries=3)
    assert len(rows) == 24 and all(1 <= r["tries"] <= 3 for r in rows)
    accepted = [r for r in rows if r["accepted"]]
    assert accepted and all(r["thinking_tokens"] <= 4 and r["finish"] not in (FORCED, FORCED_LENGTH) for r in accepted)
    assert any(r["tries"] > 1 for r in accepted), "no sample needed a second draw: the test shows nothing"
    given_up = [r for r in rows if not r["accepted"]]
    assert all(r["tries"] == 3 and r["response"] == "" and r["response_tokens"] == 0 for r in given_up)
    # the first draw is the plain sample (same random stream); one draw is budget forcing itself
    once = rejection_rows(stopper_model, max_tries=1)
    for first, plain in zip(rows, once, strict=True):
        if first["tries"] == 1:
            assert first["thinking"] == plain["thinking"] and first["response"] == plain["response"]
    assert rows == rejection_rows(stopper_model, max_tries=3)  # seeded: the same draws again


# ------------------------------------------------------------------------------------------ bench


def graded(out: Path) -> list[dict]:
    """samples.parquet: every graded sample (a question's sample 0 once per setting)."""
    return list(iter_rows(out / "samples.parquet", unique=False))


def write_questions(path: Path) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    return path


ALL = "budget-forcing,majority-vote,token-conditional,step-conditional+budget-forcing,class-conditional," \
      "rejection-sampling"


def bench(out: Path, model: Path, tasks: Path, *extra: str):
    result = run_s1("bench", out, "--model", f"hf:{model}", "--tasks", f"toy={tasks}", "--budgets", "4,8",
                    "--temperature", "1", "--max-answer-tokens", "4", "--label", "stopper", "--bootstrap", "0",
                    "--batch-size", "8", *extra)
    assert result.exit_code == 0, result.stderr
    return result


def test_every_method_in_one_run_directory(tmp_path, stopper_model):
    tasks = write_questions(tmp_path / "toy.jsonl")
    out = tmp_path / "run"
    bench(out, stopper_model, tasks, "--methods", ALL, "--votes", "4", "--max-tries", "3", "--step-tokens", "2")
    names = sorted(p.name for p in (out / "generations" / "toy").iterdir())
    assert names == ["budget-4.jsonl", "budget-8.jsonl", "budget-none.jsonl", "class-conditional-long.jsonl",
                     "class-conditional-short.jsonl", "rejection-sampling-budget-4-tries-3.jsonl",
                     "rejection-sampling-budget-8-tries-3.jsonl",
                     "step-conditional+budget-forcing-budget-4-steps-of-2.jsonl",
                     "step-conditional+budget-forcing-budget-8-steps-of-2.jsonl",
                     "token-conditional-budget-4.jsonl", "token-conditional-budget-8.jsonl"]
    assert len(read_rows(out / "generations/toy/budget-none.jsonl")) == 6 * 4  # --votes samples
    assert len(read_rows(out / "generations/toy/budget-4.jsonl")) == 6  # --n stays 1 elsewhere
    step_rows = read_rows(out / "generations/toy/step-conditional+budget-forcing-budget-4-steps-of-2.jsonl")
    assert all(r["thinking_tokens"] <= 4 and r["prompt_version"].startswith("length_steps_v1@") for r in step_rows)

    methods = {row["method"]: row for row in csv_rows(out / "scaling.csv")}
    assert set(methods) == {"cap", "unforced", "majority-vote", "token-conditional",
                            "step-conditional+budget-forcing", "class-conditional", "rejection-sampling"}
    assert methods["rejection-sampling"]["control"] == 1 and methods["step-conditional+budget-forcing"]["control"] == 1
    assert methods["majority-vote"]["control"] is None and methods["majority-vote"]["settings"] == 3  # k = 1, 2, 4

    # majority voting: k samples at k times a sample's thinking, scored by maj@k over blocks of k
    samples = [r for r in graded(out) if r["method"] == "budget-forcing" and r["budget"] is None]
    mean = sum(r["thinking_tokens"] for r in samples) / len(samples)
    results = json.loads((out / "results.json").read_text())
    (vote,) = [m for m in results["methods"] if m["method"] == "majority-vote"]
    assert [p["note"] for p in vote["points"]] == ["k=1", "k=2", "k=4"]
    assert [p["thinking_tokens"] for p in vote["points"]] == pytest.approx([mean, 2 * mean, 4 * mean])
    by_question: dict[str, list] = {}
    for r in sorted(samples, key=lambda r: r["sample"]):
        by_question.setdefault(r["id"], []).append(vote_of(r["pred"], r["correct"]))
    maj2 = sum(maj_at_k(votes, 2) for votes in by_question.values()) / len(by_question)
    assert vote["points"][1]["accuracy"] == pytest.approx(maj2)

    # rejection sampling's samples record their draws; a sample none of whose draws fit has no answer
    rejected = [r for r in graded(out) if r["method"] == "rejection-sampling"]
    assert all(r["thinking_tokens"] <= r["budget"] and r["response"] != "" for r in rejected if r["accepted"])
    assert all(not r["correct"] for r in rejected if not r["accepted"])

    report = (out / "report.md").read_text()
    assert "## Control, Scaling, Performance per method (s1 paper §3.2), ranked" in report
    assert "| 1 | toy | stopper |" in report
    assert "## Parallel against sequential scaling at matched thinking tokens" in report
    assert "![majority voting against budget forcing](parallel.png)" in report
    assert len(results["parallel_vs_sequential"]) == 3
    assert all(r["budget_forcing"].split()[0] in ("cap", "wait", "unforced")
               for r in results["parallel_vs_sequential"])
    assert_valid_png(out / "scaling.png")
    assert_valid_png(out / "parallel.png")

    # a rerun finds every sample of every method, and writes the same tables
    before = {p: (out / p).read_bytes() for p in ("scaling.csv", "summary.csv", "results.json", "report.md")}
    again = bench(out, stopper_model, tasks, "--methods", ALL, "--votes", "4", "--max-tries", "3",
                  "--step-tokens", "2")
    assert "nothing to generate" in again.stderr
    assert before == {p: (out / p).read_bytes() for p in before}


def test_an_interrupted_method_resumes_to_the_same_rows(tmp_path, stopper_model):
    tasks = write_questions(tmp_path / "toy.jsonl")
    out = tmp_path / "run"
    common = ("--methods", "rejection-sampling,class-conditional", "--max-tries", "3", "--n", "2")
    bench(out, stopper_model, tasks, *common)
    files = ["rejection-sampling-budget-4-tries-3.jsonl", "class-conditional-short.jsonl"]
    whole = {name: without_seconds(out / "generations/toy" / name) for name in files}
    for name in files:  # as if killed after three rows of each
        path = out / "generations/toy" / name
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:3]))
    result = bench(out, stopper_model, tasks, *common)
    assert "generating" in result.stderr
    for name in files:
        resumed = without_seconds(out / "generations/toy" / name)
        key = lambda r: (r["id"], r["sample"])  # noqa: E731
        assert sorted(resumed, key=key) == sorted(whole[name], key=key)


def test_compare_overlays_the_methods_of_two_runs(tmp_path, stopper_model):
    tasks = write_questions(tmp_path / "toy.jsonl")
    bench(tmp_path / "a", stopper_model, tasks, "--methods", "budget-forcing,majority-vote", "--votes", "2")
    bench(tmp_path / "b", stopper_model, tasks, "--methods", "token-conditional", "--label", "prompted")
    result = run_s1("bench", tmp_path / "a", "--compare", tmp_path / "b")
    assert result.exit_code == 0, result.stderr
    methods = {(row["run"], row["method"]) for row in csv_rows(tmp_path / "a" / "scaling.csv")}
    assert {("stopper", "majority-vote"), ("prompted", "token-conditional"), ("stopper", "cap")} <= methods
    assert_valid_png(tmp_path / "a" / "parallel.png")


@pytest.mark.parametrize(("args", "message"), [
    (("--methods", "token-conditional", "--budgets", "none"), "--methods token-conditional needs numeric --budgets"),
    (("--methods", "majority-vote", "--temperature", "0"), "with --temperature 0 they are all the same"),
    (("--methods", "rejection-sampling", "--budgets", "8", "--temperature", "0"), "every draw is the same"),
    (("--methods", "majority-vote", "--num-waits", "0,2", "--temperature", "1"), "add budget-forcing to --methods"),
    (("--methods", "greedy-search",), "unknown method 'greedy-search'"),
])
def test_method_options_that_cannot_work_are_one_line(tmp_path, tiny_model, args, message):
    tasks = write_questions(tmp_path / "toy.jsonl")
    result = run_s1("bench", tmp_path / "out", "--model", f"hf:{tiny_model}", "--tasks", f"toy={tasks}", *args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line


# ------------------------------------------------------------------------------------------ metrics


def run(method: str, budget, tokens: float, accuracy: float, *, n: int = 1, length=None, maj=None):
    metrics = RunMetrics(questions=10, samples=10 * n, n=n, accuracy=accuracy, interval=None, maj_at=maj or {},
                         thinking_tokens=tokens)
    return lib.RunSummary("m", None, "t", budget, 0, metrics, method, length)


def test_class_conditional_control_is_judged_against_the_unforced_thinking():
    runs = [run("budget-forcing", None, 100, 0.5), run("class-conditional", None, 60, 0.4, length="short"),
            run("class-conditional", None, 90, 0.45, length="long")]
    by_kind = {m.method.kind: m for m in lib.method_summaries(runs)}
    # short thought less than unprompted (within), long did not think more (outside): half the settings
    assert by_kind["class-conditional"].metrics.control == 0.5
    assert [p.note for p in by_kind["class-conditional"].points] == ["short", "long"]
    # without the unforced run there is nothing to judge it by
    (alone,) = lib.method_summaries(runs[1:])
    assert alone.metrics.control is None and alone.metrics.performance == 0.45


def test_methods_rank_by_control_then_scaling_then_performance_and_votes_meet_their_nearest_forcing():
    runs = [run("budget-forcing", 100, 90, 0.3), run("budget-forcing", 400, 380, 0.6),
            run("budget-forcing", None, 200, 0.5, n=4, maj={2: 0.55, 4: 0.6}),
            run("token-conditional", 100, 250, 0.5), run("token-conditional", 400, 300, 0.4)]
    methods = lib.method_summaries(runs)
    order = [m.method.kind for _, m in ranked(methods)]
    assert order == ["cap", "token-conditional", "majority-vote", "unforced"]  # control 1, 0.5, then none
    assert [m.method for m in methods if m.method.kind == "majority-vote"] == [Method("majority-vote")]
    rows = parallel_vs_sequential(methods)
    assert [(r["k"], r["thinking_tokens"], r["majority_accuracy"]) for r in rows] == \
        [("1", 200, 0.5), ("2", 400, 0.55), ("4", 800, 0.6)]
    assert [r["budget_forcing"] for r in rows] == ["cap 100", "cap 400", "cap 400"]  # caps and waits only


# ------------------------------------------------------------------------------------------ generate


def test_generate_runs_one_setting_of_a_method(tmp_path, stopper_model):
    questions = write_questions(tmp_path / "q.jsonl")
    common = ("--model", f"hf:{stopper_model}", "--temperature", "1", "--max-answer-tokens", "4", "--n", "2")
    result = run_s1("generate", questions, tmp_path / "rs.jsonl", *common, "--method", "rejection-sampling",
                    "--max-thinking-tokens", "4", "--max-tries", "3")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(tmp_path / "rs.jsonl")
    assert len(rows) == 12 and {r["method"] for r in rows} == {"rejection-sampling"}
    assert all(r["thinking_tokens"] <= 4 and r["response"] != "" for r in rows if r["accepted"])
    assert all(r["tries"] == 3 and r["response"] == "" for r in rows if not r["accepted"])
    result = run_s1("generate", questions, tmp_path / "short.jsonl", *common, "--method", "class-conditional",
                    "--length", "short")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(tmp_path / "short.jsonl")
    assert {r["prompt_version"].split("@")[0] for r in rows} == {"length_short_v1"} and "tries" not in rows[0]


@pytest.mark.parametrize(("args", "message"), [
    (("--method", "token-conditional"), "--method token-conditional needs --max-thinking-tokens"),
    (("--method", "class-conditional"), "--length short|long goes with --method class-conditional"),
    (("--length", "short"), "--length short|long goes with --method class-conditional"),
    (("--method", "majority-vote"), "majority voting is --n samples"),
    (("--method", "step-conditional", "--max-thinking-tokens", "8", "--num-waits", "2"), "are budget forcing's"),
])
def test_generate_method_options_that_cannot_work_are_one_line(tmp_path, tiny_model, args, message):
    questions = write_questions(tmp_path / "q.jsonl")
    result = run_s1("generate", questions, tmp_path / "out.jsonl", "--model", f"hf:{tiny_model}", *args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "out.jsonl").exists()
