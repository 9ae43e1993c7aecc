"""The OpenAI-compatible engine against a real HTTP server on 127.0.0.1 serving the tiny model."""

from __future__ import annotations

import socket

import pytest

from fakes.openai_server import CompletionServer
from s1cli.engines.base import Engine, Sampling, StreamingEngine
from s1cli.engines.hf import HFEngine
from s1cli.engines.openai import OpenAIEngine
from s1cli.errors import ConfigError, RemoteError
from s1cli.forcing import Budget, Continuation, ForcingTokens, StopMatcher
from s1cli.table import read_rows, write_table
from s1cli.thinking import FORMATS

from .conftest import run_s1
from .test_forcing import requests

BUDGET = Budget(max_thinking_tokens=60, num_waits=2, max_answer_tokens=12, answer_prefix="Final Answer:")


@pytest.fixture(scope="module")
def local(stopper_model) -> HFEngine:
    return HFEngine.load(str(stopper_model), dtype="float64")


@pytest.fixture
def server(local):
    with CompletionServer(local) as srv:
        yield srv


def client(server: CompletionServer, stopper_model, **kwargs) -> OpenAIEngine:
    engine = OpenAIEngine.load("stopper", base_url=server.base_url, tokenizer=str(stopper_model))
    for key, value in kwargs.items():
        setattr(engine, key, value)
    return engine


def force(engine, reqs):
    tokens = ForcingTokens.build(engine.tokenizer, FORMATS["s1"], BUDGET, engine.eos_ids)
    return engine.force(reqs, BUDGET, tokens, Sampling(), "multi")


def test_remote_forcing_equals_local_multi_round(server, local, stopper_model):
    engine = client(server, stopper_model)
    reqs = requests(local, FORMATS["s1"])
    remote = force(engine, reqs)
    assert remote == force(local, reqs)
    assert any(out.waits == 2 for out in remote)
    # Prompts travel as token ids, and each round is one request.
    sent = [tuple(body["prompt"]) for body in server.requests]
    assert {tuple(r.prompt_ids) for r in reqs} <= set(sent)
    assert len(sent) > len(reqs)


def test_a_server_that_returns_only_text_still_works(local, stopper_model):
    with CompletionServer(local, echo_token_ids=False) as server:
        engine = client(server, stopper_model)
        outcomes = force(engine, requests(local, FORMATS["s1"]))
    for out in outcomes:
        assert len(out.thinking) <= 60 and len(out.response) <= 12
        assert out.waits <= 2 and out.finish in ("stop", "length", "forced", "forced+length")


def test_request_body_carries_stops_seed_and_budget(stopper_model, local):
    engine = OpenAIEngine("m", "http://127.0.0.1:9/v1", local.tokenizer, local.eos_ids)
    assert isinstance(engine, Engine) and not isinstance(engine, StreamingEngine)  # batched by ``outcomes``
    stop = StopMatcher(local.tokenizer, ["<|im_start|>", "</reasoning>"], local.eos_ids)
    body = engine.body(Continuation([1, 2, 3], 17, stop, "q1/0#think1"), Sampling(temperature=0.5, seed=3))
    assert body["prompt"] == [1, 2, 3] and body["max_tokens"] == 17 and body["model"] == "m"
    assert "</reasoning>" in body["stop"] and "<|im_start|>" in body["stop"] and "<|im_end|>" in body["stop"]
    assert set(body["stop_token_ids"]) == stop.ids
    assert body["temperature"] == 0.5 and 0 <= body["seed"] < 2**31
    engine.close()


def test_transient_errors_are_retried(server, local, stopper_model):
    engine = client(server, stopper_model, backoff=0.01)
    server.faults = [500, 429]
    outcomes = force(engine, requests(local, FORMATS["s1"])[:1])
    assert outcomes == force(local, requests(local, FORMATS["s1"])[:1])


def test_persistent_errors_are_one_remote_error(server, local, stopper_model):
    engine = client(server, stopper_model, backoff=0.01)
    server.faults = [500] * 10
    with pytest.raises(RemoteError, match=r"returned HTTP 500: .*injected fault 500"):
        force(engine, requests(local, FORMATS["s1"])[:1])
    server.faults = [400]
    with pytest.raises(RemoteError, match="HTTP 400"):
        force(engine, requests(local, FORMATS["s1"])[:1])


def test_the_api_key_goes_in_the_header_only(server, local, stopper_model, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    questions = tmp_path / "q.jsonl"
    write_table(questions, [{"id": "a", "question": "Hi"}])
    out = tmp_path / "out.jsonl"
    result = run_s1("generate", questions, out, "--model", "openai:stopper", "--base-url", server.base_url,
                    "--tokenizer", stopper_model, "--max-thinking-tokens", "20", "--max-answer-tokens", "5")
    assert result.exit_code == 0, result.stderr
    assert server.headers[0]["Authorization"] == "Bearer sk-test-secret"
    assert "sk-test-secret" not in out.read_text() + result.stderr
    assert read_rows(out)[0]["model"] == "openai:stopper"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_reports_a_refusing_or_failing_server_in_one_line(server, stopper_model, tmp_path):
    questions = tmp_path / "q.jsonl"
    write_table(questions, [{"id": "a", "question": "Hi"}])
    out = tmp_path / "out.jsonl"
    dead = f"http://127.0.0.1:{free_port()}/v1"
    result = run_s1("generate", questions, out, "--model", "openai:x", "--base-url", dead, "--tokenizer", stopper_model)
    assert result.exit_code == 2
    # the format it chose is said before the server is called (the --tokenizer directory decides it)
    assert result.stderr.strip().splitlines() == [
        "thinking format: s1 (auto: <|im_start|> is one token (Qwen's ChatML), as the s1 models use)",
        f"error: cannot reach {dead}/completions: [Errno 111] Connection refused (model openai:x)"]
    assert not out.exists()
    server.faults = [500] * 10
    result = run_s1("generate", questions, out, "--model", "openai:x", "--base-url", server.base_url,
                    "--tokenizer", stopper_model, "--format", "s1")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "returned HTTP 500" in result.stderr and not out.exists()


def test_configuration_errors(tmp_path, stopper_model):
    with pytest.raises(ConfigError, match="needs --base-url"):
        OpenAIEngine.load("x", tokenizer=str(stopper_model))
    with pytest.raises(ConfigError, match="expected an http"):
        OpenAIEngine.load("x", base_url="127.0.0.1:8000", tokenizer=str(stopper_model))
    with pytest.raises(ConfigError, match=r"--tokenizer .*cannot load a tokenizer"):
        OpenAIEngine.load("x", base_url="http://127.0.0.1:1/v1", tokenizer=str(tmp_path))
