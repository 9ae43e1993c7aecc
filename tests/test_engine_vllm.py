"""The vLLM engine. Request building is tested everywhere; generation runs where vLLM imports
(the `make test-vllm` environment) and is skipped elsewhere with the reason."""

from __future__ import annotations

import importlib.util

import pytest
from transformers import AutoTokenizer

from s1cli.engines.base import Sampling
from s1cli.engines.vllm import sampling_params
from s1cli.errors import ConfigError
from s1cli.forcing import Continuation, StopMatcher

HAS_VLLM = importlib.util.find_spec("vllm") is not None


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


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here; the missing-vLLM message cannot be shown")
def test_a_clear_message_when_vllm_is_missing(tiny_model):
    from s1cli.engines import load_engine

    with pytest.raises(ConfigError, match="vLLM is not installed"):
        load_engine(f"vllm:{tiny_model}")
