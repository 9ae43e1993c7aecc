"""`s1 generate` on hosted chat models, end to end against a real HTTP server on 127.0.0.1
(fakes/anthropic_api.py) that speaks the Anthropic Messages API with extended thinking, Message
Batches, and OpenAI-compatible chat with reasoning_content / reasoning / <think> tags and Gemini's
thinking_config with <thought> tags: the columns each wire format fills, every row answered once
through injected faults, a killed run and a --max-cost stop resumed with no paid call repeated,
batches, the dry run, the key written nowhere, and the options refused for hosted models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.anthropic_api import KEY, FakeAPI, Fault, default_thinking
from s1cli.hosted_generation import split_thought_tags, thinking_api
from s1cli.refs import ModelRef
from s1cli.table import read_rows, write_table
from s1cli.tokens import load_counter

from .conftest import kill_after_answers, run_s1, subprocess_env

CLAUDE = "claude-sonnet-4-6"  # priced in the built-in table ($3 / $15 per million tokens)
QUESTIONS = ["What is 1 + 1?", "Sum the integers 1..100.", "Let x = 3. Find x^2. <<redacted>>",
             "How many primes are below 30?", "Simplify 6/8. <<length>>", "What is 7 * 6?"]
COUNTER = load_counter("tiktoken:cl100k_base")


def answer(prompt: str, turns: int) -> str:
    """The fake model's scripted answer: a boxed number that depends on the question."""
    return f"So the answer is $\\boxed{{{len(prompt) % 97}}}$."


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeAPI(reply=answer) as server:
        yield server


@pytest.fixture
def questions(tmp_path) -> Path:
    path = tmp_path / "questions.jsonl"
    write_table(path, [{"id": f"q{i}", "question": q, "answer": str(i)} for i, q in enumerate(QUESTIONS)])
    return path


def claude_args(api: FakeAPI, tmp_path: Path, *extra: str) -> list[str]:
    return ["--model", f"anthropic:{CLAUDE}", "--base-url", api.url, "--cache", str(tmp_path / "cache" / "llm.sqlite"),
            "--backoff", "0.01", "--timeout", "2", "--poll-interval", "0.01", *extra]


def chat_args(api: FakeAPI, tmp_path: Path, model: str = "deepseek-reasoner", *extra: str) -> list[str]:
    return ["--model", f"openai-chat:{model}", "--base-url", f"{api.url}/v1",
            "--cache", str(tmp_path / "cache" / "llm.sqlite"), "--backoff", "0.01", "--timeout", "2", *extra]


def priced(usage: list[tuple[int, int]], scale: float = 1.0) -> float:
    return scale * sum(i * 3.0 + o * 15.0 for i, o in usage) / 1e6


def by_key(rows: list[dict]) -> dict[tuple, dict]:
    return {(r["id"], r["sample"]): r for r in rows}


# -- wire formats -----------------------------------------------------------------------------------


def test_claude_thinking_blocks_become_the_thinking_column_and_reruns_cost_nothing(api, questions, tmp_path):
    out = tmp_path / "claude.jsonl"
    done = run_s1("generate", questions, out, *claude_args(api, tmp_path, "--max-thinking-tokens", "2000",
                                                           "--n", "2", "--concurrency", "3"))
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert sorted(by_key(rows)) == sorted((f"q{i}", s) for i in range(6) for s in range(2))
    assert len(api.calls) == 12 and set(api.answered.values()) == {2}  # each question once per sample
    body = api.calls[0]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000} and body["max_tokens"] == 2000 + 1024
    assert "temperature" not in body and "top_p" not in body  # with thinking, Claude takes only its defaults
    for row in rows:
        assert (row["model"], row["budget"], row["forcing"], row["waits"]) == (f"anthropic:{CLAUDE}", 2000,
                                                                               "api-budget", 0)
        question = row["question"]
        if "<<length>>" in question:  # cut off while thinking: no answer, finish length
            assert row["finish"] == "length" and row["response"] == ""
            assert row["thinking"] == default_thinking(question)[: len(default_thinking(question)) // 2]
        else:
            assert row["finish"] == "stop" and row["response"] == answer(question, 1)
            assert row["thinking"] == default_thinking(question)
        assert row["thinking_redacted"] == (1 if "<<redacted>>" in question else 0)
        assert "RU5DUllQVEVE" not in row["thinking"]  # the redacted block's data is never shown
        assert row["token_source"] == "tiktoken:cl100k_base"  # Claude reports no thinking count
        assert row["thinking_tokens"] == COUNTER.count(row["thinking"])
        assert row["response_tokens"] == COUNTER.count(row["response"])
        assert row["seconds"] is not None and row["seconds"] >= 0
    assert sum(r["input_tokens"] for r in rows) == sum(i for i, _ in api.usage)
    assert sum(r["output_tokens"] for r in rows) == sum(o for _, o in api.usage)
    cost = json.loads((tmp_path / "claude.cost.json").read_text())
    assert cost["runs"][0]["status"] == "completed" and cost["runs"][0]["rows_generated"] == 12
    assert cost["total_cost_usd"] == pytest.approx(priced(api.usage), abs=1e-6)

    again = run_s1("generate", questions, out, *claude_args(api, tmp_path, "--max-thinking-tokens", "2000",
                                                            "--n", "2"))
    assert again.exit_code == 0 and "resuming: 12 of 12 rows" in again.stderr and len(api.calls) == 12
    fresh = tmp_path / "fresh.jsonl"  # another output: every reply from the cache, at no cost
    copy = run_s1("generate", questions, fresh, *claude_args(api, tmp_path, "--max-thinking-tokens", "2000",
                                                             "--n", "2"))
    assert copy.exit_code == 0 and len(api.calls) == 12
    cached = by_key(read_rows(fresh))
    assert all(cached[k]["thinking"] == r["thinking"] and cached[k]["thinking_redacted"] == r["thinking_redacted"]
               and cached[k]["finish"] == r["finish"] and cached[k]["seconds"] is None
               for k, r in by_key(rows).items())
    assert json.loads((tmp_path / "fresh.cost.json").read_text())["runs"][0]["models"][0]["cached"] == 12


def test_claude_without_a_budget_answers_without_thinking(api, questions, tmp_path):
    out = tmp_path / "plain.jsonl"
    done = run_s1("generate", questions, out, *claude_args(api, tmp_path, "--max-answer-tokens", "300",
                                                           "--temperature", "0"))
    assert done.exit_code == 0, done.stderr
    assert "thinking" not in api.calls[0] and api.calls[0]["max_tokens"] == 300 and api.calls[0]["temperature"] == 0
    rows = read_rows(out)
    assert all(r["forcing"] == "none" and r["budget"] is None and r["thinking"] == "" for r in rows)


@pytest.mark.parametrize(("style", "reported"), [("reasoning_content", True), ("reasoning", True),
                                                 ("think-tags", False), ("reasoning_content", False)])
def test_openai_chat_thinking_and_its_token_counts(api, questions, tmp_path, style, reported):
    api.chat_reasoning, api.report_reasoning_tokens = style, reported
    out = tmp_path / "r1.jsonl"
    done = run_s1("generate", questions, out, *chat_args(api, tmp_path, "deepseek-reasoner", "--max-tokens", "8000",
                                                         "--seed", "5", "--n", "2"))
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert len(rows) == 12 and len(api.calls) == 12
    assert all(p == "POST /v1/chat/completions" for p in api.paths)
    bodies = {(b["messages"][0]["content"], b["seed"]) for b in api.calls}
    assert len(bodies) == 12  # a given --seed becomes one seed per (id, sample)
    assert all(b["max_tokens"] == 8000 and "temperature" not in b and "extra_body" not in b for b in api.calls)
    for row in rows:
        question = row["question"]
        thought = default_thinking(question)
        if "<<length>>" in question:
            assert row["finish"] == "length" and row["response"] == ""
            assert row["thinking"].strip() == thought[: len(thought) // 2].strip()
        else:
            assert row["finish"] == "stop" and row["response"] == answer(question, 1)
            assert row["thinking"].strip() == thought
        assert row["forcing"] == "none" and row["budget"] is None and row["thinking_redacted"] == 0
        if reported:
            assert row["token_source"] == "api"
            assert row["thinking_tokens"] + row["response_tokens"] == row["output_tokens"]
        else:
            assert row["token_source"] == "tiktoken:cl100k_base"
            assert row["thinking_tokens"] == COUNTER.count(row["thinking"])


def test_gemini_thinking_budget_goes_as_thinking_config_and_thoughts_are_split_off(api, questions, tmp_path):
    out = tmp_path / "gemini.jsonl"
    done = run_s1("generate", questions, out, *chat_args(api, tmp_path, "gemini-2.5-flash", "--thinking-api",
                                                         "gemini", "--max-thinking-tokens", "512",
                                                         "--temperature", "0.6"))
    assert done.exit_code == 0, done.stderr
    body = api.calls[0]
    assert body["extra_body"] == {"google": {"thinking_config": {"thinking_budget": 512, "include_thoughts": True}}}
    assert body["max_tokens"] == 512 + 1024 and body["temperature"] == 0.6
    for row in read_rows(out):
        assert row["forcing"] == "api-budget" and row["budget"] == 512
        assert "<thought>" not in row["response"] and "</thought>" not in row["response"]
        if "<<length>>" not in row["question"]:
            assert row["thinking"] == default_thinking(row["question"])
            assert row["response"] == answer(row["question"], 1)


def test_which_thinking_api_and_how_tags_split():
    gemini = "https://generativelanguage.googleapis.com/v1beta/openai/"
    assert thinking_api(ModelRef("openai", "gemini-2.5-pro"), gemini, "auto") == "gemini"
    assert thinking_api(ModelRef("openai", "deepseek-reasoner"), "https://api.deepseek.com", "auto") == "none"
    assert thinking_api(ModelRef("anthropic", CLAUDE), None, "auto") == "anthropic"
    assert split_thought_tags("<think>\nplan\n</think>\n\nAnswer 4") == ("plan", "Answer 4")
    assert split_thought_tags("<thought>plan</thought>Answer") == ("plan", "Answer")
    assert split_thought_tags("plan it\n</think>\nAnswer") == ("plan it", "Answer")  # R1 opens <think> in the prompt
    assert split_thought_tags("<think>still going") == ("still going", "")  # cut off while thinking
    assert split_thought_tags("Just an answer") == ("", "Just an answer")


def test_openai_own_endpoint_gets_max_completion_tokens(api, questions, tmp_path):
    from s1cli.hosted_generation import HostedSpec

    spec = HostedSpec("openai-chat:o4-mini", ModelRef("openai", "o4-mini"), max_tokens=4000)
    params = spec.params("q1", 0)
    assert params == {"max_completion_tokens": 4000}
    from s1cli.llm.openai import OpenAIChatBackend

    body = OpenAIChatBackend.body(spec.request({"id": "q1", "sample": 0, "question": "hi"}))
    assert "max_tokens" not in body and body["max_completion_tokens"] == 4000


# -- faults, kills, the spending cap, batches -------------------------------------------------------


def test_faults_are_retried_and_every_row_is_paid_once(api, questions, tmp_path):
    api.fail(Fault("status", 429, {"retry-after": "0"}), Fault("status", 529), Fault("status", 500), Fault("drop"),
             Fault("empty"))
    out = tmp_path / "g.jsonl"
    done = run_s1("generate", questions, out, *claude_args(api, tmp_path, "--max-thinking-tokens", "1024",
                                                           "--concurrency", "1"))
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(6)]  # every row, once, in input order
    assert len(api.calls) == 6 + 5 and set(api.answered.values()) == {1}
    events = [json.loads(line) for line in (tmp_path / "g.llm-log.jsonl").read_text().splitlines()]
    outcomes = [e["outcome"] for e in events]
    assert outcomes.count("retry") == 5 and outcomes.count("ok") == 6
    assert any("empty" in e.get("error", "") or "unreadable" in e.get("error", "") for e in events)
    model = json.loads((tmp_path / "g.cost.json").read_text())["runs"][0]["models"][0]
    assert model["requests"] == 6 and model["output_tokens"] == sum(o for _, o in api.usage)  # cost counted once


def test_faults_on_the_chat_api_are_retried_too(api, questions, tmp_path):
    api.chat_reasoning = "reasoning_content"
    api.fail(Fault("empty"), Fault("status", 503), Fault("drop"))
    done = run_s1("generate", questions, tmp_path / "c.jsonl", *chat_args(api, tmp_path, "deepseek-reasoner",
                                                                         "--concurrency", "2"))
    assert done.exit_code == 0, done.stderr
    assert len(read_rows(tmp_path / "c.jsonl")) == 6 and set(api.answered.values()) == {1}


def test_a_killed_run_resumes_without_repeating_a_paid_call(api, questions, tmp_path):
    out = tmp_path / "killed.jsonl"
    # answered 3 times, then killed while later calls hang
    command = ["generate", questions, out,
               *claude_args(api, tmp_path, "--max-thinking-tokens", "1024", "--concurrency", "2")]
    kill_after_answers(api, command, 3)
    paid = set(api.answered)
    assert len(paid) == 3
    api.release()
    done = run_s1("generate", questions, out, *claude_args(api, tmp_path, "--max-thinking-tokens", "1024"))
    assert done.exit_code == 0, done.stderr
    assert all(api.answered[d] == 1 for d in paid)  # nothing paid for was asked again
    assert sorted(r["id"] for r in read_rows(out)) == [f"q{i}" for i in range(6)]


def test_max_cost_stops_before_the_cap_and_a_higher_cap_finishes(api, questions, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"openai:deepseek-reasoner": [1000, 1000]}))  # about $0.1 a call at most
    api.chat_reasoning = "reasoning_content"
    out = tmp_path / "g.jsonl"
    args = chat_args(api, tmp_path, "deepseek-reasoner", "--prices", str(prices), "--max-tokens", "64",
                     "--concurrency", "2", "--n", "2")
    done = run_s1("generate", questions, out, *args, "--max-cost", "0.5")
    assert done.exit_code == 2
    assert "stopped before --max-cost 0.5 USD" in done.stderr and "rows left ungenerated" in done.stderr
    cost = json.loads((tmp_path / "g.cost.json").read_text())
    assert 0 < cost["total_cost_usd"] <= 0.5 and cost["runs"][0]["status"] == "stopped"
    written, calls = len(read_rows(out)), len(api.calls)
    assert 0 < written < 12 and calls < 12
    rest = run_s1("generate", questions, out, *args, "--max-cost", "5")
    assert rest.exit_code == 0, rest.stderr
    assert len(read_rows(out)) == 12 and len(api.calls) == 12  # both runs together: each (row, sample) once


def test_batches_resubmit_failures_at_half_price_and_resume(api, questions, tmp_path):
    seen: list[str] = []

    def outcome(custom_id: str, submission: int) -> str:
        seen.append(custom_id)
        return "errored:overloaded_error" if submission == 0 and len(seen) % 3 == 1 else "succeeded"

    api.batch_outcome, api.batch_polls = outcome, 2
    out = tmp_path / "b.parquet"
    args = claude_args(api, tmp_path, "--max-thinking-tokens", "4000", "--n", "2", "--message-batches")
    done = run_s1("generate", questions, out, *args)
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert sorted(by_key(rows)) == sorted((f"q{i}", s) for i in range(6) for s in range(2))
    assert not api.calls  # everything through batches
    assert len(api.submissions) == 12 and max(api.submissions.values()) == 2  # samples are separate requests
    assert all(r["thinking"] and r["seconds"] is None and r["forcing"] == "api-budget" for r in rows)
    assert sum(r["thinking_redacted"] for r in rows) == 2
    model = json.loads((tmp_path / "b.cost.json").read_text())["runs"][0]["models"][0]
    assert model["requests"] == model["batch_requests"] == 12
    assert model["cost_usd"] == pytest.approx(priced(api.usage, 0.5), abs=1e-6)
    batches = len(api.batches)
    again = run_s1("generate", questions, tmp_path / "again.jsonl", *args)
    assert again.exit_code == 0 and len(api.batches) == batches  # all cached: nothing submitted


def test_dry_run_counts_calls_and_sends_nothing(api, questions, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    out = tmp_path / "g.jsonl"
    args = claude_args(api, tmp_path, "--max-thinking-tokens", "2000", "--n", "3")
    done = run_s1("generate", questions, out, *args, "--dry-run")
    assert done.exit_code == 0, done.stderr
    assert "would send 18 calls" in done.stderr and "nothing sent" in done.stderr
    assert not api.paths and not out.exists()
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert run_s1("generate", questions, out, *args).exit_code == 0
    again = run_s1("generate", questions, tmp_path / "h.jsonl", *args, "--dry-run", "--message-batches")
    assert "would send 0 calls" in again.stderr and "(batch prices)" in again.stderr


def test_the_api_key_is_written_nowhere(api, questions, tmp_path):
    api.fail(Fault("status", 500))
    direct = run_s1("generate", questions, tmp_path / "d.jsonl", *claude_args(api, tmp_path, "--max-thinking-tokens",
                                                                             "1024"))
    batched = run_s1("generate", questions, tmp_path / "b.parquet",
                     *claude_args(api, tmp_path, "--max-thinking-tokens", "1024", "--message-batches"),
                     "--cache", str(tmp_path / "cache2" / "llm.sqlite"))
    api.chat_reasoning = "think-tags"
    chat = run_s1("generate", questions, tmp_path / "c.jsonl", *chat_args(api, tmp_path))
    assert direct.exit_code == batched.exit_code == chat.exit_code == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"d.jsonl", "d.cost.json", "d.llm-log.jsonl", "llm.sqlite", "b.parquet",
                                       "b.batches.json", "c.jsonl", "c.llm-log.jsonl"}
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    for result in (direct, batched, chat):
        assert KEY not in result.stdout + result.stderr


def test_a_wrong_key_stops_the_run_with_one_line(api, questions, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-wrong-key-0123456789")
    done = run_s1("generate", questions, tmp_path / "g.jsonl", *claude_args(api, tmp_path))
    assert done.exit_code != 0
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: anthropic:{CLAUDE}: HTTP 401")
    assert "sk-wrong-key" not in done.stderr


# -- what hosted models cannot do: one line, exit 2, nothing written or sent -------------------------

REFUSED = [
    (["--num-waits", "2"], "--num-waits: anthropic:claude-sonnet-4-6 is a hosted API, whose thinking can only be "
                           "capped by its own budget (--max-thinking-tokens); to extend or force thinking exactly use "
                           "--model openai:NAME with --base-url (a completions server), hf: or vllm:"),
    (["--min-thinking-tokens", "100"], "--min-thinking-tokens: anthropic:claude-sonnet-4-6 is a hosted API"),
    (["--answer-prefix", "Final Answer:"], "--answer-prefix applies to local engines and openai: completions "
                                           "servers (hf:, vllm:, openai:), not anthropic:claude-sonnet-4-6"),
    (["--format", "r1"], "--format applies to local engines"),
    (["--max-thinking-tokens", "512"], "--max-thinking-tokens 512: Claude's extended thinking takes a budget of at "
                                       "least 1024 tokens (the API's minimum)"),
    (["--max-thinking-tokens", "2000", "--max-tokens", "1500"],
     "--max-tokens 1500 must be above --max-thinking-tokens 2000: the API's max_tokens covers the thinking and the "
     "answer"),
    (["--max-thinking-tokens", "2000", "--temperature", "0.7"],
     "--temperature 0.7: Claude with extended thinking samples at temperature 1 only; leave --temperature out"),
    (["--max-thinking-tokens", "2000", "--top-p", "0.5"],
     "--top-p 0.5: Claude with extended thinking takes top_p from 0.95 to 1 only"),
    (["--seed", "3"], "--seed: the Anthropic API takes no seed"),
    (["--reasoning-effort", "high"], "--reasoning-effort applies to openai-chat: models"),
    (["--message-batches", "--model", "openai-chat:deepseek-reasoner"],
     "--message-batches works with anthropic models only (OpenAI-compatible models are called directly)"),
    (["--model", "openai-chat:deepseek-reasoner", "--max-thinking-tokens", "4000"],
     "--max-thinking-tokens: openai-chat:deepseek-reasoner has no thinking budget parameter s1 knows"),
    (["--model", "openai-chat:gemini-2.5-pro", "--thinking-api", "gemini", "--max-thinking-tokens", "100",
      "--reasoning-effort", "low"], "--reasoning-effort and --max-thinking-tokens both set how much the model thinks"),
    (["--model", "gemini:pro"], "--model 'gemini:pro': expected BACKEND:NAME with BACKEND one of hf, vllm, openai, "
                                "anthropic, openai-chat"),
    (["--model", "hf:models/nowhere", "--max-cost", "1"],
     "--max-cost applies to hosted chat models (anthropic:MODEL, openai-chat:MODEL), not hf:models/nowhere"),
    (["--model", "openai:s1", "--dry-run"], "--dry-run applies to hosted chat models"),
    (["--model", "hf:models/nowhere", "--thinking-api", "gemini"], "--thinking-api applies to hosted chat models"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED, ids=[m[:48] for _, m in REFUSED])
def test_what_a_hosted_model_cannot_do_is_one_line(api, questions, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("S1_CACHE_DIR", str(tmp_path / "cache"))  # not --cache: a local engine refuses that too
    out = tmp_path / "out.jsonl"
    done = run_s1("generate", questions, out, "--model", f"anthropic:{CLAUDE}", "--base-url", api.url, *args)
    assert done.exit_code == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert not out.exists() and not api.paths


def test_every_refused_option_is_an_option_of_generate():
    import typer

    from s1cli.cli import app
    from s1cli.commands.generate import ENGINE_ONLY, FORCING_ONLY, HOSTED_ONLY

    params = {p.name: p.opts for p in typer.main.get_command(app).commands["generate"].params}
    for name, flag in {**ENGINE_ONLY, **FORCING_ONLY, **HOSTED_ONLY}.items():
        assert flag in params[name], (name, flag)


def test_a_row_without_a_question_is_one_line_before_any_call(api, tmp_path):
    source = tmp_path / "q.jsonl"
    write_table(source, [{"id": "a", "question": "What is 2 + 2?"}, {"id": "b", "question": "  "}])
    done = run_s1("generate", source, tmp_path / "out.jsonl", *claude_args(api, tmp_path))
    assert done.exit_code == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("q.jsonl: row 2 (id 'b'): column 'question' is empty")
    assert not api.paths and not (tmp_path / "out.jsonl").exists()


def test_without_a_key_nothing_runs(questions, tmp_path):
    env = {k: v for k, v in subprocess_env().items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "generate", str(questions), "out.jsonl",
                           "--model", f"anthropic:{CLAUDE}", "--cache", "c.sqlite"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: anthropic model needs an API key: set ANTHROPIC_API_KEY in the environment"
    assert sorted(os.listdir(tmp_path)) == ["questions.jsonl"]
