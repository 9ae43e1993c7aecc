"""``s1 collect``: build the question pool from tables and datasets; decontaminate; dedupe."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ..dedupe import DEFAULT_NGRAM, DEFAULT_THRESHOLD
from ..errors import ConfigError
from ..layouts import column_map
from ..table import display_name, table_format, write_table
from . import aliases, options
from .ui import info, progress, settings

if TYPE_CHECKING:
    from ..collect import SourceStats

EXAMPLES = """Examples:

  s1 collect pool.parquet --source pool_sample.jsonl --decontaminate aime24,aime25,math500

  s1 collect pool.jsonl --source numina=hf:AI-MO/NuminaMath-CoT@train --map question=problem --limit 1000

  s1 collect pool.parquet --recipe examples/s1-sources.toml --decontaminate aime24,math500,gpqa_diamond=gpqa.csv

  s1 collect pool.jsonl --source a.jsonl --source b.csv --dedupe near --threshold 0.8 --prefer b
"""


def collect(
    ctx: typer.Context,
    dest: str = typer.Argument(..., metavar="OUT", help="Output table; its extension picks the format; - for stdout."),
    source: list[str] = typer.Option(
        None, "--source", "-s", metavar="SPEC",
        help="A source (repeatable): a table file (.jsonl, .parquet, .csv, ...; - for stdin), hf:NAME[:CONFIG][@SPLIT] "
             "(a Hugging Face dataset), or a dataset directory (Dataset.save_to_disk; DIR@SPLIT). NAME=SPEC sets the "
             "source column."),
    recipe: str = typer.Option(None, "--recipe", metavar="FILE",
                               help="A TOML or YAML recipe listing sources with their column maps (see examples/)."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
    decontaminate: list[str] = typer.Option(
        None, "--decontaminate", "-d", metavar="SETS",
        help="Drop questions sharing an n-gram with these evaluation sets (comma-separated, repeatable): aime24, "
             "aime25, math500 (bundled), NAME=FILE (e.g. gpqa_diamond=gpqa.csv), FILE, or hf:..."),
    ngram: int = typer.Option(DEFAULT_NGRAM, "--ngram", min=1,
                              help="Words per n-gram for decontamination (lower-cased, whitespace collapsed)."),
    dedupe: str = typer.Option("exact", "--dedupe", metavar="exact|near",
                               help="exact: same normalised question; near: also MinHash/LSH Jaccard >= --threshold."),
    threshold: float = typer.Option(DEFAULT_THRESHOLD, "--threshold", min=0.0, max=1.0,
                                    help="Jaccard similarity (word 3-gram shingles) at which --dedupe near counts two "
                                         "questions as copies."),
    prefer: str = typer.Option(None, "--prefer", metavar="SOURCES",
                               help="Comma-separated sources whose copy of a duplicated question is kept, best "
                                    "first (otherwise: the copy with an answer and a solution, then by source name, "
                                    "id and content)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Read at most N rows from each source (to try a recipe)."),
    report: str = typer.Option(None, "--contamination-report", metavar="PATH",
                               help="Where to write the contamination report (default: OUT.contamination.parquet)."),
    report_old: str = aliases.hidden("--report"),
) -> None:
    """Collect a question pool from tables, Hugging Face datasets and saved datasets.

    Rows come out in the canonical columns (id, question, answer, solution, source, domain,
    metadata holding the rest) with stable ids (the source's own id, else source + a hash of the
    normalised question). Questions sharing an n-gram with an evaluation set are dropped and
    listed in a side report; duplicates are removed across sources whatever order the sources
    are given in, and the kept row lists every dropped copy under metadata.duplicates.
    """
    # Imported here, not at the top: every `s1` command would otherwise pay for numpy and pydantic.
    from ..collect import (
        DEDUPE_MODES,
        REPORT_COLUMNS,
        CollectOptions,
        Pool,
        load_eval_questions,
        parse_eval_specs,
        report_path,
    )
    from ..sources import load_recipe, parse_source

    if dedupe not in DEDUPE_MODES:
        raise ConfigError(f"--dedupe {dedupe!r}: choose {' or '.join(DEDUPE_MODES)}")
    table_format(dest)  # an unusable output name fails before any work
    report = aliases.renamed(report, report_old, "--contamination-report")
    if report and not decontaminate:
        raise ConfigError("--contamination-report needs --decontaminate: there is nothing to report without "
                          "evaluation sets")
    report_dest = report or report_path(dest)
    if report_dest is not None:
        table_format(report_dest)
        if os.path.abspath(report_dest) == os.path.abspath(dest):
            raise ConfigError(f"--contamination-report {report}: the report would overwrite OUT; give it another name")
    renames = column_map(map_, layout)
    sources = [parse_source(spec, renames) for spec in source or ()]
    if recipe:
        sources += load_recipe(recipe, renames)
    if not sources:
        raise ConfigError("no sources: give --source SPEC (repeatable) or --recipe FILE")
    opts = CollectOptions(ngram=ngram, dedupe=dedupe, threshold=threshold, limit=limit,
                          prefer=tuple(p.strip() for p in (prefer or "").split(",") if p.strip()))
    if not settings(ctx).verbose:
        # datasets draws its own bars when it loads or converts; ours is enough.
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        if "datasets" in sys.modules:
            sys.modules["datasets"].disable_progress_bars()
    eval_sets = parse_eval_specs(decontaminate or ())
    questions = load_eval_questions(eval_sets)
    with Pool(sources, questions, opts) as pool:
        opened = pool.opened()
        with progress(ctx, "reading sources", pool.total(opened)) as advance:
            pool.build(opened, advance)
        if report_dest is not None and eval_sets:
            # The report first: an OUT that exists always has its report beside it.
            write_table(report_dest, pool.contamination(), columns=REPORT_COLUMNS)
        written = write_table(dest, pool.rows(), columns=pool.columns)
    _summary(ctx, list(pool.stats.values()), [name for name, _ in eval_sets])
    if not eval_sets:
        info(ctx, "no --decontaminate: the pool was not checked against any evaluation set")
    for label in pool.empty:
        info(ctx, f"{label}: no rows read")
    unknown = [name for name in opts.prefer if name not in pool.stats]
    if unknown:
        info(ctx, f"--prefer: no rows came from {', '.join(map(repr, unknown))}")
    dropped = sum(s.contaminated for s in pool.stats.values())
    copies = sum(s.exact + s.near for s in pool.stats.values())
    info(ctx, f"wrote {written:,} rows to {display_name(dest, writing=True)} "
              f"({dropped:,} dropped as contaminated, {copies:,} as duplicates)")
    if report_dest is not None and eval_sets:
        info(ctx, f"contamination report: {pool.matches:,} matches in {report_dest}")


def _summary(ctx: typer.Context, stats: list[SourceStats], benchmarks: list[str]) -> None:
    s = settings(ctx)
    if s.quiet:
        return
    caption = "under each evaluation set: rows dropped for overlapping it; " if benchmarks else ""
    table = Table(title="collect: rows per source", caption=caption + "exact, near: rows dropped as copies")
    table.add_column("source", no_wrap=True)
    for column in ("read", *benchmarks, "exact", "near", "kept"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in stats:
        table.add_row(row.name, f"{row.read:,}", *(f"{row.by_benchmark[b]:,}" for b in benchmarks),
                      f"{row.exact:,}", f"{row.near:,}", f"{row.kept:,}")
    if len(stats) > 1:
        table.add_row("total", f"{sum(r.read for r in stats):,}",
                      *(f"{sum(r.by_benchmark[b] for r in stats):,}" for b in benchmarks),
                      f"{sum(r.exact for r in stats):,}", f"{sum(r.near for r in stats):,}",
                      f"{sum(r.kept for r in stats):,}", style="bold")
    s.console.print(table)


def register(app: typer.Typer) -> None:
    app.command("collect", epilog=EXAMPLES)(collect)
