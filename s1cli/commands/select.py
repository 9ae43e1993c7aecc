"""``s1 select``: the s1K selection (quality → difficulty → diversity) and the paper's ablations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Column, Table
from rich.text import Text

from ..errors import ConfigError
from ..layouts import column_map
from ..selection_config import DEFAULT_AIME, DEFAULT_GPQA, DEFAULT_MATH, MODE_HELP, SelectConfig
from ..table import count_rows, display_name, table_format, write_table, write_text_atomic
from . import options
from .ui import info, progress, settings

if TYPE_CHECKING:
    from ..selection import SelectionReport

# The s1 notebook switched to benchmark-weighted domains once the selection held 700 rows.
PAPER_WEIGHTING_AFTER = 700

EXAMPLES = """Examples:

  s1 select labelled.parquet s1k.parquet --report s1k.report.md

  s1 select labelled.parquet random1k.jsonl --mode random --seed 1

  s1 select pool.parquet s1k.jsonl --easy-if qwen7b_correct,qwen32b_correct,qwq_correct --benchmark-weighting-after 700

  s1 select s1k-featurized.parquet s1k.parquet --map gemini_correct=isgeminicorrect --length-column gemini_length
"""
# Terminal tables stop here; the --report file has every row.
TERMINAL_ROWS = 25


def _patterns(option: str, text: str) -> tuple[str, ...]:
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    if not patterns:
        raise ConfigError(f"{option}: needs at least one source pattern, e.g. {option} '*AIME*'")
    return patterns


def select_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN",
                                 help="Graded, labelled pool (.jsonl, .jsonl.gz, .parquet, .csv, .json; - for stdin)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Selected rows; its extension picks the format; - for stdout."),
    mode: str = typer.Option("s1k", "--mode", metavar="[" + "|".join(MODE_HELP) + "]",
                             help="Selection: " + "; ".join(f"{m}: {h}" for m, h in MODE_HELP.items())
                             + "."),
    size: int = typer.Option(1000, "--size", help="Rows to select (ignored by --mode all)."),
    easy_if: str = typer.Option("qwen7b_correct,qwen32b_correct", "--easy-if", metavar="COLUMNS",
                                help="Comma-separated boolean columns; a row any of them marks true is too easy and "
                                "dropped (--mode s1k). Empty: no difficulty filter."),
    length_column: str = typer.Option("thinking_tokens", "--length-column", metavar="COLUMN",
                                      help="Trace length (tokens) used to rank rows."),
    domain_column: str = typer.Option("msc", "--domain-column", metavar="COLUMN",
                                      help="Domain label to sample across (MSC code from classify-msc)."),
    trace_correct_column: str = typer.Option("gemini_correct", "--trace-correct-column", metavar="COLUMN",
                                             help="Boolean: the reference trace was judged correct (pre-selection)."),
    preselect: bool = typer.Option(None, "--preselect/--no-preselect",
                                   help="Keep correct-trace GPQA, AIME and long MATH rows first (default: on in "
                                   "--mode s1k)."),
    math_min_tokens: float = typer.Option(5600, "--math-min-tokens", metavar="N",
                                          help="Pre-selection keeps MATH rows whose trace is longer than this."),
    aime_sources: str = typer.Option(",".join(DEFAULT_AIME), "--aime-sources", metavar="PATTERNS",
                                     help="Comma-separated, case-sensitive shell patterns for AIME sources "
                                     "([asy] exception, pre-selection, benchmark weights)."),
    gpqa_sources: str = typer.Option(",".join(DEFAULT_GPQA), "--gpqa-sources", metavar="PATTERNS",
                                     help="Patterns for GPQA sources (pre-selection, benchmark weights)."),
    math_sources: str = typer.Option(",".join(DEFAULT_MATH), "--math-sources", metavar="PATTERNS",
                                     help="Patterns for MATH sources (pre-selection of long traces)."),
    benchmark_weighting_after: int = typer.Option(
        None, "--benchmark-weighting-after", metavar="N",
        help="Once the selection holds N rows, draw domains in proportion to the AIME and half-weighted GPQA rows "
        "of each domain, as the s1 notebook did after 700 (default: off, uniform throughout)."),
    paper: bool = typer.Option(False, "--paper", help="As the s1 notebook built s1K where the defaults differ: "
                               f"--benchmark-weighting-after {PAPER_WEIGHTING_AFTER} (unless given)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed and input give the same selection."),
    report: Path = typer.Option(None, "--report", metavar="OUT.md", help="Also write the report as Markdown."),
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
) -> None:
    """Select rows from a graded, labelled pool as the s1 paper built s1K, or as one of its ablations.

    --mode s1k runs the stages of the s1 repository's data/filter.ipynb: drop rows with a missing
    feature or a formatting problem; drop questions an attempt model got right (--easy-if);
    pre-select correct-trace GPQA, AIME and long MATH rows; then pick a domain uniformly and a row of
    it with probability proportional to 2^-rank by trace length, until --size rows. Every output
    row keeps its columns and gains `selected_by`, the rule that kept it. The report (stage counts,
    domains, sources, trace lengths) goes to the terminal and, with --report, to a Markdown file.
    """
    from ..selection import read_pool, select, selected_rows  # numpy and pandas load only when the command runs

    if paper and benchmark_weighting_after is None and mode == "s1k":
        benchmark_weighting_after = PAPER_WEIGHTING_AFTER

    config = SelectConfig(
        mode=mode, size=size, easy_if=tuple(c.strip() for c in easy_if.split(",") if c.strip()),
        length_column=length_column, domain_column=domain_column, trace_correct_column=trace_correct_column,
        preselect=preselect, math_min_tokens=math_min_tokens,
        aime_sources=_patterns("--aime-sources", aime_sources), gpqa_sources=_patterns("--gpqa-sources", gpqa_sources),
        math_sources=_patterns("--math-sources", math_sources), benchmark_weighting_after=benchmark_weighting_after,
        seed=seed)
    renames = column_map(map_, layout)
    table_format(dest)  # an unusable output name fails before any work
    if report is not None and report.is_dir():
        raise ConfigError(f"--report {report}: is a directory")
    with progress(ctx, "reading", count_rows(source)) as advance:
        pool = read_pool(source, config, renames=renames, advance=advance)
    selection = select(pool, config, name=display_name(source))
    written = write_table(dest, selected_rows(source, selection, renames=renames))
    if report is not None:
        write_text_atomic(report, selection.report.to_markdown())
    _print_report(ctx, selection.report, report)
    info(ctx, f"wrote {written:,} rows to {display_name(dest, writing=True)}"
              + (f"; report in {report}" if report is not None else ""))


def _print_report(ctx: typer.Context, r: SelectionReport, report_path: Path | None) -> None:
    from ..selection import PERCENTILES, format_stat

    s = settings(ctx)
    if s.quiet:
        return
    console = s.console
    for warning in r.warnings:
        console.print(Text.assemble(("warning: ", "bold yellow"), warning), soft_wrap=True)

    stages = Table("stage", Column("rows", justify="right"), Column("change", justify="right"), "detail",
                   title=escape(f"s1 select --mode {r.mode}: {r.selected:,} rows from {r.source_name} (seed {r.seed})"))
    for st in r.stages:
        stages.add_row(st.name, f"{st.rows:,}", st.change_text, escape(st.detail_text))
    console.print(stages)
    console.print(Text("selected_by: " + ", ".join(f"{k} {v:,}" for k, v in r.selected_by.items())), soft_wrap=True)

    if r.lengths:
        # Stages as columns: a handful of them fit any terminal, nine statistics would not.
        lengths = Table("", *(Column(escape(stage), justify="right") for stage in r.lengths),
                        title=escape(f"trace length ({r.length_column})"))
        for key in ["rows", *(k for k, _ in PERCENTILES), "mean"]:
            lengths.add_row(key, *(format_stat(stats[key]) for stats in r.lengths.values()))
        console.print(lengths)

    more = "all are in the --report file" if report_path else "pass --report FILE.md to see all"
    if r.domains:
        domains = Table("domain", "name", Column("pool", justify="right"), Column("selected", justify="right"),
                        title=escape(f"domains ({r.domain_column}): {r.domains_selected} of {r.domains_in_pool} "
                                     f"covered; pool = after {r.sampling_pool}"))
        for label, title, in_pool, chosen in r.domains[:TERMINAL_ROWS]:
            domains.add_row(escape(label), escape(title), f"{in_pool:,}", f"{chosen:,}")
        if len(r.domains) > TERMINAL_ROWS:
            domains.caption = f"… {len(r.domains) - TERMINAL_ROWS} more domains; {more}"
        console.print(domains)

    if r.sources:
        sources = Table("source", *(Column(column, justify="right") for column in r.source_columns), title="sources")
        for label, counts in r.sources[:TERMINAL_ROWS]:
            sources.add_row(escape(label), *(f"{c:,}" for c in counts))
        if len(r.sources) > TERMINAL_ROWS:
            sources.caption = f"… {len(r.sources) - TERMINAL_ROWS} more sources; {more}"
        console.print(sources)


def register(app: typer.Typer) -> None:
    app.command("select", epilog=EXAMPLES)(select_command)
