"""Single-pass budget forcing inside vLLM's worker (imported only where vLLM is installed).

``ForcingLogitsProcessor`` is a vLLM v1 logits processor: each request that carries forcing
arguments (``SamplingParams.extra_args[ARGS_KEY]``, built by ``vllm.forcing_args``) gets a
``ForcedSequence`` around its own ``Forcer``. Every step the processor takes the model's choice
from the raw logits (argmax, or a draw from the request's own seeded stream), lets the forcer
say which token the sequence takes (the choice, a forced delimiter, a wait string) and masks
every other token, so vLLM's greedy sampler picks exactly that one. Nothing is re-prefilled
between wait rounds. ``ForcingWorkerExtension`` (installed with ``worker_extension_cls``) hands
the outcomes back to the engine process through ``LLM.collective_rpc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from .base import draw
from .vllm import ARGS_KEY, ForcedSequence


class ForcingLogitsProcessor(LogitsProcessor):
    """Budget forcing for the requests that ask for it; other requests pass through untouched."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        self.rows: dict[int, tuple[ForcedSequence, list[int]]] = {}  # batch row -> (sequence, its output ids)
        self.sequences: dict[str, ForcedSequence] = {}  # slot -> sequence, until its outcome is collected

    @classmethod
    def validate_params(cls, sampling_params: Any) -> None:
        args = (sampling_params.extra_args or {}).get(ARGS_KEY)
        if args is not None and (sampling_params.n != 1 or sampling_params.temperature != 0):
            raise ValueError("s1cli forcing needs n=1 and temperature=0 (the processor samples by itself)")

    def is_argmax_invariant(self) -> bool:
        return False  # it decides the token

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.rows, batch_update, self._new_row)

    def _new_row(self, params: Any, prompt_ids: list[int] | None, output_ids: list[int]
                 ) -> tuple[ForcedSequence, list[int]] | None:
        args = (params.extra_args or {}).get(ARGS_KEY)
        if args is None:
            return None
        # A preempted request comes back under the same slot and carries on where it was.
        sequence = self.sequences.get(args["slot"])
        if sequence is None:
            sequence = self.sequences[args["slot"]] = ForcedSequence(args)
        return sequence, output_ids

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.rows:
            return logits
        argmax: list[int] | None = None
        rows, tokens = [], []  # rows whose token must be forced, and those tokens
        for row, (sequence, output) in self.rows.items():
            sequence.sync(len(output), output[-1] if output else -1)
            token = sequence.forced_next()
            if token is None and sequence.sampling.greedy:
                if argmax is None:
                    argmax = logits.argmax(dim=-1).tolist()
                token = sequence.choose(argmax[row])
                if token == argmax[row]:
                    continue  # vLLM's greedy sampler takes the same argmax: nothing to force
            elif token is None:
                token = sequence.choose(draw(logits[row:row + 1], [sequence.uniform()], sequence.sampling)[0])
            rows.append(row)
            tokens.append(token)
        if rows:
            index = torch.tensor(rows, device=logits.device)
            logits[index] = float("-inf")
            logits[index, torch.tensor(tokens, device=logits.device)] = 0.0
        return logits

    def collect(self, slots: Sequence[str], produced: Sequence[int]) -> list[dict[str, Any] | None]:
        """Outcomes of finished requests, as plain data (forgotten once collected); None for a slot
        this worker never saw."""
        out = []
        for slot, count in zip(slots, produced, strict=True):
            sequence = self.sequences.pop(slot, None)
            out.append(None if sequence is None else asdict(sequence.finish(count)))
        return out


class ForcingWorkerExtension:
    """Mixed into vLLM's worker class: hands the forcing outcomes back to the engine process."""

    def s1cli_forcing_outcomes(self, slots: list[str], produced: list[int]) -> list[dict[str, Any] | None]:
        runner: Any = self.model_runner  # type: ignore[attr-defined]
        for processor in runner.input_batch.logitsprocs.all:
            if isinstance(processor, ForcingLogitsProcessor):
                return processor.collect(slots, produced)
        raise RuntimeError("the s1cli forcing logits processor is not installed in this vLLM engine")
