"""Shared fixtures: one tiny model per session, and ways to run `s1` in-process and as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s1cli.cli import app

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def run_s1(*args: str, input: str | None = None) -> Result:
    """Run `s1 ARGS` in-process through the real Typer app."""
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    return Result(result.exit_code, result.stdout, result.stderr, result.exception)


def s1_process(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run `s1 ARGS` as a separate process (python -m s1cli.cli), capturing text output."""
    return subprocess.run([sys.executable, "-m", "s1cli.cli", *map(str, args)], capture_output=True, text=True,
                          env=subprocess_env(), **kwargs)


def interruptible() -> None:
    """``preexec_fn`` for a child a test stops with SIGINT. A shell starts background jobs with SIGINT
    ignored and children inherit that, so the suite run with ``&`` (or nohup) would wait on a child
    that never sees Ctrl-C; give it the default a foreground command has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def kill_after_answers(api, args, answers: int) -> None:
    """Run `s1 ARGS` as a process against the fake API (``fakes.anthropic_api.FakeAPI``), let it be
    answered ``answers`` times (later calls hang until ``api.release()``), then SIGKILL it as a crash would."""
    from fakes.anthropic_api import KEY

    api.hold_after(answers)
    proc = subprocess.Popen([sys.executable, "-m", "s1cli.cli", *map(str, args)],
                            env={**subprocess_env(), "ANTHROPIC_API_KEY": KEY},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while sum(api.answered.values()) < answers and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the fake server's count; bounded by the deadline
    time.sleep(0.5)  # let the client commit the last reply to the cache
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Qwen2 model + tokenizer built once per test session (about 4 s)."""
    from s1cli.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def family_models(tmp_path_factory) -> dict[str, Path]:
    """A tiny model of each family `s1 tiny --arch` builds, Qwen2 included (about 4 s each)."""
    from s1cli.tiny import ARCHS, build_tiny, spec_for

    root = tmp_path_factory.mktemp("families")
    return {arch: build_tiny(root / arch, spec_for("tiny", arch=arch)) for arch in ARCHS}


@pytest.fixture(scope="session")
def stopper_model(tiny_model, tmp_path_factory) -> Path:
    """The tiny model changed to try to stop often: wherever it would have emitted its most
    frequent greedy token it emits <|im_start|> (the s1 end-of-thinking marker), and for its
    second most frequent, <|im_end|> (end of turn). Built by giving each marker's output row a
    scaled copy of the frequent token's row."""
    from collections import Counter

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from s1cli.thinking import FORMATS, build_prompt

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    prompt = tokenizer(build_prompt(tokenizer, "What is 2 + 2?", FORMATS["s1"]), add_special_tokens=False)["input_ids"]
    rollout = model.generate(torch.tensor([prompt]), max_new_tokens=64, do_sample=False)[0, len(prompt):].tolist()
    (first, _), (second, _) = Counter(rollout).most_common(2)
    head = model.lm_head.weight.detach().clone()
    head[tokenizer.convert_tokens_to_ids("<|im_start|>")] = head[first] * 1.5
    head[tokenizer.convert_tokens_to_ids("<|im_end|>")] = head[second] * 1.5
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(head)
    out = tmp_path_factory.mktemp("stopper") / "model"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# vLLM engine settings for tests: a 32-token step budget (prompts are prefilled in chunks, so
# vLLM samples and discards tokens) and a 512-token KV cache for 4 sequences (requests are
# preempted and prefilled again), so every vLLM test also covers those paths.
VLLM_TEST_ENGINE = {"dtype": "float32", "max_model_len": 384, "kv_cache_memory_bytes": 1 << 19,
                    "max_num_batched_tokens": 32, "max_num_seqs": 4, "disable_log_stats": False, "enforce_eager": True}


@pytest.fixture(scope="session")
def vllm_stopper(stopper_model):
    """The stopper model served by vLLM: one engine start per session (about 30 s)."""
    pytest.importorskip("vllm", reason="vLLM is not installed here; `make test-vllm` runs this in .venv-vllm")
    from s1cli.engines.vllm import VLLMEngine

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)  # it would override kv_cache_memory_bytes
        engine = VLLMEngine.load(str(stopper_model), **VLLM_TEST_ENGINE)
    yield engine
    engine.close()
