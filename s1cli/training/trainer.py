"""The training loop: plain PyTorch under accelerate, read top to bottom.

One process or many (``accelerate launch``: DDP, FSDP, DeepSpeed) run the same code. Every process
computes the same plan for a step (``data.plan_step``) and takes its share, so the loss of a step is
the same whatever the number of processes, the packing or the micro-batch size: each forward pass
adds its weighted per-token losses divided by the step's normaliser (target tokens, or examples),
and gradients are synchronised once, after the step's last pass.

A checkpoint holds model, optimizer, scheduler and RNG states (``accelerator.save_state``) and the
step it ends; the data of step k+1 follows from the seed and k, so ``--resume`` continues exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..hardware import native_cpu_bf16
from ..model_format import RUN_RECORD
from .attention import Attention, ModelAttention, choose, register
from .config import SFTConfig
from .data import IGNORE, Example, Schedule, collate, plan_step, step_normalizer
from .loss import weighted_cross_entropy

CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.json"
METRICS = "metrics.jsonl"


class Reporter:
    """What the loop tells its caller (the command draws a progress bar). Called on the main process
    only; the default does nothing."""

    def started(self, total_steps: int, first_step: int) -> None: ...

    def step(self, record: dict) -> None: ...

    def saved(self, path: Path, step: int) -> None: ...

    def note(self, message: str) -> None: ...


@dataclass
class TrainResult:
    out_dir: Path
    steps: int  # steps run in this invocation
    total_steps: int
    first_loss: float | None
    last_loss: float | None
    tokens: int
    seconds: float
    compiled_from: int | None = None  # the first step run with compiled layers (None: all eager)


def _use_cpu() -> bool:
    """CPU processes: where there is no GPU, or when asked (``accelerate launch --cpu``). Told to
    accelerate explicitly, since it only forms a multi-process CPU group when told."""
    import torch
    from accelerate.utils import parse_flag_from_env

    return not torch.cuda.is_available() or parse_flag_from_env("ACCELERATE_USE_CPU")


def _state() -> Any:
    from accelerate import PartialState

    return PartialState(cpu=_use_cpu())


def world() -> tuple[int, bool]:
    """(number of processes, whether this one is the main process) of the launch this runs in."""
    state = _state()
    return state.num_processes, state.is_main_process


def check_liger() -> None:
    """Fail early, in one line, when ``--liger`` cannot work here."""
    try:
        import liger_kernel.transformers  # noqa: F401
    except ImportError:
        raise ConfigError("--liger needs the liger-kernel package: pip install liger-kernel (CUDA GPUs only)") from None
    if _use_cpu():
        raise ConfigError("--liger needs a CUDA GPU (liger-kernel's fused cross-entropy is a Triton kernel)")


@dataclass(frozen=True)
class Device:
    cpu: bool  # CPU processes, else one GPU each
    precision: str  # bf16 (autocast over fp32 master weights) or fp32
    attention: Attention  # its implementation is the model's attn_implementation
    bf16_emulated: bool = False  # bf16 asked for on a CPU that has no bf16 instructions: ~20x slower


def decide_device(precision: str, attention: str, model: str) -> Device:
    """How a run computes, decided here alone so the preflight report describes what ``train`` does:
    bf16 on GPUs that have it (unless --precision says), and the attention ``attention.choose`` picks
    for the model: flash-attention 2 (varlen) when installed on a GPU, else per-example SDPA, else
    per-example eager attention (models that softcap attention logits)."""
    import torch
    from transformers.utils import is_flash_attn_2_available

    cpu = _use_cpu()
    if precision == "auto":
        precision = "bf16" if not cpu and torch.cuda.is_bf16_supported() else "fp32"
    chosen = choose(attention, ModelAttention.of(model), cpu=cpu, flash_installed=is_flash_attn_2_available())
    if chosen.choice != "flash":
        register()
    emulated = cpu and precision == "bf16" and not native_cpu_bf16()
    return Device(cpu=cpu, precision=precision, attention=chosen, bf16_emulated=emulated)


def compile_layers(model: Any) -> list[Any]:
    """Regional compilation: ``torch.compile`` each repeated block (the classes transformers lists in
    ``_no_split_modules``, e.g. ``Qwen2DecoderLayer``) rather than the whole model. The blocks share
    their code, so one compilation serves them all; dynamic shapes, since every step's packed row
    has its own length. Returns the compiled modules (the whole model when it lists none)."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    blocks = [m for m in model.modules() if type(m).__name__ in names] or [model]
    for block in blocks:
        block.compile(dynamic=True)
    return blocks


def separate_compile_cache() -> None:
    """torch's inductor cache does not tell CPU kernels built for one vector ISA from another's: a run
    under ``ATEN_CPU_CAPABILITY=avx2`` then one without crashes the second ("double free or corruption",
    torch 2.13). Unless the user chose a cache directory, keep one per ISA inside torch's default.
    Called before anything imports ``torch._dynamo``, which fixes the directory for the process."""
    import getpass
    import tempfile

    import torch

    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid_{os.getuid()}"
    isa = torch.backends.cpu.get_cpu_capability().lower()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), f"torchinductor_{user}", f"s1-{isa}")


def uncompile(blocks: Sequence[Any]) -> None:
    """Undo ``compile_layers``: the modules run eagerly again (``Module.compile`` only sets this)."""
    for block in blocks:
        block._compiled_call_impl = None


# --compile's default (auto) compiles a run once its first steps show that the rest would take at least
# this long eagerly. Regional compilation costs 5-30 s on a CPU and makes each step 5-20% faster (see
# benchmarks/sft.py): below a couple of minutes it does not pay for itself. S1_AUTO_COMPILE_SECONDS
# overrides it (0: compile any run of 3 steps or more).
AUTO_COMPILE_SECONDS = 120.0
COMPILE_DECIDED_AFTER = 2  # steps of this invocation: the first includes warm-up, the second is typical


@dataclass(frozen=True)
class CompilePlan:
    """What --compile means for this run: compile from the start (``on``), never (``off``), or decide
    after the first steps (``measure``, the auto default where compiling can work); ``why`` says which."""

    mode: Literal["on", "off", "measure"]
    why: str
    threshold: float = AUTO_COMPILE_SECONDS  # measure: compile when the rest would take this long eagerly

    def describe(self) -> str:
        return {"on": "each decoder layer (--compile)", "off": f"no ({self.why})",
                "measure": f"auto: {self.why}"}[self.mode]


def plan_compile(setting: str, *, cpu: bool, processes: int) -> CompilePlan:
    """Auto compiles single-process CPU runs that have a C++ compiler and prove long enough: that is
    where it is measured here (GPUs: --compile, which is untested without one)."""
    from ..hardware import cpp_compiler

    if setting == "on":
        return CompilePlan("on", "--compile")
    if setting == "off":
        return CompilePlan("off", "--no-compile")
    if not cpu:
        return CompilePlan("off", "auto compiles on CPU only; --compile to compile on a GPU")
    if processes > 1:
        return CompilePlan("off", "auto compiles single-process runs only; --compile to compile every process")
    compiler = cpp_compiler()
    if compiler is None:
        return CompilePlan("off", "no C++ compiler for torch.compile: set $CXX or install g++ for faster steps")
    threshold = float(os.environ.get("S1_AUTO_COMPILE_SECONDS", AUTO_COMPILE_SECONDS))
    return CompilePlan("measure", f"each decoder layer from step {COMPILE_DECIDED_AFTER + 1} if the remaining "
                                  f"steps would take {threshold:g} s or more without it ({Path(compiler).name})",
                       threshold)


@contextlib.contextmanager
def compile_errors(active: bool) -> Any:
    """With --compile, torch.compile's failures (no C++ compiler, no Triton, an unsupported model)
    surface at the first forward or backward: make them one line that says how to go on."""
    try:
        yield
    except Exception as exc:
        if active and _from_compiler(exc):
            raise ConfigError(f"--compile: torch.compile failed ({_first_line(exc)}); run without --compile") from None
        raise


def _from_compiler(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("torch._dynamo", "torch._inductor"))


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def data_fingerprint(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(f"{ex.train_start},{ex.train_end},{len(ex.ids)};".encode())
        digest.update(bytes(str(ex.ids), "ascii"))
    return digest.hexdigest()


def train(config: SFTConfig, examples: Sequence[Example], tokenizer: Any, out_dir: Path, *, resume: bool = False,
          reporter: Reporter | None = None) -> TrainResult:
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, set_seed
    from transformers import AutoConfig, AutoModelForCausalLM, get_cosine_schedule_with_warmup

    reporter = reporter or Reporter()
    out_dir = Path(out_dir)

    # -- 1. processes and precision: bf16 autocast over fp32 master weights on GPUs that have it
    device = decide_device(config.precision, config.attention, config.model)
    accelerator = Accelerator(cpu=device.cpu, mixed_precision="bf16" if device.precision == "bf16" else "no")
    main = accelerator.is_main_process
    say = reporter.note if main else (lambda message: None)
    set_seed(config.seed)

    # -- 2. the model: fp32 weights; attention that keeps packed examples apart (see attention.py)
    saved_dtype = getattr(AutoConfig.from_pretrained(config.model), "dtype", None)
    model = AutoModelForCausalLM.from_pretrained(config.model, dtype=torch.float32,
                                                 attn_implementation=device.attention.implementation)
    model.config.use_cache = False
    if config.gradient_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x; the old name warns
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if config.liger:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=model)  # fused linear cross-entropy, RMSNorm, RoPE, SwiGLU
    compile_plan = plan_compile(config.compile, cpu=device.cpu, processes=accelerator.num_processes)
    compiled = compile_layers(model) if compile_plan.mode == "on" else []

    # -- 3. optimizer (no weight decay on biases and norms, as transformers' Trainer) and schedule
    def make_optimizer(module: Any) -> Any:
        params = [p for p in module.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.adam_betas, eps=config.adam_eps,
                                 fused=True)  # one kernel per parameter group, on CPU too

    if accelerator.distributed_type == DistributedType.FSDP and not accelerator.is_fsdp2:
        model = accelerator.prepare(model)  # FSDP1 flattens parameters: build the optimizer on the wrapped model
        optimizer = accelerator.prepare(make_optimizer(model))
    else:
        model, optimizer = accelerator.prepare(model, make_optimizer(model))
    schedule = Schedule(len(examples), config.batch_size, config.epochs, config.seed, config.max_steps, config.shuffle)
    total = schedule.total_steps
    warmup = math.ceil(config.warmup_ratio * total)
    scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, total)
    accelerator.register_for_checkpointing(scheduler)

    # -- 4. resume from the latest checkpoint
    fingerprint = {"config": config.fingerprint, "data": data_fingerprint(examples)}
    start = 0
    if resume:
        latest = latest_checkpoint(out_dir)
        if latest is None:
            say(f"no checkpoint in {out_dir / CHECKPOINTS}: starting from step 0")
        else:
            state = json.loads((latest / TRAINER_STATE).read_text(encoding="utf-8"))
            check_fingerprint(state.get("fingerprint", {}), fingerprint, latest)
            accelerator.load_state(str(latest))
            start = state["step"]
            say(f"resuming from {latest} (step {start:,} of {total:,})")
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        keep_metrics(out_dir / METRICS, start)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    ranks, rank = accelerator.num_processes, accelerator.process_index

    def forward_loss(batch: Any) -> Any:
        """The sum of this pass's weighted target losses (fp32)."""
        inputs = {"input_ids": batch.input_ids, "position_ids": batch.position_ids, "use_cache": False,
                  **batch.attention_kwargs()}
        if config.liger:  # liger's fused linear cross-entropy: logits never materialised; token weights are 1
            return model(**inputs, shift_labels=batch.targets, num_items_in_batch=1.0).loss
        keep = (batch.targets[0] != IGNORE).nonzero().squeeze(-1)
        if keep.numel() == 0:  # a placeholder pass: zero loss, but every parameter in the graph
            return model(**inputs, logits_to_keep=1).logits.sum() * 0.0
        logits = model(**inputs, logits_to_keep=keep).logits[0]  # only where a target is
        return weighted_cross_entropy(logits, batch.targets[0, keep], batch.weights[0, keep])

    def accumulate(passes: Sequence[Any], scale: float) -> Any:
        """One step's forward and backward passes; gradients accumulate. Returns the step's loss."""
        step_loss = torch.zeros((), device=accelerator.device)
        for k, micro in enumerate(passes):
            batch = collate(micro, examples, pad_id=pad_id, loss_average=config.loss_average)
            batch = batch.to(accelerator.device)
            last = k == len(passes) - 1
            accelerator.sync_gradients = last  # DeepSpeed steps and the optimizer wrapper acts on the last pass
            with contextlib.nullcontext() if last else accelerator.no_sync(model), \
                    compile_errors(compile_plan.mode == "on"):
                loss = forward_loss(batch) * scale
                accelerator.backward(loss)
            step_loss += loss.detach()
        return step_loss

    # -- 5. the loop
    model.train()
    compiled_from = start + 1 if compiled else None
    if main:
        reporter.started(total, start)
    began, tokens_seen, first_loss, last_loss = time.perf_counter(), 0, None, None
    completed, last_saved, updating = start, start, False
    stop = _StopAtStepBoundary()
    try:
        for step in range(start, total):
            stop.check()
            step_began = time.perf_counter()
            indices = schedule.examples_for(step)
            plan = plan_step(examples, indices, world_size=ranks, micro_batch_size=config.micro_batch_size,
                             block_size=config.block_size, packing=config.packing)
            scale = ranks / step_normalizer(examples, indices, config.loss_average)  # DDP averages over ranks
            passes = plan[rank]
            try:
                step_loss = accumulate(passes, scale)
            except Exception as exc:
                if compile_plan.mode != "measure" or not compiled or not _from_compiler(exc):
                    raise
                # auto compiled and the compiler failed: this step again, eagerly, and the rest of the run too
                say(f"torch.compile failed ({_first_line(exc)}): training on without it")
                uncompile(compiled)
                compiled, compiled_from = [], None
                optimizer.zero_grad(set_to_none=True)
                step_loss = accumulate(passes, scale)
            # From here until `completed` moves on, weights and step count disagree: no checkpoint.
            updating = True
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm or math.inf)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            loss_value = accelerator.reduce(step_loss, "mean").item()
            step_tokens = sum(len(examples[i]) for i in indices)
            seconds = time.perf_counter() - step_began
            tokens_seen += step_tokens
            first_loss = loss_value if first_loss is None else first_loss
            last_loss = loss_value
            record = {"step": step + 1, "epoch": round(schedule.epoch_of(step), 4), "loss": loss_value, "lr": lr,
                      "grad_norm": None if grad_norm is None else float(grad_norm), "examples": len(indices),
                      "tokens": step_tokens, "tokens_per_s": step_tokens / seconds, "seconds": seconds,
                      "elapsed": time.perf_counter() - began}  # since this invocation's loop began
            if main:
                with open(out_dir / METRICS, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            updating, completed = False, step + 1
            if main:
                reporter.step(record)
            if compile_plan.mode == "measure" and completed - start == COMPILE_DECIDED_AFTER and completed < total:
                # the step just measured stands for the rest: compile if they would take long enough eagerly
                remaining = seconds * (total - completed)
                if remaining >= compile_plan.threshold:
                    say(f"compiling each decoder layer: the remaining {total - completed:,} steps would take "
                        f"~{remaining / 60:,.1f} min eagerly (--no-compile to keep eager steps)")
                    compiled, compiled_from = compile_layers(accelerator.unwrap_model(model)), completed + 1
            if config.save_every and (step + 1) % config.save_every == 0 and step + 1 < total:
                save_checkpoint(accelerator, out_dir, completed, fingerprint, config.keep_checkpoints, reporter)
                last_saved = completed
        stop.check()
    except BaseException as exc:
        # Interrupted (Ctrl-C, SIGTERM): keep what the finished steps learnt. Errors are not
        # saved over: the state after one may not be worth resuming from.
        # Only a single process saves here: the others may not have been interrupted at the same point.
        interrupted = not isinstance(exc, Exception)
        if interrupted and not updating and completed > last_saved and ranks == 1:
            save_checkpoint(accelerator, out_dir, completed, fingerprint, config.keep_checkpoints, reporter)
        raise
    finally:
        stop.restore()

    # -- 6. the model, tokenizer and chat template, in HF format and the base model's dtype
    accelerator.wait_for_everyone()
    state_dict = accelerator.get_state_dict(model)
    if main:
        unwrapped = accelerator.unwrap_model(model)
        unwrapped.config.use_cache = True
        if isinstance(saved_dtype, torch.dtype) and saved_dtype.is_floating_point:
            state_dict = {k: v.to(saved_dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
            unwrapped.config.dtype = saved_dtype
        staging = out_dir / ".final.partial"
        shutil.rmtree(staging, ignore_errors=True)
        unwrapped.save_pretrained(staging, state_dict=state_dict)
        tokenizer.save_pretrained(staging)
        for item in staging.iterdir():
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
        staging.rmdir()
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(out_dir=out_dir, steps=total - start, total_steps=total, first_loss=first_loss,
                       last_loss=last_loss, tokens=tokens_seen, seconds=time.perf_counter() - began,
                       compiled_from=compiled_from)


# ----------------------------------------------------------------------------- checkpoints


class _StopAtStepBoundary:
    """Defers SIGINT/SIGTERM to the end of the current step, so an interrupt never lands between
    an optimizer update and the step count that records it (a checkpoint is then always
    possible). A second signal before the boundary stops at once."""

    def __init__(self) -> None:
        self.pending: tuple[int, Any] | None = None
        self.previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach only the main thread; nothing to defer elsewhere
        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._defer)

    def _defer(self, signum: int, frame: Any) -> None:
        if self.pending is not None:
            self._raise(signum, frame)
        self.pending = (signum, frame)

    def _raise(self, signum: int, frame: Any) -> None:
        handler = self.previous.get(signum)
        if callable(handler):
            handler(signum, frame)  # the CLI's handlers raise KeyboardInterrupt / Terminated
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.pending is not None:
            signum, frame = self.pending
            self.pending = None
            self._raise(signum, frame)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}


def checkpoint_dirs(out_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a checkpoint is complete once its trainer state is written)."""
    root = Path(out_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / TRAINER_STATE).exists()]
    return sorted(found, key=lambda p: int(p.name.removeprefix("step-")))


def latest_checkpoint(out_dir: Path) -> Path | None:
    found = checkpoint_dirs(out_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator: Any, out_dir: Path, step: int, fingerprint: dict, keep: int,
                    reporter: Reporter) -> None:
    """Write ``checkpoints/step-NNNNNN`` beside its final name and rename it, then drop old ones."""
    root = Path(out_dir) / CHECKPOINTS
    final = root / f"step-{step:06d}"
    staging = root / f".step-{step:06d}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (staging / TRAINER_STATE).write_text(json.dumps({"step": step, "fingerprint": fingerprint}, indent=1) + "\n",
                                             encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for old in checkpoint_dirs(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        reporter.saved(final, step)
    accelerator.wait_for_everyone()


def check_fingerprint(saved: dict, current: dict, where: Path) -> None:
    if saved.get("data") != current["data"]:
        raise ConfigError(f"{where}: the checkpoint was trained on different data (the table, --map, --format, "
                          "--system, --answer-prefix or the tokenizer changed); use --overwrite to start afresh")
    old, new = saved.get("config", {}), current["config"]
    for name, value in new.items():
        if old.get(name) != value:
            option = "--" + name.replace("_", "-")
            raise ConfigError(f"{where}: the checkpoint was trained with {option} {old.get(name)!r}, not {value!r}; "
                              "use the same options to resume, or --overwrite to start afresh")


def keep_metrics(path: Path, upto: int) -> None:
    """Drop metric lines past the step a resumed run restarts from (they were never checkpointed)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= upto]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def check_out_dir(out_dir: Path, *, overwrite: bool) -> str:
    """What to do with OUTDIR, decided before anything is computed: ``fresh``, ``resume`` (an unfinished
    run of ours: rerunning the same command continues it, as every s1 command resumes), ``finished``
    (nothing to do) or ``overwrite`` (an earlier run of ours to clear; a directory holding anything
    else is never deleted)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a directory")
    entries = list(out_dir.iterdir()) if out_dir.is_dir() else []
    if not entries:
        return "fresh"
    if not any((out_dir / name).exists() for name in (RUN_RECORD, METRICS, CHECKPOINTS)):
        raise ConfigError(f"{out_dir}: directory is not empty and holds no s1 sft run; choose a new OUTDIR")
    finished = (out_dir / RUN_RECORD).exists()
    if overwrite:
        return "overwrite"
    return "finished" if finished else "resume"


def clear_out_dir(out_dir: Path) -> None:
    """Delete an earlier run (checked by ``check_out_dir``), once, on the main process."""
    state = _state()
    if state.is_main_process:
        shutil.rmtree(out_dir)
    state.wait_for_everyone()


def shards_for_states() -> int:
    """Over how many processes weights, gradients and optimizer states are split (FSDP, DeepSpeed)."""
    from accelerate.utils import DistributedType

    state = _state()
    sharded = state.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    return state.num_processes if sharded else 1


def write_run_record(out_dir: Path, record: dict) -> None:
    """The run's options, preflight numbers and result; written last, so it marks a finished run."""
    path = Path(out_dir) / RUN_RECORD
    staging = path.with_name(path.name + ".partial")
    staging.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
    staging.replace(path)
