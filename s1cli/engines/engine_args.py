"""The vLLM engine options of ``s1 generate`` and ``s1 bench`` (``--tensor-parallel-size``, ...,
``--engine-arg KEY=VALUE``): parsed and checked here without importing vLLM, so a mistake is one
line before any model loads. Whether a key is a vLLM engine argument at all is checked by the
engine (``vllm.check_engine_args``), against the installed vLLM's ``EngineArgs``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..refs import ModelRef

# vllm.LLM arguments with an option of their own: --engine-arg refuses them so each has one spelling.
NAMED = {"tensor_parallel_size": "--tensor-parallel-size", "data_parallel_size": "--data-parallel-size",
         "max_model_len": "--max-model-len", "gpu_memory_utilization": "--gpu-memory-utilization",
         "enforce_eager": "--enforce-eager", "model": "--model", "dtype": "--dtype"}
# Arguments budget forcing needs as s1 sets them: its logits processor and the worker method that
# hands the outcomes back.
RESERVED = ("logits_processors", "worker_extension_cls")


def parse_engine_args(specs: Sequence[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as vllm.LLM keyword arguments: the key with dashes read as underscores
    (vLLM's CLI spelling works too), the value a JSON literal (8192, 0.5, true, null, {"a": 1}) or
    else the text as given."""
    args: dict[str, Any] = {}
    for spec in specs or ():
        key, sep, text = spec.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise ConfigError(f"--engine-arg {spec!r}: expected KEY=VALUE, e.g. --engine-arg max_num_seqs=64")
        if key in NAMED:
            raise ConfigError(f"--engine-arg {key}: use {NAMED[key]}")
        if key in RESERVED:
            raise ConfigError(f"--engine-arg {key}: s1 sets it (budget forcing runs in its own logits processor)")
        if key in args:
            raise ConfigError(f"--engine-arg {key}: given twice")
        try:
            args[key] = json.loads(text)
        except ValueError:
            args[key] = text
    return args


def vllm_options(model: ModelRef | None, *, tensor_parallel_size: int | None = None,
                 data_parallel_size: int | None = None, max_model_len: int | None = None,
                 gpu_memory_utilization: float | None = None, enforce_eager: bool = False,
                 engine_args: Sequence[str] | None = None) -> dict[str, Any]:
    """The engine options for ``load_engine`` from the CLI's vLLM options: only those given, and
    none at all unless ``model`` runs on vLLM (given for another engine, each is one error)."""
    given = {"tensor_parallel_size": tensor_parallel_size, "data_parallel_size": data_parallel_size,
             "max_model_len": max_model_len, "gpu_memory_utilization": gpu_memory_utilization,
             "enforce_eager": enforce_eager or None}
    options: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if engine_args:
        options["engine_args"] = parse_engine_args(engine_args)
    if not options:
        return {}
    if model is None or model.backend != "vllm":
        flag = NAMED.get(next(iter(options)), "--engine-arg")
        where = f", not {model}" if model is not None else " (--model vllm:PATH_OR_ID)"
        raise ConfigError(f"{flag} applies to vllm: models{where}")
    for key in ("tensor_parallel_size", "data_parallel_size", "max_model_len"):
        if options.get(key) is not None and options[key] < 1:
            raise ConfigError(f"{NAMED[key]} must be at least 1, got {options[key]}")
    fraction = options.get("gpu_memory_utilization")
    if fraction is not None and not 0 < fraction <= 1:
        raise ConfigError(f"--gpu-memory-utilization must be in (0, 1], got {fraction}")
    return options
