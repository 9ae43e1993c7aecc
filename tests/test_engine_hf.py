"""The transformers engine's decode loop: batching, finished sequences leaving the batch,
seeded sampling, and the model's context limit."""

from __future__ import annotations

import pytest

from s1cli.engines.base import Request, Sampling, StreamingEngine, parse_model_ref, stream_seed
from s1cli.engines.hf import HFEngine
from s1cli.errors import ConfigError
from s1cli.forcing import Budget, ForcingTokens
from s1cli.refs import ModelRef
from s1cli.thinking import FORMATS, build_prompt
from s1cli.tiny import build_tiny, spec_for

from .test_forcing import QUESTIONS, requests


@pytest.fixture(scope="module")
def stopper(stopper_model) -> HFEngine:
    return HFEngine.load(str(stopper_model), dtype="float64")


def force(engine, reqs, budget, sampling=Sampling()):
    tokens = ForcingTokens.build(engine.tokenizer, FORMATS["s1"], budget, engine.eos_ids)
    return engine.force(reqs, budget, tokens, sampling)


BUDGET = Budget(max_thinking_tokens=60, num_waits=1, max_answer_tokens=40)


def test_batched_outputs_equal_one_by_one_outputs(stopper):
    reqs = requests(stopper, FORMATS["s1"])
    batched = force(stopper, reqs, BUDGET)
    alone = [force(stopper, [r], BUDGET)[0] for r in reqs]
    assert batched == alone
    lengths = {len(o.thinking) + len(o.response) for o in batched}
    assert len(lengths) > 1, "sequences finished at different steps, so some left the batch early"


def test_sampling_is_seeded_per_sequence_not_per_batch(stopper):
    sampling = Sampling(temperature=1.0, top_p=0.9, seed=7)
    reqs = requests(stopper, FORMATS["s1"])
    together = force(stopper, reqs, BUDGET, sampling)
    again = force(stopper, list(reversed(reqs)), BUDGET, sampling)[::-1]
    assert together == again
    reseeded = force(stopper, reqs, BUDGET, Sampling(temperature=1.0, top_p=0.9, seed=8))
    assert reseeded != together
    greedy = force(stopper, reqs, BUDGET)
    assert greedy != together


def test_top_p_keeps_the_nucleus(stopper):
    # With top_p tiny, sampling keeps only the most likely token: it equals greedy decoding.
    reqs = requests(stopper, FORMATS["s1"])[:3]
    nucleus = force(stopper, reqs, BUDGET, Sampling(temperature=1.0, top_p=1e-6, seed=1))
    assert nucleus == force(stopper, reqs, BUDGET)


def test_the_context_limit_ends_sequences_cleanly(tmp_path):
    path = build_tiny(tmp_path / "short", spec_for("tiny", max_position_embeddings=48))
    engine = HFEngine.load(str(path))
    reqs = requests(engine, FORMATS["s1"], QUESTIONS[:2])
    outcomes = force(engine, reqs, Budget(max_thinking_tokens=None, max_answer_tokens=100))
    for req, out in zip(reqs, outcomes, strict=True):
        assert out.finish == "length"
        assert len(req.prompt_ids) + len(out.thinking) + len(out.response) <= 48 + 4


def test_loading_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such model directory"):
        HFEngine.load(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load"):
        HFEngine.load(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="--dtype"):
        HFEngine.load(str(tmp_path / "empty"), dtype="int8")


def test_model_references_and_seeds():
    assert parse_model_ref("hf:models/tiny") == ModelRef("hf", "models/tiny")
    assert parse_model_ref("openai:gpt:with:colons") == ModelRef("openai", "gpt:with:colons")
    for bad in ("models/tiny", "torch:x", "hf:"):
        with pytest.raises(ConfigError, match="expected BACKEND:NAME"):
            parse_model_ref(bad)
    assert stream_seed(0, "a/0") == stream_seed(0, "a/0") != stream_seed(0, "a/1")


def test_prompts_use_the_model_tokenizer(stopper):
    text = build_prompt(stopper.tokenizer, QUESTIONS[0], FORMATS["s1"])
    ids = requests(stopper, FORMATS["s1"])[0].prompt_ids
    assert stopper.tokenizer.decode(ids) == text
    assert isinstance(requests(stopper, FORMATS["s1"])[0], Request)


@pytest.mark.parametrize("slots", [1, 2, 4])
def test_continuous_batching_admits_waiting_requests_and_changes_no_token(stopper, slots):
    assert isinstance(stopper, StreamingEngine)  # so ``outcomes`` streams through it
    reqs = requests(stopper, FORMATS["s1"]) * 2  # 12 requests of varied length
    reqs = [Request(f"{r.key}-{i}", r.prompt_ids) for i, r in enumerate(reqs)]
    tokens = ForcingTokens.build(stopper.tokenizer, FORMATS["s1"], BUDGET, stopper.eos_ids)
    streamed = list(stopper.stream(reqs, BUDGET, tokens, Sampling(), "single", slots=slots))
    assert sorted(i for i, _ in streamed) == list(range(len(reqs)))
    by_index = dict(streamed)
    assert [by_index[i] for i in range(len(reqs))] == force(stopper, reqs, BUDGET)
    if slots > 1:
        order = [i for i, _ in streamed]
        assert order != sorted(order), "short sequences finish first and free their slot for the next request"
    assert all(out.seconds > 0 for _, out in streamed)
