"""Budget forcing on real (tiny) models: caps are exact, extensions append exactly K waits, and
the single-pass and multi-round drivers give the same tokens under greedy decoding."""

from __future__ import annotations

import pytest

from s1cli.engines.base import Request, Sampling
from s1cli.engines.hf import HFEngine
from s1cli.errors import ConfigError
from s1cli.forcing import FORCED, FORCED_LENGTH, LENGTH, STOP, Budget, ForcingTokens, StopMatcher
from s1cli.thinking import FORMATS, ThinkingFormat, build_prompt, get_format

QUESTIONS = ["What is 1 + 1?", "Compute the sum of the first 100 positive integers.", "Let x = 3. Find x^2.",
             "Hi", "How many primes are below 30?", "Simplify \\frac{6}{8}."]


@pytest.fixture(scope="module")
def tiny(tiny_model) -> HFEngine:
    return HFEngine.load(str(tiny_model), dtype="float64")


@pytest.fixture(scope="module")
def stopper(stopper_model) -> HFEngine:
    return HFEngine.load(str(stopper_model), dtype="float64")


def requests(engine: HFEngine, fmt: ThinkingFormat, questions=QUESTIONS) -> list[Request]:
    tok = engine.tokenizer
    return [Request(f"q{i}", tok(build_prompt(tok, q, fmt), add_special_tokens=False)["input_ids"])
            for i, q in enumerate(questions)]


def run(engine: HFEngine, fmt: ThinkingFormat, budget: Budget, driver: str = "single", sampling=Sampling()):
    tokens = ForcingTokens.build(engine.tokenizer, fmt, budget, engine.eos_ids)
    return engine.force(requests(engine, fmt), budget, tokens, sampling, driver), tokens


def count_runs(ids: list[int], needle: tuple[int, ...]) -> int:
    return sum(1 for i in range(len(ids) - len(needle) + 1) if tuple(ids[i:i + len(needle)]) == needle)


# -- stop markers ---------------------------------------------------------------------------------


def test_single_token_markers_match_by_id(tiny):
    tok = tiny.tokenizer
    matcher = StopMatcher(tok, ["<|im_start|>"], [tok.convert_tokens_to_ids("<|im_end|>")])
    words = tok("so the answer", add_special_tokens=False)["input_ids"]
    assert matcher.match(words) == 0
    assert matcher.match([*words, tok.convert_tokens_to_ids("<|im_start|>")]) == 1
    assert matcher.match([*words, tok.convert_tokens_to_ids("<|im_end|>")]) == 1
    assert matcher.example() == [min(matcher.ids)]


def test_multi_token_markers_match_on_text_when_completed(tiny):
    tok = tiny.tokenizer
    marker = "</reasoning>"
    ids = tok("so x = 4." + marker, add_special_tokens=False)["input_ids"]
    matcher = StopMatcher(tok, [marker])
    assert not matcher.ids and matcher.texts == [marker]
    spans = [matcher.match(ids[:end]) for end in range(1, len(ids) + 1)]
    assert spans[:-1] == [0] * (len(ids) - 1), "no match before the marker is complete"
    span = spans[-1]
    assert span > 1, "the marker spans several tokens in this tokenizer"
    assert marker in tok.decode(ids[-span:]) and marker not in tok.decode(ids[-span + 1:])
    assert tok.decode(matcher.example()) == marker


def test_budget_validation():
    for kwargs, message in [({"max_thinking_tokens": 0}, "at least 1"), ({"num_waits": -1}, "0 or more"),
                            ({"max_answer_tokens": 0}, "at least 1"),
                            ({"max_thinking_tokens": 5, "min_thinking_tokens": 9}, "exceeds"),
                            ({"num_waits": 1, "wait": ""}, "must not be empty")]:
        with pytest.raises(ConfigError, match=message):
            Budget(**kwargs)


# -- the cap --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [1, 7, 33])
def test_cap_is_exact(tiny, cap):
    outcomes, _ = run(tiny, FORMATS["s1"], Budget(max_thinking_tokens=cap, max_answer_tokens=8))
    for out in outcomes:
        assert len(out.thinking) == cap  # the random tiny model never ends thinking by itself
        assert out.capped and out.waits == 0
        assert len(out.response) == 8 and out.finish == FORCED_LENGTH  # capped, then the answer was cut


def test_a_capped_trace_gets_the_answer_opener_and_prefix(tiny):
    budget = Budget(max_thinking_tokens=5, max_answer_tokens=12, answer_prefix="Final Answer:")
    outcomes, tokens = run(tiny, FORMATS["s1"], budget)
    prefix = list(tokens.prefix_ids)
    for out in outcomes:
        assert out.response[: len(prefix)] == prefix
    assert tiny.tokenizer.decode(tokens.end_ids) == "<|im_start|>answer\n"


def test_finish_is_forced_when_a_capped_trace_is_answered(stopper):
    # r1 format: the stopper's <|im_start|> is plain text there, and <|im_end|> ends the turn.
    outcomes, _ = run(stopper, FORMATS["r1"], Budget(max_thinking_tokens=2, max_answer_tokens=400))
    finishes = {out.finish for out in outcomes}
    assert FORCED in finishes
    for out in outcomes:
        assert len(out.thinking) <= 2
        if out.finish == FORCED:
            assert out.capped and len(out.response) < 400


@pytest.mark.parametrize("driver", ["single", "multi"])
def test_finish_says_whether_thinking_was_forced_and_whether_the_answer_was_cut(stopper, driver):
    # The stopper ends thinking by itself on some questions, so both kinds of trace meet answers
    # cut at 3 tokens and answers it ends itself.
    outcomes, _ = run(stopper, FORMATS["r1"], Budget(max_thinking_tokens=40, max_answer_tokens=3), driver)
    for out in outcomes:
        cut = len(out.response) == 3
        assert out.finish == {(True, True): FORCED_LENGTH, (True, False): FORCED, (False, True): LENGTH,
                              (False, False): STOP}[out.capped, cut]
    assert {FORCED_LENGTH, LENGTH} <= {out.finish for out in outcomes}, "capped and uncapped answers were cut"


# -- extension ------------------------------------------------------------------------------------


@pytest.mark.parametrize("waits", [1, 2, 3])
def test_extension_appends_exactly_k_waits(stopper, waits):
    outcomes, tokens = run(stopper, FORMATS["s1"], Budget(max_thinking_tokens=400, num_waits=waits,
                                                          max_answer_tokens=4))
    base, _ = run(stopper, FORMATS["s1"], Budget(max_thinking_tokens=400, max_answer_tokens=4))
    stopped_early = [i for i, out in enumerate(base) if not out.capped]
    assert len(stopped_early) >= 4, "the stopper model ends thinking early on most questions"
    for i in stopped_early:
        out = outcomes[i]
        if out.capped:
            continue
        assert out.waits == waits
        assert count_runs(out.thinking, tokens.wait_ids) == waits
        assert len(out.thinking) > len(base[i].thinking)
        assert stopper.tokenizer.decode(base[i].thinking) in stopper.tokenizer.decode(out.thinking)


def test_min_thinking_tokens_extends_until_reached(stopper):
    outcomes, _ = run(stopper, FORMATS["s1"], Budget(max_thinking_tokens=80, min_thinking_tokens=60,
                                                     max_answer_tokens=4))
    assert any(out.waits for out in outcomes)
    for out in outcomes:
        assert 60 <= len(out.thinking) <= 80


def test_waits_never_push_thinking_past_the_cap(stopper):
    for cap in (3, 10, 25):
        outcomes, _ = run(stopper, FORMATS["s1"], Budget(max_thinking_tokens=cap, num_waits=50, max_answer_tokens=2))
        assert all(len(out.thinking) <= cap for out in outcomes)
        assert all(out.waits < 50 for out in outcomes)


# -- single pass == multi-round ---------------------------------------------------------------------

BUDGETS = [
    Budget(max_thinking_tokens=40, max_answer_tokens=6),
    Budget(max_thinking_tokens=120, num_waits=2, max_answer_tokens=6, answer_prefix="Final Answer:"),
    Budget(max_thinking_tokens=90, min_thinking_tokens=70, max_answer_tokens=30),
    Budget(max_thinking_tokens=None, num_waits=1, max_answer_tokens=20),
]


@pytest.mark.parametrize("budget", BUDGETS, ids=["cap", "waits", "min", "uncapped"])
@pytest.mark.parametrize("model", ["tiny", "stopper"])
def test_single_pass_and_multi_round_give_identical_tokens(request, model, budget):
    engine = request.getfixturevalue(model)
    if budget.max_thinking_tokens is None and model == "tiny":
        budget = Budget(max_thinking_tokens=64, num_waits=1, max_answer_tokens=20)
    for fmt in (FORMATS["s1"], FORMATS["r1"]):
        single, _ = run(engine, fmt, budget, "single")
        multi, _ = run(engine, fmt, budget, "multi")
        assert single == multi


def test_drivers_agree_when_the_marker_spans_several_tokens(tiny):
    # Take a 3-token piece of the tiny model's own greedy thinking as a custom end marker, so
    # the model really emits a multi-token marker; both drivers must drop it and append a wait.
    probe, _ = run(tiny, FORMATS["r1"], Budget(max_thinking_tokens=30, max_answer_tokens=1))
    marker = tiny.tokenizer.decode(probe[0].thinking[12:15])
    fmt = get_format("custom", start="<think>\n", end=marker)
    assert StopMatcher(tiny.tokenizer, [fmt.stop]).texts, "the marker is not a single token"
    budget = Budget(max_thinking_tokens=60, num_waits=2, max_answer_tokens=5)
    single, _ = run(tiny, fmt, budget, "single")
    multi, _ = run(tiny, fmt, budget, "multi")
    assert single == multi
    assert single[0].waits >= 1
    assert marker not in tiny.tokenizer.decode(single[0].thinking[:14])
