"""The vLLM engine. Request building is tested everywhere; generation runs where vLLM imports (the
`make test-vllm` environment, which CI runs) and is skipped elsewhere with the reason.

The session's engine (`vllm_stopper`) prefills in 32-token chunks and has a cache too small for
its 4 concurrent sequences, so these tests also cover the steps vLLM discards and preempted
requests coming back."""

from __future__ import annotations

import importlib.util
import json
import random

import pytest
from transformers import AutoTokenizer

from s1cli.engines import parse_model_ref
from s1cli.engines.base import Engine, Request, Sampling, StreamingEngine, stream_seed
from s1cli.engines.engine_args import parse_engine_args, vllm_options
from s1cli.engines.hf import HFEngine
from s1cli.engines.vllm import (
    ARGS_KEY,
    COLLECT_METHOD,
    ForcedSequence,
    forcer_from_args,
    forcing_args,
    max_fed_tokens,
    sampling_params,
    single_pass_supported,
)
from s1cli.errors import ConfigError
from s1cli.forcing import Budget, Continuation, ForcingTokens, StopMatcher
from s1cli.generation import GenerateSpec, Job, generate
from s1cli.table import read_rows, write_table
from s1cli.thinking import FORMATS, get_format

from .conftest import VLLM_TEST_ENGINE, run_s1, s1_process
from .test_forcing import QUESTIONS, count_runs, requests, run

HAS_VLLM = importlib.util.find_spec("vllm") is not None
needs_vllm = pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed here; `make test-vllm` runs these "
                                                     "in .venv-vllm")


def test_sampling_params_for_a_thinking_round(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    eos = [tok.convert_tokens_to_ids("<|im_end|>")]
    stop = StopMatcher(tok, ["<|im_start|>", "</reasoning>"], eos)
    params = sampling_params(Continuation([5, 6], 99, stop, "q/0#think1"), Sampling(temperature=0.6, top_p=0.95,
                                                                                     seed=4), tok)
    assert params["max_tokens"] == 99 and params["n"] == 1
    assert params["temperature"] == 0.6 and params["top_p"] == 0.95
    assert params["stop"] == ["</reasoning>"]
    assert set(params["stop_token_ids"]) == {tok.convert_tokens_to_ids("<|im_start|>"), *eos}
    assert params["include_stop_str_in_output"] is True and params["skip_special_tokens"] is False
    assert params["detokenize"] is True
    again = sampling_params(Continuation([5, 6], 99, stop, "q/0#think1"), Sampling(seed=4), tok)
    other = sampling_params(Continuation([5, 6], 99, stop, "q/1#think1"), Sampling(seed=4), tok)
    assert again["seed"] == params["seed"] != other["seed"]
    token_only = sampling_params(Continuation([5], 3, StopMatcher(tok, [], eos)), Sampling(), tok)
    assert token_only["stop"] == [] and token_only["detokenize"] is False


def forcing_tokens(tok, fmt, budget):
    return ForcingTokens.build(tok, fmt, budget, [tok.convert_tokens_to_ids("<|im_end|>")])


def test_forcing_arguments_are_plain_data_that_rebuild_the_forcer(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    budget = Budget(max_thinking_tokens=50, min_thinking_tokens=5, num_waits=2, wait="Wait,",
                    max_answer_tokens=9, answer_prefix="Final Answer:")
    tokens = forcing_tokens(tok, FORMATS["s1"], budget)
    sampling = Sampling(temperature=0.7, top_p=0.9, seed=3)
    args = forcing_args("batch/0", Request("q7/1", [1, 2]), budget, tokens, sampling)
    args = json.loads(json.dumps(args))  # what crosses into vLLM's worker
    forcer = forcer_from_args(args)
    assert forcer.budget == budget
    rebuilt = forcer.tokens
    assert (rebuilt.end_ids, rebuilt.prefix_ids, rebuilt.wait_ids) == (tokens.end_ids, tokens.prefix_ids,
                                                                        tokens.wait_ids)
    assert rebuilt.think_stop.ids == tokens.think_stop.ids and rebuilt.answer_stop.ids == tokens.answer_stop.ids
    assert args["stream_seed"] == stream_seed(3, "q7/1") and args["sampling"]["temperature"] == 0.7
    assert args["end_token"] == tok.convert_tokens_to_ids("<|im_end|>")


def test_single_pass_needs_markers_of_one_token(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    budget = Budget(max_thinking_tokens=10, num_waits=1)
    assert single_pass_supported(forcing_tokens(tok, FORMATS["s1"], budget))
    assert single_pass_supported(forcing_tokens(tok, FORMATS["r1"], budget))
    # A marker of several tokens would have to be taken back after it was fed: multi-round does that.
    assert not single_pass_supported(forcing_tokens(tok, get_format("custom", start="<r>", end="</reasoning>"),
                                                    budget))
    # Forcing an end-of-turn token inside the trace would make vLLM stop there.
    assert not single_pass_supported(forcing_tokens(tok, get_format("custom", start="<r>", end="<|im_end|>"), budget))


def test_the_token_limit_covers_thinking_the_end_and_the_answer(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    budget = Budget(max_thinking_tokens=30, max_answer_tokens=7)
    tokens = forcing_tokens(tok, FORMATS["s1"], budget)
    assert max_fed_tokens(budget, tokens) == 30 + len(tokens.end_ids) + 7 + 1
    assert max_fed_tokens(Budget(max_thinking_tokens=None), tokens) is None


def test_a_forced_sequence_commits_only_the_tokens_vllm_keeps(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    budget = Budget(max_thinking_tokens=8, num_waits=1, max_answer_tokens=2)
    tokens = forcing_tokens(tok, FORMATS["s1"], budget)
    think_end, end_of_turn = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    sequence = ForcedSequence(forcing_args("b/0", Request("q/0", [1]), budget, tokens, Sampling()))
    output: list[int] = []  # the request's output as vLLM keeps it

    def step(choice: int, keep: bool = True) -> int:
        sequence.sync(len(output), output[-1] if output else -1)
        token = sequence.forced_next()
        token = sequence.choose(choice) if token is None else token
        if keep:
            output.append(token)
        return token

    assert step(100, keep=False) == 100  # a chunked prefill: vLLM samples, then discards
    assert step(101) == 101 and step(102) == 102
    wait = tokens.wait_ids
    assert step(think_end) == wait[0], "the model ends thinking: the wait string goes in its place"
    assert [step(0) for _ in wait[1:]] == list(wait[1:])
    while len(output) < 8:
        step(103)
    forced = [step(104) for _ in tokens.end_ids]  # the cap: the model's choices are overridden
    assert forced == list(tokens.end_ids)
    assert step(105) == 105 and step(end_of_turn) == end_of_turn  # vLLM stops on the end of turn
    out = sequence.finish(len(output))
    assert out.thinking == output[:8] and out.waits == 1 and out.capped
    assert out.response == [105] and out.finish == "forced"
    assert out.thinking.count(think_end) == 0 and 100 not in out.thinking


def test_a_sampled_sequence_draws_once_per_kept_choice(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    budget = Budget(max_thinking_tokens=50)
    args = forcing_args("b/0", Request("q/0", [1]), budget, forcing_tokens(tok, FORMATS["s1"], budget),
                        Sampling(temperature=1.0, seed=5))
    sequence, stream = ForcedSequence(args), random.Random(stream_seed(5, "q/0"))
    first = sequence.uniform()
    sequence.choose(7)
    sequence.sync(0, -1)  # discarded: the same draw decides the retried step
    assert sequence.forced_next() is None and sequence.uniform() == first == stream.random()
    sequence.choose(8)
    sequence.sync(1, 8)
    assert sequence.uniform() == stream.random() and sequence.forcer.out.thinking == [8]
    # vLLM stopped the request (its context is full) before the forcer was done.
    assert sequence.finish(1).finish == "length"


def test_engine_args_read_json_values_and_vllm_spellings():
    assert parse_engine_args(["max_num_seqs=64", "enable-prefix-caching=false", "kv_cache_dtype=fp8",
                              'compilation_config={"level": 3}', "swap_space=1.5", "hf_overrides=null"]) == {
        "max_num_seqs": 64, "enable_prefix_caching": False, "kv_cache_dtype": "fp8",
        "compilation_config": {"level": 3}, "swap_space": 1.5, "hf_overrides": None}
    vllm = parse_model_ref("vllm:models/x")
    assert vllm_options(vllm) == {} and vllm_options(parse_model_ref("hf:models/x")) == {}
    assert vllm_options(vllm, tensor_parallel_size=8, max_model_len=32768, enforce_eager=True,
                        engine_args=["max_num_seqs=64"]) == {
        "tensor_parallel_size": 8, "max_model_len": 32768, "enforce_eager": True,
        "engine_args": {"max_num_seqs": 64}}


@pytest.mark.parametrize(("args", "message"), [
    (["--predictions", "gens.jsonl", "--max-model-len", "64"],
     "--max-model-len applies to vllm: models (--model vllm:PATH_OR_ID)"),
    (["--model", "hf:models/x", "--tasks", "math500", "--engine-arg", "max_num_seqs=4"],
     "--engine-arg applies to vllm: models, not hf:models/x"),
    (["--model", "vllm:models/x", "--tasks", "math500", "--data-parallel-size", "0"],
     "--data-parallel-size must be at least 1, got 0"),
])
def test_bench_checks_the_vllm_engine_options_first(tmp_path, args, message):
    result = run_s1("bench", tmp_path / "runs", *args)
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here; the missing-vLLM message cannot be shown")
def test_a_clear_message_when_vllm_is_missing(tiny_model):
    from s1cli.engines import load_engine

    with pytest.raises(ConfigError, match="vLLM is not installed"):
        load_engine(f"vllm:{tiny_model}")


# -- on a real vLLM ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf_stopper(stopper_model) -> HFEngine:
    return HFEngine.load(str(stopper_model), dtype="float32")  # the precision the vLLM engine runs in


def preemptions(engine) -> float:
    return sum(metric.value for metric in engine.llm.get_metrics() if metric.name == "vllm:num_preemptions")


@needs_vllm
def test_the_worker_extension_answers_the_collect_call(vllm_stopper):
    assert vllm_stopper.llm.collective_rpc(COLLECT_METHOD, args=(["no-such-slot"], [0])) == [[None]]
    assert vllm_stopper.drivers == ("single", "multi")
    assert isinstance(vllm_stopper, Engine) and not isinstance(vllm_stopper, StreamingEngine)  # batched by outcomes


@needs_vllm
def test_the_processor_refuses_requests_it_cannot_force(vllm_stopper):
    import vllm
    from vllm.exceptions import VLLMValidationError

    tok = vllm_stopper.tokenizer
    budget = Budget(max_thinking_tokens=5)
    args = forcing_args("x/0", Request("x/0", [1]), budget, forcing_tokens(tok, FORMATS["s1"], budget), Sampling())
    with pytest.raises(VLLMValidationError, match="temperature=0"):  # it samples by itself: vLLM must not
        vllm_stopper.llm.generate("Hi", vllm.SamplingParams(temperature=0.7, extra_args={ARGS_KEY: args}),
                                  use_tqdm=False)


@needs_vllm
@pytest.mark.parametrize("driver", ["single", "multi"])
def test_cap_is_exact(vllm_stopper, driver):
    for cap in (1, 7, 33):
        outcomes, _ = run(vllm_stopper, FORMATS["s1"], Budget(max_thinking_tokens=cap, max_answer_tokens=8), driver)
        assert all(len(out.thinking) <= cap and out.waits == 0 for out in outcomes)
        capped = [out for out in outcomes if out.capped]
        assert capped, "some traces reach the cap"
        for out in capped:
            assert len(out.thinking) == cap and out.finish in ("forced", "forced+length")
            assert out.finish == "forced+length" or len(out.response) < 8
        for out in outcomes:
            if not out.capped:  # the model ended thinking by itself
                assert out.finish in ("stop", "length")


@needs_vllm
@pytest.mark.parametrize("driver", ["single", "multi"])
def test_extension_appends_exactly_k_waits(vllm_stopper, driver):
    tok = vllm_stopper.tokenizer
    base, _ = run(vllm_stopper, FORMATS["s1"], Budget(max_thinking_tokens=300, max_answer_tokens=4), driver)
    stopped_early = [i for i, out in enumerate(base) if not out.capped]
    assert len(stopped_early) >= 4, "the stopper model ends thinking early on most questions"
    for waits in (1, 2, 3):
        outcomes, tokens = run(vllm_stopper, FORMATS["s1"], Budget(max_thinking_tokens=300, num_waits=waits,
                                                                   max_answer_tokens=4), driver)
        extended = [i for i in stopped_early if not outcomes[i].capped]
        assert extended
        for i in extended:
            out = outcomes[i]
            assert out.waits == waits and count_runs(out.thinking, tokens.wait_ids) == waits
            assert len(out.thinking) > len(base[i].thinking)
            assert tok.decode(base[i].thinking) in tok.decode(out.thinking)


BUDGETS = [
    Budget(max_thinking_tokens=40, max_answer_tokens=6),
    Budget(max_thinking_tokens=120, num_waits=2, max_answer_tokens=6, answer_prefix="Final Answer:"),
    Budget(max_thinking_tokens=90, min_thinking_tokens=70, max_answer_tokens=30),
]


@needs_vllm
@pytest.mark.parametrize("budget", BUDGETS, ids=["cap", "waits", "min"])
def test_greedy_single_pass_multi_round_and_the_hf_engine_agree(vllm_stopper, hf_stopper, budget):
    before = preemptions(vllm_stopper)
    for fmt in (FORMATS["s1"], FORMATS["r1"]):
        single, _ = run(vllm_stopper, fmt, budget, "single")
        multi, _ = run(vllm_stopper, fmt, budget, "multi")
        assert single == multi
        # vLLM's CPU kernels and transformers agree in float32 to the last greedy token here.
        assert single == run(hf_stopper, fmt, budget, "multi")[0] == run(hf_stopper, fmt, budget, "single")[0]
        assert any(out.waits for out in single) or budget.num_waits == budget.min_thinking_tokens == 0
    if budget.max_thinking_tokens >= 90:  # 4 sequences of 100+ tokens do not fit the 512-token cache together
        assert preemptions(vllm_stopper) > before, "vLLM preempted requests and resumed them"


@needs_vllm
def test_sampling_follows_each_sequence_stream_like_the_hf_engine(vllm_stopper, hf_stopper):
    budget = Budget(max_thinking_tokens=90, num_waits=2, max_answer_tokens=12)
    sampling = Sampling(temperature=0.8, top_p=0.9, seed=3)
    reqs = requests(vllm_stopper, FORMATS["s1"])
    tokens = ForcingTokens.build(vllm_stopper.tokenizer, FORMATS["s1"], budget, vllm_stopper.eos_ids)
    sampled = vllm_stopper.force(reqs, budget, tokens, sampling, "single")
    assert sampled == vllm_stopper.force(reqs[::-1], budget, tokens, sampling, "single")[::-1]
    assert sampled != vllm_stopper.force(reqs, budget, tokens, Sampling(temperature=0.8, top_p=0.9, seed=4), "single")
    assert sampled != vllm_stopper.force(reqs, budget, tokens, Sampling(), "single")
    # One uniform draw per chosen token from the (seed, id/sample) stream, whatever vLLM's chunking
    # and preemption: the hf engine, fed the same stream, samples the same tokens.
    assert sampled == hf_stopper.force(reqs, budget, tokens, sampling, "single")


@needs_vllm
def test_a_marker_of_several_tokens_runs_multi_round(vllm_stopper, hf_stopper):
    probe, _ = run(hf_stopper, FORMATS["r1"], Budget(max_thinking_tokens=30, max_answer_tokens=1))
    marker = hf_stopper.tokenizer.decode(probe[1].thinking[6:9])
    fmt = get_format("custom", start="<think>\n", end=marker)
    budget = Budget(max_thinking_tokens=60, num_waits=2, max_answer_tokens=5)
    assert not single_pass_supported(ForcingTokens.build(vllm_stopper.tokenizer, fmt, budget, vllm_stopper.eos_ids))
    single, _ = run(vllm_stopper, fmt, budget, "single")
    assert single == run(vllm_stopper, fmt, budget, "multi")[0] == run(hf_stopper, fmt, budget, "single")[0]
    assert any(out.waits for out in single)


@needs_vllm
@pytest.mark.parametrize("driver", ["single", "multi"])
def test_the_context_limit_ends_sequences_cleanly(vllm_stopper, driver):
    reqs = requests(vllm_stopper, FORMATS["r1"])
    budget = Budget(max_thinking_tokens=None, num_waits=1, max_answer_tokens=20)
    outcomes, _ = run(vllm_stopper, FORMATS["r1"], budget, driver)
    limit = VLLM_TEST_ENGINE["max_model_len"]
    full = [(req, out) for req, out in zip(reqs, outcomes, strict=True) if out.finish == "length" and not out.response]
    assert full, "an uncapped trace fills the context"
    for req, out in full:
        assert len(req.prompt_ids) + len(out.thinking) == limit


# -- the command ----------------------------------------------------------------------------------


@needs_vllm
def test_generate_command_on_vllm_matches_the_library_and_is_reproducible(tmp_path, monkeypatch, stopper_model,
                                                                          vllm_stopper):
    rows = [{"id": f"q{i}", "question": q} for i, q in enumerate(QUESTIONS[:4])]
    source, out = tmp_path / "q.jsonl", tmp_path / "gens.jsonl"
    write_table(source, rows)
    model = f"vllm:{stopper_model}"
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache for the command's own engine
    done = s1_process("generate", source, out, "--model", model, "--dtype", "float32", "--n", "4", "--seed", "0",
                      "--temperature", "0.8", "--max-thinking-tokens", "48", "--num-waits", "2",
                      "--max-answer-tokens", "8", "--batch-size", "16", "--max-model-len", "320", "--enforce-eager",
                      "--engine-arg", "max-num-seqs=8", "--engine-arg", "enable_prefix_caching=false")
    assert done.returncode == 0, done.stderr[-3000:]
    # The engine options reached vLLM: read back from the started engine's config.
    assert (f"{model}: tensor_parallel_size=1, data_parallel_size=1, max_model_len=320, "
            in done.stderr), done.stderr[-3000:]
    assert "enforce_eager=true, max_num_seqs=8, enable_prefix_caching=false" in done.stderr
    written = read_rows(out)
    assert len(written) == 16 and sorted({r["sample"] for r in written}) == [0, 1, 2, 3]
    for row in written:
        assert row["model"] == model and row["budget"] == 48
        assert row["thinking_tokens"] <= 48 and row["response_tokens"] <= 8 and row["waits"] <= 2
        assert row["finish"] in ("stop", "length", "forced", "forced+length")
    assert any(row["waits"] for row in written)
    assert len({row["thinking"] for row in written}) > 4, "samples of one question differ"
    # The same jobs through the session's engine (another process, other chunking and cache size)
    # give the same rows: the samples depend only on --seed and (id, sample).
    spec = GenerateSpec(model=model, fmt=FORMATS["s1"], budget=Budget(max_thinking_tokens=48, num_waits=2,
                        max_answer_tokens=8), sampling=Sampling(temperature=0.8, seed=0), n=4)
    jobs = [Job(row, sample) for row in rows for sample in range(4)]
    again = list(generate(vllm_stopper, jobs, spec))
    key = lambda r: (r["id"], r["sample"])  # noqa: E731
    strip = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    assert [strip(r) for r in sorted(again, key=key)] == [strip(r) for r in sorted(written, key=key)]


@needs_vllm
@pytest.mark.parametrize(("args", "message"), [
    (["--engine-arg", "max_num_seq=4"], "--engine-arg max_num_seq: not a vLLM engine argument (did you mean "
                                        "max_num_seqs?); see vLLM's EngineArgs"),
    # vLLM 0.32 runs data-parallel ranks as separate processes only: the error says what to do instead.
    (["--data-parallel-size", "2"], "(LLM(data_parallel_size=2) is not supported for single-process usage"),
])
def test_engine_options_vllm_refuses_are_one_line(tmp_path, stopper_model, args, message):
    source = tmp_path / "q.jsonl"
    write_table(source, [{"id": "a", "question": "Hi"}])
    result = run_s1("generate", source, tmp_path / "out.jsonl", "--model", f"vllm:{stopper_model}", *args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and message in lines[0], result.stderr[-2000:]
    if "--data-parallel-size" in args:
        assert "run N jobs with --shard I/N" in lines[0]
    assert not (tmp_path / "out.jsonl").exists()


@needs_vllm
def test_a_missing_vllm_model_is_one_line(tmp_path):
    source = tmp_path / "q.jsonl"
    write_table(source, [{"id": "a", "question": "Hi"}])
    result = run_s1("generate", source, tmp_path / "out.jsonl", "--model", "vllm:./models/nowhere")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --model vllm:./models/nowhere: no such model directory"
    (tmp_path / "empty").mkdir()
    result = run_s1("generate", source, tmp_path / "out.jsonl", "--model", f"vllm:{tmp_path / 'empty'}")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines == [f"error: --model vllm:{tmp_path / 'empty'}: cannot load (Invalid repository ID or local "
                     f"directory specified: '{tmp_path / 'empty'}'.)"]
    assert not (tmp_path / "out.jsonl").exists()


@needs_vllm
def test_vllm_reads_the_format_sft_recorded_and_reproduces_what_it_memorised(tmp_path, monkeypatch, family_models):
    """A Llama-family model fine-tuned by s1 sft (format auto → r1, whose <think> is a token there), then
    generated with vLLM without --format: the recorded format is used, single pass, and the memorised
    rows come back exactly."""
    from .test_families import ROWS

    train, model = tmp_path / "train.jsonl", tmp_path / "model"
    write_table(train, ROWS)
    result = run_s1("sft", train, model, "--model", f"hf:{family_models['llama']}", "--block-size", "256",
                    "--max-steps", "40", "--batch-size", "2", "--lr", "3e-3")
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    out = tmp_path / "gens.jsonl"
    done = s1_process("generate", train, out, "--model", f"vllm:{model}", "--dtype", "float32",
                      "--max-thinking-tokens", "64", "--max-answer-tokens", "16", "--max-model-len", "256",
                      "--enforce-eager")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"thinking format: r1 (recorded by s1 sft in {model / 's1_sft.json'})" in done.stderr
    for row, gen in zip(ROWS, read_rows(out), strict=True):
        assert (gen["thinking"].strip(), gen["response"], gen["finish"]) == (row["thinking"], row["response"], "stop")
