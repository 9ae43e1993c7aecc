"""Options of a fine-tuning run, with the s1 paper's values as defaults (§3 and the s1 repository's
``train/sft.sh``: Qwen2.5-32B-Instruct, 5 epochs, lr 1e-5 with cosine decay after a 5% linear warmup,
global batch 16, weight decay 1e-4, AdamW β=(0.9, 0.95), bf16, 32,768-token blocks)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..errors import ConfigError

# A validation error names the option the user typed (--batch-size for batch_size); the fields
# no option sets are named as they are.
NO_OPTION: tuple[str, ...] = ()


# Where the defaults trade the s1 run's exact procedure for speed, and what --paper sets instead: the s1
# repository trained with TRL at a per-device batch of 1, no packing, so each example's loss was its own
# token mean and the step averaged those means.
PAPER = {"packing": False, "loss_average": "sequence", "micro_batch_size": 1}


class SFTConfig(BaseModel):
    """Everything that decides what a run computes. Checkpoints record it, and ``--resume`` refuses a
    checkpoint whose ``fingerprint`` differs (a different schedule or data would not continue the run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str  # a local directory or hub id (the ``hf:`` prefix already removed)
    format: str = "s1"
    think_start: str | None = None  # --format custom only
    think_end: str | None = None
    system: str | None = None
    answer_prefix: str | None = None  # None: "Answer: " for the s1 format (as the s1 repository), else none
    epochs: int = 5
    lr: float = 1e-5
    batch_size: int = 16  # examples per optimizer step, over all processes
    micro_batch_size: int = 1  # sequences (packed blocks, or examples without packing) per forward pass
    block_size: int = 32768
    warmup_ratio: float = 0.05
    weight_decay: float = 1e-4
    adam_betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = 1e-8
    max_grad_norm: float = 1.0  # transformers' default, which the s1 run kept
    packing: bool = True
    gradient_checkpointing: bool = False
    liger: bool = False
    compile: Literal["auto", "on", "off"] = "auto"  # auto: see trainer.plan_compile
    attention: Literal["auto", "flash", "sdpa", "eager"] = "auto"  # see attention.choose
    long_rows: Literal["truncate", "drop"] = "truncate"
    loss_average: Literal["token", "sequence"] = "token"
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    max_steps: int | None = None
    save_every: int | None = None
    keep_checkpoints: int = 1
    seed: int = 0
    shuffle: bool = True

    @field_validator("epochs", "batch_size", "micro_batch_size", "keep_checkpoints")
    @classmethod
    def _positive_int(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator("max_steps", "save_every")
    @classmethod
    def _positive_or_none(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, value: float) -> float:
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"must be a positive number, got {value}")
        return value

    @field_validator("block_size")
    @classmethod
    def _block(cls, value: int) -> int:
        if value < 16:
            raise ValueError(f"must be at least 16 tokens, got {value}")
        return value

    @field_validator("warmup_ratio")
    @classmethod
    def _ratio(cls, value: float) -> float:
        if not 0 <= value < 1:
            raise ValueError(f"must be in [0, 1), got {value}")
        return value

    @field_validator("weight_decay", "max_grad_norm")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"must be 0 or more, got {value}")
        return value

    @field_validator("adam_betas")
    @classmethod
    def _betas(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= b < 1 for b in value):
            raise ValueError(f"must be in [0, 1), got {value}")
        return value

    @model_validator(mode="after")
    def _combinations(self) -> SFTConfig:
        if self.liger and self.loss_average == "sequence":
            raise ValueError("--liger computes a token-mean loss; use --loss-average token with it")
        return self

    @classmethod
    def build(cls, **options) -> SFTConfig:
        """Build from options, turning validation errors into one readable ConfigError."""
        try:
            return cls(**options)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else ""
            message = first["msg"].removeprefix("Value error, ")
            name = field if field in NO_OPTION or not field else f"--{field.replace('_', '-')}"
            raise ConfigError(f"{name}: {message}" if name else message) from None

    @property
    def fingerprint(self) -> dict:
        """The fields a resumed run must share with the run it continues. Packing, micro-batch size,
        gradient checkpointing, liger and precision change how a step is computed, not what it computes."""
        keep = ("model", "format", "think_start", "think_end", "system", "answer_prefix", "epochs", "lr",
                "batch_size", "block_size", "warmup_ratio", "weight_decay", "adam_betas", "adam_eps",
                "max_grad_norm", "long_rows", "loss_average", "max_steps", "seed", "shuffle")
        return {name: getattr(self, name) for name in keep} | {"adam_betas": list(self.adam_betas)}
