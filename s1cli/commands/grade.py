"""``s1 grade``: judge attempts against reference answers (rule and LLM judges) and count tokens."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from ..grading import NAME, Agreement, GradePlan, Grader, agreement, estimate, judge_calls, parse_judges
from ..judges import LLMJudge, RuleJudge
from ..layouts import column_map
from ..llm.prices import PriceTable
from ..llm.rows import RowJob
from ..table import display_name, read_rows, table_format
from ..tokens import load_counter
from . import aliases, options
from .model_calls import ApiOptions, note_resume, print_estimates, run_calls, write_disagreements
from .ui import info, progress

EXAMPLES = """Examples:

  s1 grade attempts.jsonl graded.jsonl --judge rule --name qwen7b

  s1 grade attempts.parquet graded.parquet --judge anthropic:claude-sonnet-4-5 --judge rule --name qwen32b --max-cost 20

  s1 grade pool.parquet graded.parquet --judge anthropic:claude-sonnet-4-5 --name qwen7b --message-batches --dry-run

  s1 grade attempts.jsonl graded.jsonl --judge openai:qwen2.5-72b --base-url http://localhost:8000/v1 --name q7

  s1 grade pool.jsonl pool.tokens.jsonl --count-tokens thinking --tokenizer hf:models/tiny
"""

def grade(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="IN", help="Table of attempts (.jsonl, .parquet, .csv; - for stdin)."),
    dest: str = typer.Argument(..., metavar="OUT", help="Output table (its extension picks the format; - for stdout)."),
    judge: list[str] = typer.Option(None, "--judge", "-j", metavar="SPEC",
                                    help="rule, anthropic:MODEL or openai:MODEL, optionally LABEL=SPEC (repeatable; "
                                         "the first writes NAME_correct, others NAME_LABEL_correct)."),
    name: str = typer.Option(None, "--name", "-n", help="Whose attempts these are: columns NAME_correct and "
                                                        "NAME_judge (e.g. qwen7b). Needed with --judge."),
    attempt_column: str = typer.Option("response", "--attempt-column", help="Column holding the attempt."),
    reference: str = typer.Option("answer", "--reference", metavar="[answer|solution]",
                                  help="Reference column: answer (a short answer) or solution (a worked solution; "
                                       "the rule judge takes its last \\boxed{})."),
    question_column: str = typer.Option("question", "--question-column", help="Column with the problem (LLM judges)."),
    count_tokens: list[str] = typer.Option(None, "--count-tokens", metavar="COLUMN",
                                           help="Count the tokens of COLUMN into COLUMN_tokens (repeatable)."),
    tokenizer: str = typer.Option("tiktoken:cl100k_base", "--tokenizer",
                                  help="tiktoken:ENCODING or hf:PATH (a tokenizer directory) for --count-tokens."),
    base_url: str = typer.Option(None, "--base-url", help="API base URL for the API judges (a proxy, or an "
                                                          "OpenAI-compatible server such as vLLM)."),
    concurrency: int = typer.Option(16, "--concurrency", "-c", min=1, help="Model calls in flight at once."),
    batch: bool = options.BATCH,
    batch_old: bool = options.BATCH_OLD,
    poll_interval: float = options.POLL_INTERVAL,
    max_cost: float = options.MAX_COST,
    dry_run: bool = options.DRY_RUN,
    max_tokens: int = typer.Option(1024, "--max-tokens", min=16, help="Longest judge reply, in tokens."),
    cache: Path = options.CACHE,
    prices: Path = options.PRICES,
    retries: int = options.RETRIES,
    backoff: float = options.BACKOFF,
    timeout: float = options.TIMEOUT,
    map_: list[str] = options.MAP,
    layout: str = options.LAYOUT,
    overwrite: bool = options.OVERWRITE,
) -> None:
    """Judge each attempt against its reference and write NAME_correct / NAME_judge (and token counts).

    Rule judge: answer extraction + math-verify, offline. LLM judges: the model compares the attempt
    with the reference (prompt s1cli/prompts/judge_v1.md) and ends with Yes or No; an unclear reply
    is asked once more, then recorded as null with its text. Every reply is cached, so reruns cost
    nothing; a killed run resumes where it stopped. Beside OUT: OUT-stem.cost.json (usage and cost),
    .llm-log.jsonl (one line per call), .disagreements.EXT (several judges), .batches.json (--message-batches).
    """
    table_format(dest)
    specs = parse_judges(judge or []) if judge or not count_tokens else []
    if specs and not name:
        raise ConfigError("--name is needed with --judge: it names the columns, e.g. --name qwen7b")
    if name and not NAME.match(name):
        raise ConfigError(f"--name {name!r}: use letters, digits, _ or - (it becomes a column prefix)")
    batch = aliases.renamed(batch, batch_old, "--message-batches", default=False)
    api = ApiOptions(base_url=base_url, concurrency=concurrency, batch=batch, poll_interval=poll_interval,
                     max_cost=max_cost, dry_run=dry_run, cache=cache, prices=prices, retries=retries,
                     backoff=backoff, timeout=timeout)
    refs = [s.ref for s in specs if s.ref is not None]
    price_table = api.check(refs, dest, role="judges") if refs or batch else None
    counter = load_counter(tokenizer) if count_tokens else None
    judges = [RuleJudge(s.label, solution=reference == "solution") if s.ref is None
              else LLMJudge(s.label, s.ref, max_tokens=max_tokens) for s in specs]
    plan = GradePlan(name or "", judges, attempt_column, reference, question_column, tuple(count_tokens or ()), counter)
    rows = read_rows(source, require=plan.required(), renames=column_map(map_, layout))
    _check_token_columns(source, rows, plan)
    if dry_run:
        _print_estimate(ctx, rows, plan, api, price_table, dest)
        return
    job = RowJob(rows, dest, overwrite=overwrite, done="graded", undone="ungraded")
    if plan.llm_judges:
        session = api.session(price_table, dest)
        try:
            run_calls(ctx, job, judge_calls(plan), session, api, description="grading")
        finally:
            session.close()
    else:
        note_resume(ctx, job)
        finish = Grader(plan).finish
        with job, progress(ctx, "grading", len(job.todo)) as advance:
            job.each(lambda row: finish(row, {}), advance)
    info(ctx, f"graded {job.stats.done:,} rows into {display_name(dest, writing=True)}")
    if plan.judges:
        graded = job.output()
        _report_accuracy(ctx, graded, plan)
        if len(plan.judges) > 1:
            _report_agreement(ctx, dest, agreement(graded, plan))
    job.raise_if_incomplete()


def _check_token_columns(source: str, rows: list[dict], plan: GradePlan) -> None:
    for column in plan.count_tokens:
        if not any(column in row for row in rows):
            raise ConfigError(f"--count-tokens {column}: no row of {display_name(source)} has a column {column!r}")


def _print_estimate(ctx: typer.Context, rows: list[dict], plan: GradePlan, api: ApiOptions,
                    prices: PriceTable | None, dest: str) -> None:
    estimates = []
    if plan.llm_judges:
        session = api.session(prices, dest)
        try:
            clients = {j.label: session.client(j.ref) for j in plan.llm_judges}
            estimates = estimate(rows, Grader(plan), clients, batch=api.batch)
        finally:
            session.close()
    print_estimates(ctx, len(rows), estimates, batch=api.batch, label_column="judge",
                    follow_up="an unclear verdict adds one follow-up call")


def _report_accuracy(ctx: typer.Context, rows: list[dict], plan: GradePlan) -> None:
    for judge in plan.judges:
        column = plan.columns(judge.label)[0]
        verdicts = [row.get(column) for row in rows]
        judged = [v for v in verdicts if v is not None]
        share = f" ({sum(judged) / len(judged):.1%})" if judged else ""
        missing = len(verdicts) - len(judged)
        info(ctx, f"{judge.label} ({column}): {sum(judged):,} of {len(judged):,} correct{share}"
                  + (f", {missing:,} without a verdict" if missing else ""))


def _report_agreement(ctx: typer.Context, dest: str, result: Agreement) -> None:
    for pair in result.pairs:
        rate = "n/a" if pair.rate is None else f"{pair.rate:.1%}"
        info(ctx, f"agreement {pair.first} vs {pair.second}: {rate} ({pair.agreed:,} of {pair.compared:,} rows)")
    write_disagreements(ctx, dest, result.disagreements)


def register(app: typer.Typer) -> None:
    app.command("grade", epilog=EXAMPLES)(grade)
