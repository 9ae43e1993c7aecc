"""``s1 classify-msc``: label each question with its MSC2020 class (offline, an API model or a local model)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError, S1Error
from ..layouts import column_map
from ..llm import BACKENDS
from ..llm.prices import PriceTable
from ..llm.rows import RowJob
from ..msc import OUTPUT_COLUMNS, LabelSet, agreement, all_classes, candidates, distribution, labelled, missing_codes
from ..msc_llm import LLMClassifier, LocalClassifier, classifier_calls, estimate, run_local
from ..msc_offline import OfflineClassifier
from ..refs import ModelRef, parse_model_ref
from ..schema import KEY_COLUMNS
from ..table import display_name, read_rows, table_format
from . import aliases, options
from .model_calls import ApiOptions, note_resume, print_estimates, run_calls, write_disagreements
from .ui import info, progress, settings

EXAMPLES = """Examples:

  s1 classify-msc pool.jsonl labelled.jsonl

  s1 classify-msc pool.parquet labelled.parquet --classifier anthropic:claude-3-5-sonnet-20241022 --max-cost 30

  s1 classify-msc pool.parquet labelled.parquet --classifier anthropic:claude-sonnet-4-5 --message-batches --dry-run

  s1 classify-msc labelled.jsonl audit.jsonl --classifier offline --map claude_msc=msc --compare claude_msc

  s1 classify-msc pool.jsonl labelled.jsonl --classifier openai:qwen2.5-72b --base-url http://localhost:8000/v1

  s1 classify-msc pool.jsonl labelled.jsonl --classifier hf:Qwen/Qwen2.5-7B-Instruct --candidates 05,11,51,60
"""

LOCAL_BACKENDS = ("hf", "vllm")
EVERY_CLASS = LabelSet(all_classes())  # names for codes outside this run's candidates (an earlier run's rows)


@dataclass(frozen=True)
class ClassifierSpec:
    kind: str  # offline, api, local
    ref: ModelRef | None = None
    local: str | None = None  # hf:PATH or vllm:PATH


def parse_classifier(spec: str) -> ClassifierSpec:
    if spec.strip() == "offline":
        return ClassifierSpec("offline")
    ref = parse_model_ref(spec, (*BACKENDS, *LOCAL_BACKENDS), option="--classifier",
                          expected="offline, anthropic:MODEL, openai:MODEL, hf:PATH or vllm:PATH",
                          example="anthropic:claude-3-5-sonnet-20241022")
    if ref.backend in LOCAL_BACKENDS:
        return ClassifierSpec("local", local=str(ref))
    return ClassifierSpec("api", ref)


def classify_msc(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN", help="Table of questions (.jsonl, .parquet, .csv; - for stdin)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table (its extension picks the format; - for stdout)."),
    classifier: str = typer.Option("offline", "--classifier", metavar="SPEC",
                                   help="offline (no network), anthropic:MODEL, openai:MODEL, hf:PATH or vllm:PATH."),
    question_column: str = typer.Option("question", "--question-column", help="Column holding the question."),
    candidates_: str = typer.Option("s1", "--candidates", metavar="LIST",
                                    help="Classes to choose from: s1 (the paper's 61: all but 00 and 01), all (63), "
                                         "or codes such as 05,11,51,60."),
    level: int = typer.Option(2, "--level", help="MSC level: 2 (the two-digit top-level classes; the only one "
                                                 "bundled)."),
    compare: str = typer.Option(None, "--compare", metavar="COLUMN",
                                help="Print agreement with an existing label column (codes or titles) and write the "
                                     "disagreeing rows beside OUT."),
    base_url: str = typer.Option(None, "--base-url", help="API base URL (a proxy, or an OpenAI-compatible server)."),
    concurrency: int = typer.Option(16, "--concurrency", min=1, help="Model calls in flight at once."),
    batch: bool = options.BATCH,
    batch_old: bool = options.BATCH_OLD,
    poll_interval: float = options.POLL_INTERVAL,
    max_cost: float = options.MAX_COST,
    dry_run: bool = options.DRY_RUN,
    max_tokens: int = typer.Option(1024, "--max-tokens", min=1, help="Longest model reply, in tokens."),
    cache: Path = options.CACHE,
    prices: Path = options.PRICES,
    retries: int = options.RETRIES,
    backoff: float = options.BACKOFF,
    timeout: float = options.TIMEOUT,
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="hf/vllm: questions decoded together."),
    dtype: str = typer.Option("auto", "--dtype", help="hf/vllm weights: auto, float32, bfloat16, float16."),
    device: str = typer.Option("auto", "--device", help="hf: auto, cpu, cuda, cuda:1, ..."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Label each question with its MSC2020 class: writes msc (two-digit code), msc_name and msc_detail.

    offline: a lexicon of field vocabulary scored against every class, no network, 1,000-2,000 rows a
    second. Models get the s1 prompt (s1cli/prompts/msc_v1.md): the classes with their subfields, and a
    reply ending with the code; an answer outside the list is asked once more, then recorded as null
    with its text. Replies are cached and a killed run resumes. Prints the distribution of classes.
    """
    table_format(dest)
    spec = parse_classifier(classifier)
    if level != 2:
        raise ConfigError(f"--level {level}: only level 2 (the 63 two-digit MSC2020 classes) is bundled")
    labels = candidates(candidates_)
    if compare is not None and compare in OUTPUT_COLUMNS:
        raise ConfigError(f"--compare {compare}: this run writes {compare!r}; rename the existing labels as they are "
                          f"read, e.g. --map old_{compare}={compare} --compare old_{compare}")
    batch = aliases.renamed(batch, batch_old, "--message-batches", default=False)
    api = ApiOptions(base_url=base_url, concurrency=concurrency, batch=batch, poll_interval=poll_interval,
                     max_cost=max_cost, dry_run=dry_run, cache=cache, prices=prices, retries=retries,
                     backoff=backoff, timeout=timeout)
    if spec.kind != "api":
        for flag, given in (("--message-batches", batch), ("--max-cost", max_cost is not None)):
            if given:
                raise ConfigError(f"{flag} applies to API classifiers (anthropic:MODEL, openai:MODEL), "
                                  f"not {classifier}")
    price_table = api.check([spec.ref], dest, role="classifiers") if spec.kind == "api" else None
    rows = read_rows(source, require=[question_column], renames=column_map(map_, layout))
    if compare is not None and not any(compare in row for row in rows):
        raise ConfigError(f"--compare {compare}: no row of {display_name(source)} has a column {compare!r}")
    if dry_run:
        _dry_run(ctx, spec, rows, labels, question_column, api, price_table, dest, max_tokens=max_tokens)
        return
    job = RowJob(rows, dest, overwrite=overwrite, done="labelled", undone="unlabelled")
    if spec.kind == "offline":
        note_resume(ctx, job)
        model = OfflineClassifier(labels)
        with job, progress(ctx, "classifying", len(job.todo)) as advance:
            job.each(lambda row: labelled(row, model.result(str(row.get(question_column) or "")), labels), advance)
    elif spec.kind == "local":
        _run_local(ctx, job, spec.local, labels, question_column, max_tokens=max_tokens, batch_size=batch_size,
                   dtype=dtype, device=device)
    else:
        session = api.session(price_table, dest)
        try:
            calls = classifier_calls(LLMClassifier(spec.ref, labels, max_tokens=max_tokens), question_column)
            run_calls(ctx, job, calls, session, api, description="classifying")
        finally:
            session.close()
    who = "offline" if spec.kind == "offline" else spec.local or spec.ref
    info(ctx, f"labelled {job.stats.done:,} rows into {display_name(dest, writing=True)} ({who})")
    out = job.output()
    _print_distribution(ctx, out, labels)
    if compare is not None:
        _report_agreement(ctx, dest, out, compare, question_column)
    _check_codes(ctx, out, dest, who)
    job.raise_if_incomplete()


def _check_codes(ctx: typer.Context, out: list[dict], dest: str, who: object) -> None:
    """A run whose output holds no valid code at all is an error (the classifier does not work as
    asked: a model too small, replies cut short), though its rows are kept as the record of what it
    answered; some rows without one are a warning (the distribution counts them too)."""
    missing = missing_codes(out)
    example = f"row {missing.first_id!r}: {missing.first_detail!r}"
    if missing.none_valid:
        raise S1Error(f"none of the {missing.total:,} rows in {display_name(dest, writing=True)} got a valid MSC "
                      f"code from {who}; the first reply, for {example}; the rows are kept, with each reply in "
                      "msc_detail: check the classifier (a larger model, --max-tokens, --candidates), then rerun "
                      "with --overwrite")
    if missing.rows:
        info(ctx, f"warning: {missing.rows:,} of {missing.total:,} rows got no valid MSC code (msc is null; see "
                  f"msc_detail), e.g. {example}")


def _dry_run(ctx: typer.Context, spec: ClassifierSpec, rows: list[dict], labels: LabelSet, question_column: str,
             api: ApiOptions, prices: PriceTable | None, dest: str, *, max_tokens: int) -> None:
    if spec.kind == "offline":
        info(ctx, f"dry run: the offline classifier would label {len(rows):,} rows; it calls nothing")
        return
    if spec.kind == "local":
        info(ctx, f"dry run: {spec.local} would label {len(rows):,} rows locally; it calls nothing")
        return
    session = api.session(prices, dest)
    try:
        model = LLMClassifier(spec.ref, labels, max_tokens=max_tokens)
        entry = estimate((str(r.get(question_column) or "") for r in rows), model, session.client(spec.ref),
                         batch=api.batch)
    finally:
        session.close()
    print_estimates(ctx, len(rows), [entry], batch=api.batch, label_column=None,
                    follow_up="an invalid answer adds one follow-up call")


def _run_local(ctx: typer.Context, job: RowJob, ref: str, labels: LabelSet, question_column: str, *, max_tokens: int,
               batch_size: int, dtype: str, device: str) -> None:
    from ..engines import load_engine

    try:
        engine = load_engine(ref, dtype=dtype, device=device)
    except ConfigError as exc:  # the engines name their option --model; here it is --classifier
        raise ConfigError(str(exc).replace("--model ", "--classifier ", 1)) from None
    try:
        model = LocalClassifier(engine, labels, max_tokens=max_tokens)
        note_resume(ctx, job)
        with job, progress(ctx, "classifying", len(job.todo)) as advance:
            job.stats = run_local(job.todo, model, question_column, job.write, batch_size=batch_size, advance=advance)
    finally:
        engine.close()


def _print_distribution(ctx: typer.Context, out: list[dict], labels: LabelSet) -> None:
    s = settings(ctx)
    if s.quiet:
        return
    dist = distribution(row.get("msc") for row in out)
    table = Table(title=f"MSC classes of {dist.total:,} rows")
    for column in ("code", "class", "rows", "share"):
        table.add_column(column, justify="right" if column in ("rows", "share") else "left")
    for code, count in sorted(dist.counts.items(), key=lambda item: (-item[1], item[0])):
        name = labels.name(code) or EVERY_CLASS.name(code) or ""
        table.add_row(code, name, f"{count:,}", f"{count / dist.total:.1%}")
    if dist.unlabelled:
        table.add_row("—", "no valid code (see msc_detail)", f"{dist.unlabelled:,}",
                      f"{dist.unlabelled / dist.total:.1%}")
    s.console.print(table)
    info(ctx, f"{len(dist.counts)} of {len(labels)} candidate classes used")


def _report_agreement(ctx: typer.Context, dest: str, out: list[dict], column: str, question_column: str) -> None:
    result = agreement([row.get("msc") for row in out], [row.get(column) for row in out])
    rate = "n/a" if result.rate is None else f"{result.rate:.1%}"
    info(ctx, f"agreement with {column}: {rate} ({result.agreed:,} of {result.compared:,} rows)")
    if result.missing:
        info(ctx, f"  {result.missing:,} rows without a label on one side were not compared")
    if result.unreadable:
        info(ctx, f"  {result.unreadable:,} values of {column} are not MSC codes or titles and were skipped")
    for (ours, theirs), count in result.confusions.most_common(5):
        info(ctx, f"  msc {ours} where {column} says {theirs}: {count:,} rows")
    keep = [*KEY_COLUMNS, question_column, column, *OUTPUT_COLUMNS]
    write_disagreements(ctx, dest, [{c: out[i][c] for c in keep if c in out[i]} for i in result.disagreeing])


def register(app: typer.Typer) -> None:
    app.command("classify-msc", epilog=EXAMPLES)(classify_msc)
