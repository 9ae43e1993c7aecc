"""``s1 bench``: accuracy against thinking budget — generate per budget and grade, or grade an existing
table — with pass@k / maj@k, the paper's Control / Scaling / Performance, a report and plots."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from .. import bench as lib
from ..engines import load_engine, parse_model_ref, settings_line
from ..engines.base import Sampling
from ..engines.engine_args import vllm_options
from ..errors import ConfigError, InputError
from ..evalsets import Subset, load_tasks, parse_tasks
from ..forcing import Budget
from ..generation import GenerateSpec, Shard
from ..layouts import column_map
from ..length_control import BUDGET_FORCING, MAJORITY, parse_methods
from ..model_format import format_for_model, resolve_format
from ..plots import parallel_and_sequential, write_scaling_plot
from ..report import budget_label, markdown, method_note, pct, tokens, write_results, write_summaries
from ..schema import Renames
from ..table import write_table, write_text_atomic
from . import options
from .ui import info, progress, settings

EXAMPLES = """Examples:

  s1 bench runs/tiny --model hf:models/tiny --tasks math500 --limit 20 --budgets 64,128

  s1 bench runs/s1.1 --model vllm:simplescaling/s1.1-32B --tasks aime24,math500 --budgets 512,1024,2048,4096 --n 8

  s1 bench runs/waits --model vllm:simplescaling/s1-32B --tasks gpqa_diamond=gpqa.csv --budgets none --num-waits 0,2,4

  s1 bench runs/graded --predictions gens.parquet

  s1 bench runs/cmp --compare runs/s1.1 --compare runs/qwen

  s1 bench runs/big --model vllm:simplescaling/s1.1-32B --tasks math500 --budgets 1024,4096 --shard 0/4
"""

# Worker processes take ~3 s to start (math-verify imports sympy), and on two cores they only
# compete with each other (benchmarks/bench.py): by default they grade only large tables on
# machines with at least four cores.
AUTO_WORKERS_FROM = 2000
AUTO_WORKERS_MIN_CPUS = 4


def bench_command(
    ctx: typer.Context,
    outdir: Path = typer.Argument(..., metavar="OUTDIR",
                                  help="Directory for generations, samples.parquet, summary.csv, report.md, plots."),
    model: str = typer.Option(None, "--model", help="Generate with this model: hf:PATH_OR_ID, vllm:PATH_OR_ID, "
                                                    "openai:NAME (with --base-url)."),
    predictions: str = typer.Option(None, "--predictions", metavar="TABLE",
                                    help="Grade this table of generations instead (needs id, response, answer)."),
    compare: list[Path] = typer.Option(None, "--compare", metavar="DIR",
                                       help="Overlay another bench directory's runs in the report and plot "
                                            "(repeatable)."),
    tasks: str = typer.Option(None, "--tasks", help="Comma-separated: aime24, aime25, math500, gpqa_diamond=FILE, "
                                                    "FILE or NAME=FILE (a table with question and answer)."),
    budgets: str = typer.Option("none", "--budgets", help="Thinking caps to sweep, comma-separated; none = no cap."),
    num_waits: str = typer.Option("0", "--num-waits",
                                  help="Forced 'Wait's to sweep, comma-separated (each combined with each budget)."),
    methods: str = typer.Option(
        BUDGET_FORCING, "--methods", metavar="METHOD,...",
        help="Ways of controlling thinking to compare, comma-separated: budget-forcing (caps and --num-waits), "
             "majority-vote (parallel: --votes unforced samples), token-conditional and step-conditional (the "
             "prompt states each budget; +budget-forcing also caps it), class-conditional (short / long prompt), "
             "rejection-sampling (draw until the thinking ends within each budget)."),
    votes: int = typer.Option(16, "--votes", min=1,
                              help="majority-vote: unforced samples per question; votes over k = 1, 2, 4, ... of "
                                   "them."),
    step_tokens: int = options.STEP_TOKENS,
    max_tries: int = options.MAX_TRIES,
    n: int = typer.Option(None, "--n", help="Samples per question [default: 1; with --predictions: all present]."),
    limit: int = typer.Option(None, "--limit", help="Keep the first N questions of each task."),
    subset: list[str] = typer.Option(None, "--subset", metavar="[TASK:]KEY=VALUES",
                                     help="Keep questions whose column or metadata KEY is one of VALUES, e.g. "
                                          "level=5 or 'math500:subject=Algebra,Geometry' (repeatable)."),
    label: str = typer.Option(None, "--label", help="Name of this run in reports and plots [default: the model]."),
    format_: str = options.FORMAT,
    think_start: str = options.THINK_START,
    think_end: str = options.THINK_END,
    split: bool = typer.Option(False, "--split",
                               help="--predictions: the response column holds thinking and answer; grade only the "
                                    "text after --format's end of thinking (none found = no answer)."),
    response_column: str = typer.Option("response", "--response-column",
                                        help="--predictions: the column with the answers."),
    min_thinking: int = options.MIN_THINKING,
    wait: str = options.WAIT,
    max_answer: int = options.MAX_ANSWER,
    answer_prefix: str = options.ANSWER_PREFIX,
    temperature: float = options.TEMPERATURE,
    top_p: float = options.TOP_P,
    seed: int = options.SEED,
    system: str = options.SYSTEM,
    batch_size: int = options.BATCH_SIZE,
    driver: str = options.DRIVER,
    dtype: str = options.DTYPE,
    device: str = options.DEVICE,
    base_url: str = options.BASE_URL,
    tokenizer: str = options.TOKENIZER,
    tensor_parallel_size: int = options.TENSOR_PARALLEL_SIZE,
    data_parallel_size: int = options.DATA_PARALLEL_SIZE,
    max_model_len: int = options.MAX_MODEL_LEN,
    gpu_memory_utilization: float = options.GPU_MEMORY_UTILIZATION,
    enforce_eager: bool = options.ENFORCE_EAGER,
    engine_arg: list[str] = options.ENGINE_ARG,
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0,
                                  help="Bootstrap resamples for the 95% accuracy intervals (0: none)."),
    workers: int = typer.Option(None, "--workers", min=1,
                                help="Processes grading answers [default: 1; one per CPU, up to 8, from "
                                     f"{AUTO_WORKERS_FROM:,} samples to grade on {AUTO_WORKERS_MIN_CPUS}+ CPUs]."),
    shard: str = typer.Option(None, "--shard", metavar="I/N",
                              help="--model: generate only shard I of N (by hash of id) and stop; run again "
                                   "without --shard, once every shard is done, to grade and report."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Measure accuracy against thinking budget, as the s1 paper's tables and figures do.

    With --model: generate every task's questions at every --budgets × --num-waits setting (budget
    forcing, the options of `s1 generate`), then grade. With --predictions: grade an existing table.
    With only --compare (or nothing): rebuild OUTDIR's report, overlaying the other directories' runs.
    The answer is taken from the text after the thinking (last \\boxed{}, "Final Answer:", "the answer
    is", a bold span, a choice letter) and compared with math-verify. Writes OUTDIR/samples.parquet
    (every graded sample), summary.csv, scaling.csv, report.md and scaling.png, and prints a table.
    Resumable: a rerun (after a crash, or with one more budget) only generates and grades what is missing.
    """
    if model and predictions:
        raise ConfigError("--model and --predictions are two ways to get generations; give one")
    vllm = vllm_options(parse_model_ref(model) if model else None, tensor_parallel_size=tensor_parallel_size,
                        data_parallel_size=data_parallel_size, max_model_len=max_model_len,
                        gpu_memory_utilization=gpu_memory_utilization, enforce_eager=enforce_eager,
                        engine_args=engine_arg)
    part = Shard.parse(shard)
    if part.count > 1 and not model:
        raise ConfigError("--shard splits generation: it needs --model")
    if n is not None and n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    subsets = [Subset.parse(s) for s in subset or ()]
    renames = column_map(map_, layout)
    compared = _compared_runs(compare or [], outdir)
    if model:
        own, config = _generate(ctx, outdir, model=model, tasks=tasks, budgets=budgets, num_waits=num_waits,
                                methods=parse_methods(methods), votes=votes, step_tokens=step_tokens,
                                max_tries=max_tries, n=n or 1, limit=limit, subsets=subsets, label=label,
                                renames=renames,
                                fmt_args=(format_, think_start, think_end),
                                budget=Budget(min_thinking_tokens=min_thinking, wait=wait,
                                              max_answer_tokens=max_answer, answer_prefix=answer_prefix),
                                sampling=Sampling(temperature=temperature, top_p=top_p, seed=seed),
                                system=system, batch_size=batch_size, driver=driver,
                                engine_options={"dtype": dtype, "device": device, "base_url": base_url,
                                                "tokenizer": tokenizer, **vllm},
                                overwrite=overwrite, shard=part)
        if part.count > 1:
            info(ctx, f"shard {part.index}/{part.count} done; once every shard is, run the same command without "
                      "--shard to grade and report (it generates nothing the shards made)")
            return
    elif predictions:
        fmt = resolve_format(format_, start=think_start, end=think_end).fmt if split else None
        evalsets = load_tasks(parse_tasks(tasks), subsets=subsets, limit=limit, renames=renames) if tasks else None
        opts = lib.PredictionOptions(response_column=response_column, split=fmt, n=n, label=label, renames=renames)
        own = lib.load_predictions(predictions, opts, evalsets=evalsets, subsets=subsets, limit=limit)
        config = {"mode": "predictions", "predictions": predictions}
        lib.check_config(outdir, config, overwrite=overwrite)
    else:
        if tasks:
            raise ConfigError("--tasks needs --model (to generate) or --predictions (to grade)")
        own, config = _previous_run(outdir, compared)
    if own is not None:
        own = _grade(ctx, outdir, own, workers=workers, fresh=overwrite)
        lib.write_config(outdir, config)
        write_table(outdir / lib.SAMPLES_FILE, lib.order_samples(own))
    configs = {label_: config for label_ in _labels(own or [])}
    samples = list(own or [])
    for (rows, other), folder in zip(compared, compare or [], strict=True):
        # Two directories may hold runs of the same name (the same model, say): keep them apart.
        renamed = {}
        for label_ in _labels(rows):
            unique, suffix = label_, folder.name
            while unique in configs:
                unique = f"{label_} ({suffix})"
                suffix += "'"
            renamed[label_] = unique
            configs[unique] = other
        samples += [{**row, "run": renamed[row["run"]]} for row in rows]
    _report(ctx, outdir, samples, configs, resamples=bootstrap)


# ------------------------------------------------------------------------------------------ modes


def _generate(ctx: typer.Context, outdir: Path, *, model: str, tasks: str | None, budgets: str, num_waits: str,
              methods: list[str], votes: int, step_tokens: int, max_tries: int, n: int, limit: int | None,
              subsets: list[Subset], label: str | None, renames: Renames,
              fmt_args: tuple, budget: Budget, sampling: Sampling, system: str | None, batch_size: int,
              driver: str, engine_options: dict, overwrite: bool, shard: Shard) -> tuple[list[dict] | None, dict]:
    parse_model_ref(model)
    if not tasks:
        raise ConfigError("--model needs --tasks, e.g. --tasks aime24,math500")
    settings_ = lib.method_settings(methods, lib.parse_budgets(budgets), lib.parse_waits(num_waits),
                                    step_tokens=step_tokens, max_tries=max_tries)
    samples = {lib.UNFORCED: max(n, votes)} if MAJORITY in methods else {}
    evalsets = load_tasks(parse_tasks(tasks), subsets=subsets, limit=limit, renames=renames)
    chosen = format_for_model(fmt_args[0], model, start=fmt_args[1], end=fmt_args[2],
                              tokenizer=engine_options.get("tokenizer"))
    base = GenerateSpec(model=model, fmt=chosen.fmt, budget=budget, sampling=sampling, n=n, system=system,
                        batch_size=batch_size, driver=driver)
    lib.check_settings(base, settings_)
    run_label = label or lib.short_name(model)
    config = lib.generation_config(base, run_label)
    lib.check_config(outdir, config, overwrite=overwrite)
    if MAJORITY in methods and sampling.greedy:
        raise ConfigError("--methods majority-vote votes over different samples: with --temperature 0 they are "
                          "all the same; set --temperature (e.g. 0.7)")
    if n > 1 and sampling.greedy:
        info(ctx, f"note: --n {n} with --temperature 0: greedy samples are identical; "
                  "set --temperature for parallel sampling")
    units = lib.plan_units(outdir, evalsets, settings_, base, overwrite=overwrite, shard=shard, samples=samples)
    todo = sum(len(u.jobs) for u in units)
    held = {e.name: sum(shard.holds(r["id"]) for r in e.rows) for e in evalsets}  # questions in this shard
    for evalset in evalsets:
        note = f" of {evalset.total:,}" if len(evalset.rows) != evalset.total else ""
        in_shard = f" (shard {shard.index}/{shard.count}: {held[evalset.name]:,})" if shard.count > 1 else ""
        counts = "" if not samples else f" ({max(samples.values())} for majority voting)"
        info(ctx, f"{evalset.name}: {len(evalset.rows):,}{note} questions{in_shard} × {len(settings_)} settings × "
                  f"{n} samples{counts}")
    if todo == 0:
        info(ctx, f"nothing to generate: every sample is already in {outdir / lib.GENERATIONS_DIR}")
    else:
        done = sum(held[u.evalset.name] * u.n for u in units) - todo
        info(ctx, f"generating {todo:,} samples" + (f" ({done:,} already done)" if done else ""))
        engine = load_engine(model, **engine_options)
        if fmt_args[0] is None:
            info(ctx, f"thinking format: {chosen.describe()}")
        if line := settings_line(engine):
            info(ctx, line)
        lib.write_config(outdir, config)
        began, produced = time.perf_counter(), 0
        try:
            with progress(ctx, "generating", todo) as advance:
                def on_row(made: int) -> None:
                    nonlocal produced
                    produced += made
                    advance(1, f"{produced / (time.perf_counter() - began):,.0f} tok/s")

                lib.run_units(engine, units, on_row)
        finally:
            engine.close()
        elapsed = time.perf_counter() - began
        info(ctx, f"generated {todo:,} samples: {produced:,} tokens in {elapsed:.1f} s "
                  f"({produced / max(elapsed, 1e-9):,.0f} tok/s)")
    if shard.count > 1:
        return None, config
    return lib.generated_samples(units, run_label), config


def _previous_run(outdir: Path, compared: list) -> tuple[list[dict] | None, dict]:
    path = outdir / lib.SAMPLES_FILE
    if path.exists():
        return [dict(r) for r in lib.load_cache(outdir).values()], lib.read_config(outdir)
    if not compared:
        raise ConfigError(f"nothing to do: {outdir} holds no {lib.SAMPLES_FILE}; give --model (generate and grade), "
                          "--predictions (grade a table) or --compare DIR")
    return None, {}


def _compared_runs(dirs: list[Path], outdir: Path) -> list[tuple[list[dict], dict]]:
    runs = []
    for folder in dirs:
        if folder.resolve() == outdir.resolve():
            raise ConfigError(f"--compare {folder}: that is OUTDIR itself (its runs are in the report already)")
        path = folder / lib.SAMPLES_FILE
        if not path.exists():
            raise InputError(f"{path}: no such file (--compare takes directories written by s1 bench)")
        rows = [dict(r) for r in lib.load_cache(folder).values()]
        for row in rows:
            if row.get("correct") is None or "run" not in row:
                raise InputError(f"{path}: not graded by s1 bench (columns 'run' and 'correct' are needed)")
        runs.append((rows, lib.read_config(folder)))
    return runs


def _labels(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(r["run"] for r in rows))


def _grade(ctx: typer.Context, outdir: Path, samples: list[dict], *, workers: int | None, fresh: bool) -> list[dict]:
    cache = {} if fresh else lib.load_cache(outdir)
    pending = sum(1 for r in samples if lib.sample_key(r) not in cache)
    cpus = os.cpu_count() or 1
    count = workers or (min(cpus, 8) if pending >= AUTO_WORKERS_FROM and cpus >= AUTO_WORKERS_MIN_CPUS else 1)
    with progress(ctx, "grading", len(samples)) as advance:
        graded, fresh_count = lib.grade(samples, cache, workers=count, on_graded=lambda k: advance(k))
    info(ctx, f"graded {fresh_count:,} samples ({len(samples) - fresh_count:,} unchanged since the last run)")
    return graded


# ------------------------------------------------------------------------------------------ report


def _report(ctx: typer.Context, outdir: Path, samples: list[dict], configs: dict, *, resamples: int) -> None:
    # Control's lower limit: the minimum thinking a generated run asked for.
    a_min = {label: float(config.get("min_thinking_tokens") or 0) for label, config in configs.items()}
    runs, methods = lib.summarise(samples, resamples=resamples, a_min=a_min)
    write_summaries(outdir / lib.SUMMARY_FILE, outdir / lib.SCALING_FILE, runs, methods)
    write_results(outdir / lib.RESULTS_FILE, runs, methods)
    write_scaling_plot(outdir / lib.PLOT_FILE, methods)
    parallel = any(m.method.kind == MAJORITY for m in methods)
    if parallel:
        write_scaling_plot(outdir / lib.PARALLEL_PLOT_FILE, methods, keep=parallel_and_sequential,
                           title="majority voting (parallel)\nagainst budget forcing (sequential)")
    write_text_atomic(outdir / lib.REPORT_FILE, markdown(runs, methods, configs, plot=lib.PLOT_FILE,
                                                         parallel_plot=lib.PARALLEL_PLOT_FILE if parallel else None))
    s = settings(ctx)
    if not s.quiet:
        s.console.print(_rich_table(runs, methods))
    written = [lib.SUMMARY_FILE, lib.SCALING_FILE, lib.RESULTS_FILE, lib.REPORT_FILE, lib.PLOT_FILE,
               *([lib.PARALLEL_PLOT_FILE] if parallel else [])]
    if (outdir / lib.SAMPLES_FILE).exists():
        written.insert(0, lib.SAMPLES_FILE)
    info(ctx, f"wrote {', '.join(written)} to {outdir}")


def _rich_table(runs: list, methods: list) -> Table:
    several = len({r.run for r in runs}) > 1
    waits = any(r.num_waits for r in runs)
    methods_shown = len({r.method for r in runs}) > 1
    tops = {max(r.metrics.pass_at, default=None) for r in runs}
    top = next(iter(tops)) if len(tops) == 1 else None  # one k for every row: name it in the header
    sampled = tops != {None}
    # Short headers keep the table within 80 columns; report.md spells them out.
    abbreviations = "; BF budget forcing, TCC/SCC/CCC token/step/class-conditional, RS rejection sampling" \
        if methods_shown else ""
    table = Table(title="s1 bench: accuracy against thinking tokens (cap: budget; tokens: average thinking; "
                  f"none: no answer{abbreviations})", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("task", no_wrap=True, min_width=4)
    if several:
        table.add_column("run", no_wrap=True, min_width=3)
    if methods_shown:
        table.add_column("method", no_wrap=True)
    columns = ["cap", *(["waits"] if waits else []), "tokens", "acc %", "95% CI",
               *([f"pass@{top or 'k'}", f"maj@{top or 'k'}"] if sampled else []), "none %"]
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True, min_width=5 if name == "cap" and methods_shown else None)
    for r in runs:
        m = r.metrics
        k = max(m.pass_at, default=None)
        cells = [r.task, *([r.run] if several else []), *([_short(r.method)] if methods_shown else []),
                 r.length or budget_label(r.budget)]
        if waits:
            cells.append("–" if r.num_waits is None else str(r.num_waits))
        cells += [tokens(m.thinking_tokens), pct(m.accuracy),
                  f"{pct(m.interval[0])}–{pct(m.interval[1])}" if m.interval else "–"]
        if sampled:
            at = "" if top else f" @{k}"
            cells += [f"{pct(m.pass_at[k])}{at}" if k else "–", f"{pct(m.maj_at[k])}{at}" if k else "–"]
        cells.append(pct(m.no_answer))
        table.add_row(*cells)
    # One line per method: the paper's metrics are only meaningful within one way of controlling compute.
    notes = [method_note(m) for m in methods]
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    return table


# The paper's abbreviations (Table 3), for the terminal table, where width is short.
ABBREVIATIONS = {"budget-forcing": "BF", "token-conditional": "TCC", "step-conditional": "SCC",
                 "class-conditional": "CCC", "rejection-sampling": "RS"}


def _short(method: str) -> str:
    return "+".join(ABBREVIATIONS.get(part, part) for part in method.split("+"))


def register(app: typer.Typer) -> None:
    app.command("bench", epilog=EXAMPLES)(bench_command)
