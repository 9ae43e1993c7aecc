"""``s1 sft``: supervised fine-tuning on reasoning traces, one CPU to many GPUs."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.text import Text

from .. import __version__
from ..engines.base import parse_model_ref
from ..errors import ConfigError
from ..layouts import column_map
from ..model_format import format_record, resolve_format
from ..table import read_rows
from ..thinking import foreign_delimiter
from . import options
from .ui import info, progress, settings

EXAMPLES = """Examples:

  s1 sft s1k.jsonl models/s1-tiny --model hf:models/tiny --epochs 3 --lr 1e-3 --batch-size 8 --block-size 4096

  s1 sft s1K.parquet ckpts/s1 --model hf:Qwen/Qwen2.5-32B-Instruct -m thinking=thinking_trajectories -m response=attempt

  s1 sft s1k.jsonl out/r1 --model hf:Qwen/Qwen2.5-0.5B-Instruct --format r1 --preflight-only

  s1 sft s1k.jsonl out/run --model hf:models/tiny --save-every 50 --resume

  accelerate launch --config_file fsdp.yaml -m s1cli.cli sft s1k.jsonl ckpts/s1 --model hf:Qwen/Qwen2.5-32B-Instruct
"""


def sft_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN",
                                 help="Training table with question, thinking and response columns (- for stdin)."),
    out_dir: Path = typer.Argument(..., metavar="OUTDIR",
                                   help="Where the fine-tuned model, checkpoints and metrics.jsonl go."),
    model: str = typer.Option(..., "--model", help="Base model: hf:PATH_OR_ID (paper: hf:Qwen/Qwen2.5-32B-Instruct)."),
    format_: str = typer.Option(
        "auto", "--format", metavar="[auto|s1|r1|qwen3|custom]",
        help="Thinking format: s1 (paper), r1, qwen3 or custom. auto: the one whose delimiters the tokenizer holds "
             "as single tokens (s1 for Qwen2.5, as the paper). Recorded in OUTDIR: generate and bench read it."),
    think_start: str = typer.Option(None, "--think-start", help="With --format custom: the text that opens thinking."),
    think_end: str = typer.Option(None, "--think-end", help="With --format custom: the text that ends thinking."),
    system: str = typer.Option(None, "--system",
                               help="System message (use the same with s1 generate; default: the template's)."),
    answer_prefix: str = typer.Option(
        None, "--answer-prefix",
        help="Text written before each answer unless it has it (default: 'Answer: ' for s1, as the s1 repository)."),
    epochs: int = typer.Option(5, "--epochs", help="Passes over the data (paper: 5)."),
    lr: float = typer.Option(1e-5, "--lr", help="Peak learning rate, cosine decay to 0 (paper: 1e-5)."),
    batch_size: int = typer.Option(16, "--batch-size", help="Examples per optimizer step, all processes (paper: 16)."),
    micro_batch_size: int = typer.Option(
        1, "--micro-batch-size",
        help="Per forward pass: packed blocks with --packing, else examples; gradients accumulate to --batch-size."),
    block_size: int = typer.Option(32768, "--block-size",
                                   help="Longest example and packed block, in tokens (paper: 32768)."),
    warmup_ratio: float = typer.Option(0.05, "--warmup-ratio", help="Share of steps of linear warmup (paper: 0.05)."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", help="AdamW weight decay (paper: 1e-4); β=(0.9, 0.95)."),
    max_grad_norm: float = typer.Option(1.0, "--max-grad-norm", help="Clip the gradient norm (0: no clipping)."),
    packing: bool = typer.Option(True, "--packing/--no-packing",
                                 help="Several examples per forward pass, attention kept within each."),
    gradient_checkpointing: bool = typer.Option(False, "--gradient-checkpointing",
                                                help="Recompute activations in backward: less memory, ~30% slower."),
    compile_: bool | None = typer.Option(
        None, "--compile/--no-compile", show_default=False,
        help="torch.compile each decoder layer (fuses norms, RoPE and activations): faster steps after seconds "
             "to minutes of compiling. Default: auto, on CPU once two steps show the rest of the run would take "
             "2 minutes or more eagerly (and a C++ compiler is found)."),
    attention: str = typer.Option(
        "auto", "--attention", metavar="[auto|flash|sdpa|eager]",
        help="How packed examples attend, each only to itself: flash (flash-attn varlen, GPU), sdpa (PyTorch SDPA "
             "per example) or eager (written out per example; models that softcap attention logits, as Gemma 2). "
             "auto: flash where installed on a GPU, else sdpa where the model allows it, else eager."),
    liger: bool = typer.Option(False, "--liger", help="liger-kernel's fused linear cross-entropy (CUDA; pip install "
                                                      "liger-kernel): logits never materialised."),
    long_rows: str = typer.Option("truncate", "--long-rows", metavar="[truncate|drop]",
                                  help="Rows longer than --block-size: truncate (as the s1 run) or drop."),
    loss_average: str = typer.Option(
        "token", "--loss-average", metavar="[token|sequence]",
        help="token: mean over the step's target tokens; sequence: mean of per-example means (the s1 run's)."),
    precision: str = typer.Option("auto", "--precision", metavar="[auto|bf16|fp32]",
                                  help="auto (bf16 on GPUs that have it, else fp32), bf16 (autocast), fp32."),
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after N optimizer steps (replaces --epochs)."),
    save_every: int = typer.Option(None, "--save-every",
                                   help="Checkpoint every N steps (a rerun continues from the latest)."),
    keep_checkpoints: int = typer.Option(1, "--keep-checkpoints", help="How many recent checkpoints to keep."),
    adam_betas: str = typer.Option("0.9,0.95", "--adam-betas", metavar="B1,B2",
                                   help="AdamW betas (paper: 0.9,0.95)."),
    paper: bool = typer.Option(False, "--paper",
                               help="The s1 run's exact procedure where the defaults differ for speed: no packing, "
                                    "loss averaged per example (--loss-average sequence), one example per pass."),
    resume: bool = typer.Option(False, "--resume", help="Continue the unfinished run in OUTDIR (what rerunning "
                                "the same command does anyway; kept for scripts that say it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete an earlier run in OUTDIR and start afresh."),
    seed: int = typer.Option(0, "--seed", help="Seed for the data order (and anything random)."),
    shuffle: bool = typer.Option(True, "--shuffle/--no-shuffle",
                                 help="Reshuffle the rows each epoch (seeded), or keep the table's order."),
    preflight_only: bool = typer.Option(False, "--preflight-only",
                                        help="Print the preflight report and stop before loading weights."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
) -> None:
    """Fine-tune a chat model on reasoning traces, as s1 did (paper §3), with the paper's settings as defaults.

    Each row becomes the chat template's prompt for the question (exactly what `s1 generate`
    sends), then thinking, the end-of-thinking delimiter, the answer and the end-of-turn token;
    only those carry loss. Examples are packed into blocks without attending to each other. A
    preflight report (token lengths against the block, truncated rows, loss share, stop token,
    memory) is printed first. Writes OUTDIR: the model, tokenizer and chat template in HF format
    (`s1 generate --model hf:OUTDIR` works), metrics.jsonl, checkpoints/ and s1_sft.json.
    Multi-GPU: `accelerate launch -m s1cli.cli sft ...` with an FSDP or DeepSpeed config.
    """
    from ..training.config import PAPER, SFTConfig
    from ..training.data import build_examples, load_tokenizer
    from ..training.preflight import ModelShape, build_report
    from ..training.trainer import (
        Reporter,
        check_liger,
        check_out_dir,
        clear_out_dir,
        decide_device,
        plan_compile,
        separate_compile_cache,
        shards_for_states,
        train,
        world,
        write_run_record,
    )

    if compile_ is not False:
        separate_compile_cache()
    if paper:
        # --paper sets the s1 run's procedure where the defaults differ; options given explicitly still win.
        given = options.given(ctx)
        packing = PAPER["packing"] if "packing" not in given else packing
        loss_average = PAPER["loss_average"] if "loss_average" not in given else loss_average
        micro_batch_size = PAPER["micro_batch_size"] if "micro_batch_size" not in given else micro_batch_size
    ref = parse_model_ref(model)
    if ref.backend != "hf":
        raise ConfigError(f"--model {model}: s1 sft trains transformers models; use hf:PATH_OR_ID")
    config = SFTConfig.build(
        model=ref.model, format=format_, think_start=think_start, think_end=think_end, system=system,
        answer_prefix=answer_prefix, epochs=epochs, lr=lr, batch_size=batch_size, micro_batch_size=micro_batch_size,
        block_size=block_size, warmup_ratio=warmup_ratio, weight_decay=weight_decay, max_grad_norm=max_grad_norm,
        packing=packing, gradient_checkpointing=gradient_checkpointing, liger=liger,
        compile={None: "auto", True: "on", False: "off"}[compile_], attention=attention,
        long_rows=long_rows,
        loss_average=loss_average, precision=precision, max_steps=max_steps, save_every=save_every,
        adam_betas=_betas(adam_betas),
        keep_checkpoints=keep_checkpoints, seed=seed, shuffle=shuffle)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other; pass one")
    plan = "fresh" if preflight_only else check_out_dir(out_dir, overwrite=overwrite)
    if plan == "finished":
        info(ctx, f"{out_dir}: the run has already finished; nothing to do (--overwrite trains afresh)")
        return
    if liger:
        check_liger()

    # Everything that can be wrong with the input is found here, before any weight is loaded.
    rows = read_rows(source, require=["question", "thinking", "response"], renames=column_map(map_, layout))
    tokenizer, eos_ids = load_tokenizer(ref.model)
    chosen = resolve_format(format_, model_dir=ref.model, start=think_start, end=think_end,
                            tokenizer=lambda: tokenizer)
    fmt = chosen.fmt
    custom = fmt.name == "custom"
    config = config.model_copy(update={"format": fmt.name, "think_start": fmt.start if custom else None,
                                       "think_end": fmt.end if custom else None})
    renderer, prepared = build_examples(rows, tokenizer, fmt, block_size=config.block_size,
                                        long_rows=config.long_rows, source=source, system=system,
                                        answer_prefix=answer_prefix, eos_ids=eos_ids)
    processes, main = world()
    device = decide_device(config.precision, config.attention, ref.model)
    report = build_report(prepared, renderer, config, source=source, rows=rows, world_size=processes,
                          shape=ModelShape.from_pretrained(ref.model), attention=device.attention.describe(),
                          shards=shards_for_states(), bf16=device.precision == "bf16",
                          bf16_emulated=device.bf16_emulated,
                          compile=plan_compile(config.compile, cpu=device.cpu, processes=processes).describe(),
                          thinking_format=chosen.describe(),
                          eager_attention=device.attention.choice == "eager")
    if note := foreign_delimiter(tokenizer, fmt):
        report.warnings.append(note)
    if main:
        show_report(ctx, report)
    if preflight_only:
        return
    if plan == "overwrite":
        clear_out_dir(out_dir)

    class Progress(Reporter):
        def started(self, total: int, first: int) -> None:
            if first:
                advance(first)

        def step(self, record: dict) -> None:
            advance(1, f"loss {record['loss']:.4f} · {record['tokens_per_s']:,.0f} tok/s")

        def saved(self, path: Path, step: int) -> None:
            info(ctx, f"saved {path} at step {step:,} (rerun the same command to continue from it)")

        def note(self, message: str) -> None:
            info(ctx, message)

    began = time.time()
    with progress(ctx, "training", report.total_steps if main else None) as advance:
        result = train(config, prepared.examples, tokenizer, out_dir, resume=plan == "resume", reporter=Progress())
    if main:
        write_run_record(out_dir, {
            "s1cli": __version__, "command": "sft", "source": source, "model": model,
            "config": config.model_dump(), "thinking_format": format_record(fmt), "processes": processes,
            "preflight": report.summary(),
            "result": {"steps": result.steps, "total_steps": result.total_steps, "first_loss": result.first_loss,
                       "last_loss": result.last_loss, "tokens": result.tokens, "seconds": round(result.seconds, 3),
                       "compiled_from_step": result.compiled_from},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                                                       time.localtime(began)),
        })
        rate = result.tokens / max(result.seconds, 1e-9)
        losses = ("" if result.first_loss is None else
                  f", loss {result.first_loss:.4f} → {result.last_loss:.4f}")
        info(ctx, f"trained {result.steps:,} steps{losses}, {rate:,.0f} tok/s; wrote {out_dir} "
                  f"(use it with: s1 generate IN OUT --model hf:{out_dir}; its {fmt.name} thinking format is "
                  "recorded there)")


def _betas(text: str) -> tuple[float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        first, second = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(f"--adam-betas {text!r}: expected two numbers B1,B2, e.g. 0.9,0.95") from None
    return first, second


def show_report(ctx: typer.Context, report) -> None:
    for line in report.lines():
        info(ctx, line)
    s = settings(ctx)
    if s.quiet or not report.sample:
        return
    # The first example as trained: loss-carrying text in green, the rest dim, long parts elided.
    text = Text("  first example (green carries loss): ", style="bold")
    for part, trained in report.sample:
        shown = part if len(part) <= 400 else part[:200] + " … " + part[-160:]
        text.append(shown, style="green" if trained else "dim")
    s.console.print(text, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("sft", epilog=EXAMPLES)(sft_command)
