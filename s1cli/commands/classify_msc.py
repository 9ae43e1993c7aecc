"""``s1 classify-msc``: label each question with its MSC2020 class (offline, an API model or a local model)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from ..errors import ConfigError, RemoteError, S1Error
from ..grading import cached_ask
from ..llm import BACKENDS, api_key
from ..llm.cache import default_cache_path
from ..llm.client import RetryPolicy
from ..llm.prices import PriceTable
from ..llm.session import LLMSession, SessionOptions
from ..msc import LabelSet, agreement, all_classes, candidates, distribution
from ..msc_llm import (
    OUTPUT_COLUMNS,
    LLMClassifier,
    LocalClassifier,
    MSCResult,
    estimate,
    labelled,
    run_batched,
    run_direct,
    run_local,
)
from ..msc_offline import OfflineClassifier
from ..refs import ModelRef, parse_model_ref
from ..schema import KEY_COLUMNS, Renames, row_key
from ..table import EXTENSIONS, STDIO, ResumableWriter, display_name, read_rows, table_format, write_table
from . import options
from .grade import _batch_reporter, _money, _print_usage, side_path
from .ui import info, progress, settings

EXAMPLES = """Examples:

  s1 classify-msc pool.jsonl labelled.jsonl

  s1 classify-msc pool.parquet labelled.parquet --classifier anthropic:claude-3-5-sonnet-20241022 --max-cost 30

  s1 classify-msc pool.parquet labelled.parquet --classifier anthropic:claude-sonnet-4-5 --batch --dry-run

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
    price_table = _check_api_options(spec, classifier, dest, batch=batch, max_cost=max_cost, prices=prices)
    if spec.kind == "api" and not dry_run:
        api_key(spec.ref.backend, base_url=base_url)
    rows = read_rows(source, require=[question_column], renames=Renames.parse(map_))
    if compare is not None and not any(compare in row for row in rows):
        raise ConfigError(f"--compare {compare}: no row of {display_name(source)} has a column {compare!r}")
    run = Run(ctx, source, dest, rows, labels, question_column, overwrite)
    if spec.kind == "offline":
        run.offline(dry_run)
    elif spec.kind == "local":
        run.local(spec.local, dry_run=dry_run, max_tokens=max_tokens, batch_size=batch_size, dtype=dtype, device=device)
    else:
        # Nothing is created (cache, log) until the options and the whole input have passed their checks.
        session = LLMSession(SessionOptions(
            cache_path=cache or default_cache_path(), prices=price_table, max_cost=max_cost,
            retry=RetryPolicy(attempts=retries, base=backoff), timeout=timeout, base_url=base_url,
            log_path=None if dest == STDIO else side_path(dest, "llm-log.jsonl"), offline=dry_run))
        try:
            run.api(session, LLMClassifier(spec.ref, labels, max_tokens=max_tokens), dry_run=dry_run, batch=batch,
                    concurrency=concurrency, poll_interval=poll_interval)
        finally:
            session.close()
    if not dry_run:
        run.report(compare)
    run.raise_if_incomplete()


def _check_api_options(spec: ClassifierSpec, classifier: str, dest: str, *, batch: bool, max_cost: float | None,
                       prices: Path | None) -> PriceTable | None:
    """The options that only API classifiers take; returns the price table they use."""
    if spec.kind != "api":
        for flag, given in (("--batch", batch), ("--max-cost", max_cost is not None)):
            if given:
                raise ConfigError(f"{flag} applies to API classifiers (anthropic:MODEL, openai:MODEL), "
                                  f"not {classifier}")
        return None
    if batch:
        if dest == STDIO:
            raise ConfigError("--batch needs an output file (the batch ids are saved beside it), not -")
        if spec.ref.backend != "anthropic":
            raise ConfigError("--batch works with anthropic classifiers only (OpenAI-compatible models are called "
                              "directly)")
    price_table = PriceTable.load(prices)
    if max_cost is not None and price_table.lookup(spec.ref.backend, spec.ref.model) is None:
        raise ConfigError(f"--max-cost: no price for {spec.ref}; add one with --prices FILE, "
                          f'e.g. {{"{spec.ref}": {{"input": 3.0, "output": 15.0}}}}')
    return price_table


class Run:
    """One command run: the rows still to label, the writer, and the report at the end."""

    def __init__(self, ctx: typer.Context, source: str, dest: str, rows: list[dict], labels: LabelSet,
                 question_column: str, overwrite: bool) -> None:
        self.ctx, self.source, self.dest, self.rows, self.labels = ctx, source, dest, rows, labels
        self.question_column = question_column
        self.overwrite = overwrite
        self.written: list[dict] = []  # kept only when writing to stdout, for the report
        self.stats = None
        self.todo = 0

    def _question(self, row: dict) -> str:
        return str(row.get(self.question_column) or "")

    def _todo(self, writer: ResumableWriter) -> list[dict]:
        todo = [row for row in self.rows if not writer.has(row_key(row))]
        self.todo = len(todo)
        if writer.resumed:
            done = len(self.rows) - len(todo)
            info(self.ctx, f"resuming: {done:,} of {len(self.rows):,} rows already in "
                           f"{display_name(self.dest, writing=True)}")
        return todo

    def _write(self, writer: ResumableWriter):
        def write(result: MSCResult, row: dict) -> None:
            out = labelled(row, result, self.labels)
            writer.write(out)
            if self.dest == STDIO:
                self.written.append(out)

        return write

    def offline(self, dry_run: bool) -> None:
        if dry_run:
            info(self.ctx, f"dry run: the offline classifier would label {len(self.rows):,} rows; it calls nothing")
            return
        model = OfflineClassifier(self.labels)
        writer = ResumableWriter(self.dest, resume=not self.overwrite)
        todo = self._todo(writer)
        with writer, progress(self.ctx, "classifying", len(todo)) as advance:
            write = self._write(writer)
            for row in todo:
                question = self._question(row)
                if question.strip():
                    scored = model.classify(question)
                    write(MSCResult(scored.code, scored.detail()), row)
                else:
                    write(MSCResult(None, "empty question"), row)
                advance(1)
        info(self.ctx, f"labelled {len(todo):,} rows into {display_name(self.dest, writing=True)} (offline)")

    def local(self, ref: str, *, dry_run: bool, max_tokens: int, batch_size: int, dtype: str, device: str) -> None:
        if dry_run:
            info(self.ctx, f"dry run: {ref} would label {len(self.rows):,} rows locally; it calls nothing")
            return
        from ..engines import load_engine

        try:
            engine = load_engine(ref, dtype=dtype, device=device)
        except ConfigError as exc:  # the engines name their option --model; here it is --classifier
            raise ConfigError(str(exc).replace("--model ", "--classifier ", 1)) from None
        try:
            model = LocalClassifier(engine, self.labels, max_tokens=max_tokens)
            writer = ResumableWriter(self.dest, resume=not self.overwrite)
            todo = self._todo(writer)
            with writer, progress(self.ctx, "classifying", len(todo)) as advance:
                self.stats = run_local(todo, model, self.question_column, self._write(writer), batch_size=batch_size,
                                       advance=advance)
        finally:
            engine.close()
        info(self.ctx, f"labelled {self.stats.graded:,} rows into {display_name(self.dest, writing=True)} ({ref})")

    def api(self, session: LLMSession, model: LLMClassifier, *, dry_run: bool, batch: bool, concurrency: int,
            poll_interval: float) -> None:
        client = session.client(model.ref)
        if dry_run:
            self._print_estimate(estimate((self._question(r) for r in self.rows), model, client, batch=batch), batch)
            return
        writer = ResumableWriter(self.dest, resume=not self.overwrite)
        todo = self._todo(writer)
        status = "interrupted"
        try:
            with writer, progress(self.ctx, "classifying", len(todo)) as advance:
                write = self._write(writer)
                if batch:
                    runner = session.batch_runner(model.ref, side_path(self.dest, "batches.json"),
                                                  poll_interval=poll_interval, on_progress=_batch_reporter(self.ctx))
                    ask = cached_ask("msc", client, runner)
                    self.stats = run_batched(todo, lambda row: model.classify(self._question(row), ask), runner, write,
                                             advance=advance)
                else:
                    self.stats = run_direct(todo, lambda row: model.classify(self._question(row), client.ask), write,
                                            concurrency=concurrency, advance=advance)
            status = "stopped" if self.stats.stopped else ("incomplete" if self.stats.failed else "completed")
        except S1Error:
            status = "failed"
            raise
        finally:
            if self.dest != STDIO:
                session.record_run(side_path(self.dest, "cost.json"), status=status,
                                   details={"rows_classified": self.stats.graded if self.stats else None})
            _print_usage(self.ctx, session)
        info(self.ctx, f"labelled {self.stats.graded:,} rows into {display_name(self.dest, writing=True)} "
                       f"({model.ref})")

    def _print_estimate(self, entry, batch: bool) -> None:
        table = Table(title=f"dry run: {len(self.rows):,} rows, nothing sent" + (" (batch prices)" if batch else ""))
        for column in ("model", "calls", "cached", "input tokens (est.)", "cost (input only)", "cost (at most)"):
            table.add_column(column, justify="left" if column == "model" else "right")
        table.add_row(entry.model, f"{entry.calls:,}", f"{entry.cached:,}", f"{entry.input_tokens:,}",
                      _money(entry.cost_low), _money(entry.cost_high))
        settings(self.ctx).console.print(table)
        info(self.ctx, f"would send {entry.calls:,} calls; estimated cost at most {_money(entry.cost_high)} (every "
                       "reply at --max-tokens; an invalid answer adds one follow-up call)")

    # ---------------------------------------------------------------------------------- the end

    def _output(self) -> list[dict]:
        if self.dest == STDIO:
            return self.written
        return read_rows(self.dest, unique=False, allow_empty=True)

    def report(self, compare: str | None) -> None:
        out = self._output()
        self._print_distribution(out)
        if compare is not None:
            self._report_agreement(out, compare)

    def _print_distribution(self, out: list[dict]) -> None:
        s = settings(self.ctx)
        if s.quiet:
            return
        dist = distribution(row.get("msc") for row in out)
        table = Table(title=f"MSC classes of {dist.total:,} rows")
        for column in ("code", "class", "rows", "share"):
            table.add_column(column, justify="right" if column in ("rows", "share") else "left")
        for code, count in sorted(dist.counts.items(), key=lambda item: (-item[1], item[0])):
            name = self.labels.name(code) or EVERY_CLASS.name(code) or ""
            table.add_row(code, name, f"{count:,}", f"{count / dist.total:.1%}")
        if dist.unlabelled:
            table.add_row("—", "no valid code (see msc_detail)", f"{dist.unlabelled:,}",
                          f"{dist.unlabelled / dist.total:.1%}")
        s.console.print(table)
        info(self.ctx, f"{len(dist.counts)} of {len(self.labels)} candidate classes used")

    def _report_agreement(self, out: list[dict], column: str) -> None:
        result = agreement([row.get("msc") for row in out], [row.get(column) for row in out])
        rate = "n/a" if result.rate is None else f"{result.rate:.1%}"
        info(self.ctx, f"agreement with {column}: {rate} ({result.agreed:,} of {result.compared:,} rows)")
        if result.missing:
            info(self.ctx, f"  {result.missing:,} rows without a label on one side were not compared")
        if result.unreadable:
            info(self.ctx, f"  {result.unreadable:,} values of {column} are not MSC codes or titles and were skipped")
        for (ours, theirs), count in result.confusions.most_common(5):
            info(self.ctx, f"  msc {ours} where {column} says {theirs}: {count:,} rows")
        if self.dest == STDIO:
            return
        keep = [*KEY_COLUMNS, self.question_column, column, *OUTPUT_COLUMNS]
        rows = [{c: out[i][c] for c in keep if c in out[i]} for i in result.disagreeing]
        ext = next((e for e in sorted(EXTENSIONS, key=len, reverse=True) if self.dest.lower().endswith(e)), ".jsonl")
        path = side_path(self.dest, f"disagreements{ext}")
        write_table(path, rows)
        info(self.ctx, f"wrote {len(rows):,} disagreeing rows to {path}")

    def raise_if_incomplete(self) -> None:
        stats = self.stats
        if stats is None:
            return
        if stats.stopped:
            left = self.todo - stats.graded - stats.failed
            raise S1Error(f"{stats.stopped}; {left:,} rows left unlabelled; rerun with a higher --max-cost to continue "
                          "(answered rows are cached)")
        if stats.failed:
            raise RemoteError(f"{stats.failed:,} rows not labelled ({stats.first_error}); rerun the same command to "
                              "retry them (answered rows are cached)")


def register(app: typer.Typer) -> None:
    app.command("classify-msc", epilog=EXAMPLES)(classify_msc)
