"""The s1K selection (quality → difficulty → pre-selection → diversity) and the paper's ablations.

This follows the s1 repository's ``data/filter.ipynb`` and the paper's §2 (arXiv 2501.19393):

1. Quality: drop rows with a missing feature (an API error left no trace, grade, domain or
   length), then rows whose question has a formatting problem: ``[asy]`` (kept when the source is
   AIME), ``![Image]``, a numbering ``p1.`` … ``p999.``, or bold markup with digits.
2. Difficulty: drop a question if any of the attempt models got it right.
3. Pre-selection: keep questions whose reference trace was judged correct and that come from GPQA
   or AIME, or from MATH with a trace longer than 5,600 tokens.
4. Diversity sampling until the target size: pick a domain uniformly among domains with rows left,
   draw one row of it with probability ∝ 2^(−rank) where the longest trace has rank 0, remove it.
   Optionally (off by default) domains are drawn in proportion to the domains of AIME and
   half-weighted GPQA once the selection holds N rows, as the repository did after 700.

As in the repository, the pre-selected rows stay in their domains' pools during sampling: a draw
that lands on one removes it from the pool and adds nothing (counted as ``redraws``), and sampling
goes on until the selection holds ``size`` rows. That is how s1K was drawn, and it pushes the
sampled rows away from the longest traces the pre-selection already took.

Columns are pulled out of the rows once; from there everything is vectorised over the pool (numpy,
pandas, pyarrow). Sampling loops once per pick, and each pick touches a bounded window of its
domain, never the whole pool.

Messages name the ``s1 select`` options, because ``SelectConfig`` is that command's option set.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConfigError, InputError, located
from .schema import BOOL, Renames, Row, from_text
from .selection_config import MODE_HELP, SelectConfig
from .table import STDIO, iter_rows

# The formatting rules of filter.ipynb ("Drop weird string patterns").
ASY = "[asy]"
IMAGE = "![Image]"
# Equivalent to the notebook's `any(f"p{i}." in question for i in range(1, 1000))`: a "p", a
# number from 1 to 999 written without leading zeros, a dot. Like the notebook, it also fires
# inside words ("step12.").
NUMBERING = r"p[1-9][0-9]{0,2}\."
BOLD_DIGITS = re.compile(r"\*\*(?=.*\d)[^\s\]]*\*\*")

# 2^-rank is exactly 0.0 in float64 beyond rank 1074, so a window of this many undrawn rows per
# domain gives the same distribution as weighting the whole domain (as the notebook does).
RANK_WINDOW = 1100


# ---------------------------------------------------------------------------- results


@dataclass
class Stage:
    """One line of the stage table: the rows left after a filter, or the rows a rule kept."""

    name: str
    rows: int
    change: int | None  # rows dropped by a filter (negative) or kept by a picking rule (positive)
    rule: str
    detail: dict[str, int] = field(default_factory=dict)

    @property
    def change_text(self) -> str:
        return "" if self.change is None else f"{self.change:+,}" if self.change else "0"

    @property
    def detail_text(self) -> str:
        return ", ".join(f"{k}: {v:,}" for k, v in self.detail.items())


@dataclass
class SelectionReport:
    """Everything the paper reports about its selection (§2, Figure 2), for any mode."""

    source_name: str
    mode: str
    size: int
    seed: int
    length_column: str
    domain_column: str
    stages: list[Stage]
    selected: int
    selected_by: dict[str, int]
    # (domain, name or "", rows in the sampling pool, rows selected), most selected first
    domains: list[tuple[str, str, int, int]]
    sampling_pool: str  # which stage the per-domain pool counts refer to
    # source → counts per stage column (see source_columns), most selected first
    sources: list[tuple[str, list[int]]]
    source_columns: list[str]
    # stage → {statistic: value} of the length column
    lengths: dict[str, dict[str, float]]
    benchmark_weights: dict[str, float] = field(default_factory=dict)
    redraws: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def domains_in_pool(self) -> int:
        return sum(1 for _, _, pool, _ in self.domains if pool)

    @property
    def domains_selected(self) -> int:
        return sum(1 for *_, chosen in self.domains if chosen)

    def to_markdown(self) -> str:
        return render_markdown(self)


@dataclass
class Selection:
    """Which rows were selected (input order), by which rule, and the report."""

    indices: np.ndarray  # positions of the selected rows in the input
    rules: list[str]  # selected_by of each of them
    report: SelectionReport
    pool: Sequence[Row] = field(repr=False, default=())

    @property
    def rows(self) -> list[Row]:
        """The selected rows of the pool given to ``select``, each with its ``selected_by``."""
        return [{**self.pool[i], "selected_by": rule} for i, rule in zip(self.indices, self.rules, strict=True)]


class MissingColumn(InputError):
    """A column the mode needs is in no row; ``option`` names the setting that chooses it."""

    def __init__(self, message: str, column: str, option: str) -> None:
        super().__init__(message)
        self.column, self.option = column, option


# ---------------------------------------------------------------------------- columns


class _Columns:
    """The pool's columns that selection reads, pulled out of the rows once and checked."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], name: str) -> None:
        self.rows, self.name, self.n = rows, name, len(rows)
        self._present: dict[str, bool] = {}
        self._values: dict[str, list[Any]] = {}
        self._booleans: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def present(self, column: str) -> bool:
        if column not in self._present:
            self._present[column] = any(column in row for row in self.rows)
        return self._present[column]

    def require(self, column: str, option: str, why: str) -> None:
        if not self.present(column):
            hint = f"set it with {option}" if option.startswith("--") else option
            raise MissingColumn(f"{self.name}: column {column!r} is missing ({why}; {hint}, or rename a column "
                                f"with --map {column}=OLD)", column, option)

    def values(self, column: str) -> list[Any]:
        if column not in self._values:
            self._values[column] = [row.get(column) for row in self.rows]
        return self._values[column]

    def wrong_type(self, index: int, column: str, kind: str, value: Any) -> InputError:
        return InputError(located(f"{self.name}:row {index + 1}", f"column {column!r} must be {kind}, got "
                                                                   f"{_describe(value)}"))

    def objects(self, column: str) -> np.ndarray:
        """The column as a numpy object array (``fromiter`` keeps list values as single items)."""
        return np.fromiter(self.values(column), dtype=object, count=self.n)

    def numbers(self, column: str) -> np.ndarray:
        """A float array (NaN for null); anything that is not a number (or numeric text) is an error."""
        values = self.values(column)
        kinds = set(map(type, values)) - {type(None)}
        if all(issubclass(k, (int, float, np.integer, np.floating)) and k is not bool for k in kinds):
            array = self.objects(column)
            array[pd.isna(array)] = np.nan
            return array.astype(float)
        out = np.empty(self.n)
        for i, v in enumerate(values):
            if v is None:
                out[i] = np.nan
                continue
            try:
                if isinstance(v, bool):
                    raise ValueError
                out[i] = float(v)
            except (TypeError, ValueError):
                raise self.wrong_type(i, column, "a number", v) from None
        return out

    def booleans(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(value, null) arrays; text such as "true"/"False" (CSV) is read as a boolean."""
        if column not in self._booleans:
            self._booleans[column] = self._parse_booleans(column)
        return self._booleans[column]

    def _parse_booleans(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        values = self.values(column)
        if set(map(type, values)) <= {bool, np.bool_, type(None)}:
            array = self.objects(column)
            null = pd.isna(array)
            array[null] = False
            return array.astype(bool), null
        value, null = np.zeros(self.n, bool), np.zeros(self.n, bool)
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                null[i] = True
                continue
            if isinstance(v, str):
                with suppress(ValueError):
                    v = from_text(v, BOOL)
                if v is None:  # an empty cell is no verdict, as in a CSV
                    null[i] = True
                    continue
            if not isinstance(v, (bool, np.bool_)):
                raise self.wrong_type(i, column, "a boolean", v)
            value[i] = v
        return value, null

    def labels(self, column: str) -> tuple[np.ndarray, list[str]]:
        """Integer codes (-1 for null) and the sorted distinct labels, as text."""
        try:
            codes, uniques = pd.factorize(self.objects(column))
        except TypeError:  # an unhashable value: find it to name its row
            for i, v in enumerate(self.values(column)):
                if isinstance(v, (dict, list)):
                    raise self.wrong_type(i, column, "a label (text or number)", v) from None
            raise
        return _sorted_codes(codes, [u if isinstance(u, str) else str(u) for u in uniques])

    def texts(self, column: str) -> pa.Array:
        values = self.values(column)
        try:
            return pa.array(values, type=pa.string())
        except (pa.ArrowException, TypeError, ValueError):
            for i, v in enumerate(values):
                if v is not None and not isinstance(v, str):
                    raise self.wrong_type(i, column, "a string", v) from None
            raise


def _describe(value: Any) -> str:
    kind = {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return f"{kind} ({text[:40]})"


def _sorted_codes(codes: np.ndarray, texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """Renumber factorized codes in sorted label order, so codes do not depend on row order."""
    names = sorted(set(texts))
    rank = {label: i for i, label in enumerate(names)}
    remap = np.array([rank[t] for t in texts] or [0], dtype=np.int64)
    return np.where(codes >= 0, remap[np.maximum(codes, 0)], -1), names


def match_sources(sources: Sequence[str | None], patterns: Sequence[str]) -> np.ndarray:
    """Which sources match any of the (case-sensitive, shell-style) patterns."""
    codes, uniques = pd.factorize(np.fromiter(sources, dtype=object, count=len(sources)))
    hits = np.array([any(fnmatchcase(str(s), p) for p in patterns) for s in uniques] + [False], bool)
    return hits[codes]  # code -1 (null) picks the trailing False


# ---------------------------------------------------------------------------- rules


def format_problems(questions: pa.Array | Sequence[str | None]) -> dict[str, np.ndarray]:
    """For each formatting rule, which questions trip it (null questions trip none)."""
    if not isinstance(questions, pa.Array):
        questions = pa.array(list(questions), type=pa.string())

    def mask(result: pa.Array) -> np.ndarray:
        return np.asarray(result.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)

    bold = mask(pc.match_substring(questions, "**"))
    # RE2 (pyarrow) has no lookahead, so the bold rule runs Python's re on the few candidates.
    candidates = np.flatnonzero(bold)
    texts = questions.take(pa.array(candidates, type=pa.int64())).to_pylist() if candidates.size else []
    bold[candidates] = [BOLD_DIGITS.search(t) is not None for t in texts]
    return {
        "asy": mask(pc.match_substring(questions, ASY)),
        "image": mask(pc.match_substring(questions, IMAGE)),
        "numbering": mask(pc.match_substring_regex(questions, NUMBERING)),
        "bold-digits": bold,
    }


def benchmark_domain_weights(domain: np.ndarray, is_aime: np.ndarray, is_gpqa: np.ndarray,
                             n_domains: int) -> np.ndarray:
    """Domain weights from the benchmark-like rows of the sampling pool, as the notebook builds them.

    AIME rows count 1 each; GPQA counts are scaled so GPQA as a whole weighs half of AIME, and
    truncated to integers (``int(count * 0.5 * n_aime / n_gpqa)``). With no AIME rows the GPQA
    counts are used as they are (the notebook would divide by zero or weigh nothing).
    """
    aime = np.bincount(domain[is_aime], minlength=n_domains).astype(float)
    gpqa = np.bincount(domain[is_gpqa], minlength=n_domains).astype(float)
    n_aime, n_gpqa = aime.sum(), gpqa.sum()
    if n_aime and n_gpqa:
        ratio = 0.5 * n_aime / n_gpqa
        gpqa = np.floor(gpqa * ratio)
    return aime + gpqa


# ---------------------------------------------------------------------------- sampling


@dataclass
class Picks:
    """Rows picked by a sampler, in pick order, with the rule behind each pick."""

    rows: list[int] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    redraws: int = 0
    fallback_after: int | None = None  # selection size when benchmark weights ran out


def sample_by_domain(domain: np.ndarray, length: np.ndarray | None, size: int, rng: np.random.Generator, *,
                     already: np.ndarray | None = None, domain_weights: np.ndarray | None = None,
                     weighting_after: int | None = None) -> Picks:
    """Pick rows domain by domain until ``already`` plus the picks hold ``size`` rows or the pool is empty.

    Each pick chooses a domain uniformly among those with rows left (or by ``domain_weights``
    once the selection holds ``weighting_after`` rows), then a row of it: with ``length`` the
    row of rank r (0 = longest trace; ties keep input order) is drawn with probability ∝ 2^-r,
    without ``length`` uniformly. The drawn row leaves the pool. Rows in ``already`` stay in the
    pool; drawing one adds nothing (a redraw), as in the s1 notebook.
    """
    m = domain.size
    n_domains = int(domain.max()) + 1 if m else 0
    chosen = np.zeros(m, bool) if already is None else already.copy()
    count = int(chosen.sum())
    picks = Picks()
    if m == 0 or count >= size:
        return picks
    # Each domain's rows as one slice of `order`: longest first (ties in input order), or, for
    # uniform draws, a random permutation, so that taking the next row is a uniform draw.
    tiebreak = rng.random(m) if length is None else np.arange(m)
    order = np.lexsort((tiebreak, domain)) if length is None else np.lexsort((tiebreak, -length, domain))
    counts = np.bincount(domain, minlength=n_domains)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    ends = starts + counts
    head = starts.copy()  # first undrawn position of each domain's slice of `order`
    left = counts.copy()
    draws = np.zeros(n_domains, dtype=np.int64)
    drawn = np.zeros(m, bool)  # by position in `order`
    alive = [d for d in range(n_domains) if counts[d]]
    weights = None if domain_weights is None else np.asarray(domain_weights, dtype=float)
    geometric = np.cumsum(np.power(2.0, -np.arange(RANK_WINDOW)))

    while count < size and alive:
        rule = "diversity:uniform" if length is not None else "diverse"
        d = None
        if weights is not None and weighting_after is not None and count >= weighting_after:
            w = weights[alive]
            total = w.sum()
            if total > 0:
                d = alive[int(np.searchsorted(np.cumsum(w), rng.random() * total, side="right"))]
                rule = "diversity:benchmark"
            elif picks.fallback_after is None:
                picks.fallback_after = count
        if d is None:
            d = alive[int(rng.integers(len(alive)))]
        start = head[d]
        if length is None:
            position = start
        else:
            # Drawn rows sit near the top of a domain, so a window of (draws + RANK_WINDOW)
            # positions holds the RANK_WINDOW highest-ranked undrawn rows.
            stop = min(ends[d], start + draws[d] + RANK_WINDOW)
            free = start + np.flatnonzero(~drawn[start:stop])[:RANK_WINDOW]
            cdf = geometric[: free.size]
            position = int(free[int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))])
        drawn[position] = True
        draws[d] += 1
        left[d] -= 1
        while head[d] < ends[d] and drawn[head[d]]:
            head[d] += 1
        if left[d] == 0:
            alive.remove(d)
        row = int(order[position])
        if chosen[row]:
            picks.redraws += 1
            continue
        chosen[row] = True
        picks.rows.append(row)
        picks.rules.append(rule)
        count += 1
    return picks


# ---------------------------------------------------------------------------- the selection


def select(rows: Sequence[Row], config: SelectConfig, *, name: str = "input") -> Selection:
    """Select rows from a pool as ``config.mode`` says; ``name`` (the input file) prefixes errors.

    Raises ``MissingColumn`` when a column the mode needs is in no row, ``InputError`` naming the
    row and column for a value of the wrong type, and ``ConfigError`` for options that cannot work.
    """
    cols = _Columns(rows, name)
    _require_columns(cols, config)
    run = _Run(cols, config)
    if config.mode != "all":
        _quality(run)
    if config.mode == "s1k":
        _difficulty(run)
        if config.preselecting:
            _preselection(run)
        _diversity_sampling(run)
    else:  # an ablation's rows are labelled by its mode
        run.pick(ABLATIONS[config.mode](run, np.flatnonzero(run.keep)), config.mode)
    _selected(run)
    indices = np.flatnonzero(run.chosen)
    return Selection(indices, [str(run.rule_of[i]) for i in indices], _report(run), rows)


def _require_columns(cols: _Columns, config: SelectConfig) -> None:
    """Fail before any work when a column the mode reads is in no row."""
    mode = config.mode
    if mode != "all":
        cols.require("question", "--map question=OLD", "the quality filter reads the question")
    if mode in ("s1k", "longest"):
        cols.require(config.length_column, "--length-column", f"--mode {mode} ranks rows by trace length")
    if mode in ("s1k", "diverse"):
        cols.require(config.domain_column, "--domain-column", f"--mode {mode} samples across domains")
    for column in config.easy_if if mode == "s1k" else ():
        cols.require(column, "--easy-if", "the difficulty filter drops rows an attempt model got right")
    if config.preselecting:
        cols.require(config.trace_correct_column, "--trace-correct-column",
                     "pre-selection keeps rows whose reference trace was judged correct; or pass --no-preselect")
    if config.preselecting or config.benchmark_weighting_after is not None:
        cols.require("source", "--map source=OLD (e.g. --map source=source_type)",
                     "pre-selection and benchmark weighting match sources")


class _Run:
    """One selection under way: the columns the stages read, the pool they leave, the rows they pick."""

    def __init__(self, cols: _Columns, config: SelectConfig) -> None:
        n, self.cols, self.config = cols.n, cols, config
        # Parsed once, for every stage: NaN for a null length, -1 for a null domain.
        self.length = cols.numbers(config.length_column) if cols.present(config.length_column) else None
        self.domain, self.domain_names = (cols.labels(config.domain_column) if cols.present(config.domain_column)
                                          else (None, []))
        self.sources = ([None if s is None else str(s) for s in cols.values("source")] if cols.present("source")
                        else None)
        self.is_aime = (match_sources(self.sources, config.aime_sources) if self.sources is not None
                        else np.zeros(n, bool))
        self.rng = np.random.default_rng(config.seed)
        self.keep, self.chosen = np.ones(n, bool), np.zeros(n, bool)  # keep: the pool the filters leave
        self.rule_of = np.full(n, "", dtype=object)  # selected_by of each chosen row
        self.stages = [Stage("input", n, None, "every row of the pool")]
        self.masks = {"input": np.ones(n, bool)}  # the pool after each filter stage, for the report's tables
        self.warnings: list[str] = []
        self.redraws, self.benchmark_weights = 0, {}

    def any_of(self, masks: Iterable[np.ndarray]) -> np.ndarray:
        return np.logical_or.reduce([np.zeros(self.cols.n, bool), *masks])

    def drop(self, name: str, rows: np.ndarray, rule: str, detail: dict[str, int]) -> None:
        """Take ``rows`` out of the pool, as one line of the stage table."""
        before = int(self.keep.sum())
        self.keep &= ~rows
        kept = int(self.keep.sum())
        self.stages.append(Stage(name, kept, kept - before, rule, detail))

    def pick(self, rows: np.ndarray, rule: str | list[str]) -> None:
        self.chosen[rows] = True
        self.rule_of[rows] = rule


def _quality(run: _Run) -> None:
    """Drop rows with a missing feature (an API error left no trace, grade, domain or length), then
    questions with a formatting problem (the notebook's "Drop weird string patterns")."""
    config, cols = run.config, run.cols
    features = ("question", "thinking", config.length_column, config.domain_column, *config.easy_if,
                config.trace_correct_column)
    nulls = {column: _nulls(run, column) for column in dict.fromkeys(features) if cols.present(column)}
    run.drop("quality: features", run.any_of(nulls.values()),
             "drop rows with a missing feature (no " + ", no ".join(nulls) + ")",
             {f"null {column}": int(null.sum()) for column, null in nulls.items() if null.any()})
    problems = format_problems(cols.texts("question"))
    # The notebook's AIME exception: a question with [asy] from AIME is kept whatever else it holds.
    exempt = problems["asy"] & run.is_aime
    detail = {rule: int((hit & run.keep).sum()) for rule, hit in problems.items()}
    detail["asy kept (AIME)"] = int((exempt & run.keep).sum())
    run.drop("quality: formatting", run.any_of(problems.values()) & ~exempt,
             "drop questions with `[asy]` (unless AIME), `![Image]`, `p1.`…`p999.`, bold with digits",
             {k: v for k, v in detail.items() if v})
    run.masks["quality"] = run.keep.copy()


def _nulls(run: _Run, column: str) -> np.ndarray:
    # A typed column's nulls are read from its parse, the values the later stages use.
    config = run.config
    if column in config.easy_if or column == config.trace_correct_column:
        return run.cols.booleans(column)[1]
    if column == config.length_column:
        return np.isnan(run.length)
    if column == config.domain_column:
        return run.domain < 0
    return pd.isna(run.cols.objects(column))


def _difficulty(run: _Run) -> None:
    """Drop questions any attempt model got right (--easy-if)."""
    easy_if = run.config.easy_if
    easy = {column: run.cols.booleans(column)[0] for column in easy_if}
    rule = ("drop questions any attempt model got right (" + " or ".join(easy_if) + ")" if easy_if
            else "skipped (--easy-if is empty)")
    run.drop("difficulty", run.any_of(easy.values()), rule,
             {f"{column} true": int((value & run.keep).sum()) for column, value in easy.items()})
    run.masks["difficulty"] = run.keep.copy()


def _preselection(run: _Run) -> None:
    """Keep the pool's correct-trace GPQA and AIME rows, and MATH rows with a long correct trace."""
    config = run.config
    correct, _ = run.cols.booleans(config.trace_correct_column)
    is_gpqa = match_sources(run.sources, config.gpqa_sources)
    long_math = match_sources(run.sources, config.math_sources) & (run.length > config.math_min_tokens)
    rules = {"preselect:gpqa": is_gpqa, "preselect:aime": run.is_aime & ~is_gpqa,
             "preselect:math-long": long_math & ~run.is_aime & ~is_gpqa}
    detail = {}
    for rule, hit in rules.items():
        hit = hit & correct & run.keep
        run.pick(hit, rule)
        detail[rule.split(":")[1]] = int(hit.sum())
    kept = int(run.chosen.sum())
    run.stages.append(Stage("pre-selection", kept, kept,
                            f"keep rows whose trace was judged correct ({config.trace_correct_column}) from "
                            f"GPQA or AIME, or from MATH with {config.length_column} > {config.math_min_tokens:g}",
                            detail))
    if kept > config.size:
        run.warnings.append(f"pre-selection alone kept {kept:,} rows, more than --size {config.size:,}; "
                            "all are kept (pass --no-preselect to sample exactly --size rows)")


def _diversity_sampling(run: _Run) -> None:
    """Pick a domain (uniformly, or by its AIME and GPQA rows past --benchmark-weighting-after), then a
    row of it ∝ 2^-rank by trace length, until the selection holds --size rows."""
    config, pool = run.config, np.flatnonzero(run.keep)
    weights = None
    if config.benchmark_weighting_after is not None:
        weights = benchmark_domain_weights(run.domain[pool], run.is_aime[pool],
                                           match_sources(run.sources, config.gpqa_sources)[pool], len(run.domain_names))
        if not weights.any():
            raise ConfigError("--benchmark-weighting-after: the sampling pool has no AIME or GPQA rows to weigh "
                              "domains by (sources are matched by --aime-sources and --gpqa-sources)")
        run.benchmark_weights = {run.domain_names[d]: float(w / weights.sum()) for d, w in enumerate(weights) if w}
    picks = sample_by_domain(run.domain[pool], run.length[pool], config.size, run.rng, already=run.chosen[pool],
                             domain_weights=weights, weighting_after=config.benchmark_weighting_after)
    run.pick(pool[np.asarray(picks.rows, dtype=np.int64)], picks.rules)
    run.redraws = picks.redraws
    detail = dict(Counter(rule.split(":")[1] for rule in picks.rules))
    if picks.redraws:
        detail["redraws of pre-selected rows"] = picks.redraws
    run.stages.append(Stage("diversity sampling", len(picks.rows), len(picks.rows),
                            "pick a domain uniformly, then a row ∝ 2^-rank by trace length", detail))
    if picks.fallback_after is not None:
        run.warnings.append(f"benchmark-weighted domains ran out when the selection held {picks.fallback_after:,} "
                            "rows; later picks chose domains uniformly")


def _random(run: _Run, pool: np.ndarray) -> np.ndarray:
    """1K-random: uniform random rows of the pool."""
    return pool[run.rng.choice(pool.size, size=min(run.config.size, pool.size), replace=False)] if pool.size else pool


def _diverse(run: _Run, pool: np.ndarray) -> np.ndarray:
    """1K-diverse: a uniform domain, then a uniform row of it."""
    return pool[np.asarray(sample_by_domain(run.domain[pool], None, run.config.size, run.rng).rows, dtype=np.int64)]


def _longest(run: _Run, pool: np.ndarray) -> np.ndarray:
    """1K-longest: the longest traces of the pool (ties in input order)."""
    return pool[np.lexsort((pool, -run.length[pool]))][: run.config.size]


def _all(run: _Run, pool: np.ndarray) -> np.ndarray:
    """59K-full: every row (no filter ran, so the pool holds them all)."""
    return pool


ABLATIONS = {"random": _random, "diverse": _diverse, "longest": _longest, "all": _all}
SELECTED_RULE = {"s1k": "pre-selected + sampled rows", "all": "every row (no sampling; --size is ignored)"}


def _selected(run: _Run) -> None:
    """The stage table's last line, and a warning when the filters left fewer rows than --size."""
    mode, size = run.config.mode, run.config.size
    selected = int(run.chosen.sum())
    run.stages.append(Stage("selected", selected, None, SELECTED_RULE.get(mode) or MODE_HELP[mode]))
    left = int(run.keep.sum())
    if mode != "all" and left < size:
        after = "difficulty" if mode == "s1k" else "quality"
        run.warnings.append(f"--size {size:,} is more than the {left:,} rows left after the {after} filter; "
                            f"all {selected:,} are selected")


# ---------------------------------------------------------------------------- report

PERCENTILES = (("min", 0), ("p10", 10), ("p25", 25), ("median", 50), ("p75", 75), ("p90", 90), ("max", 100))


def length_stats(values: np.ndarray) -> dict[str, float]:
    values = values[~np.isnan(values)]
    if not values.size:
        return {}
    stats = dict(zip([k for k, _ in PERCENTILES], np.percentile(values, [q for _, q in PERCENTILES]), strict=True))
    stats["mean"] = float(values.mean())
    stats["rows"] = float(values.size)
    return {k: float(v) for k, v in stats.items()}


def _msc_names(labels: list[str]) -> dict[str, str]:
    from .bundled import msc_classes

    table = dict(msc_classes())
    return {label: table[label] for label in labels if label in table}


def _report(run: _Run) -> SelectionReport:
    config, chosen = run.config, run.chosen
    masks = {**run.masks, "selected": chosen}
    lengths = {} if run.length is None else {
        stage: stats for stage, m in masks.items() if (stats := length_stats(run.length[m]))}
    return SelectionReport(
        source_name=run.cols.name, mode=config.mode, size=config.size, seed=config.seed,
        length_column=config.length_column, domain_column=config.domain_column, stages=run.stages,
        selected=int(chosen.sum()), selected_by=dict(Counter(run.rule_of[chosen]).most_common()),
        domains=[] if run.domain is None else _domain_counts(run),
        sampling_pool={"s1k": "difficulty", "all": "input"}.get(config.mode, "quality"),
        sources=[] if run.sources is None else _source_counts(run, masks), source_columns=list(masks), lengths=lengths,
        benchmark_weights=run.benchmark_weights, redraws=run.redraws, warnings=run.warnings)


def _domain_counts(run: _Run) -> list[tuple[str, str, int, int]]:
    valid, n_domains = run.domain >= 0, len(run.domain_names)
    in_pool = np.bincount(run.domain[valid & run.keep], minlength=n_domains)
    picked = np.bincount(run.domain[valid & run.chosen], minlength=n_domains)
    titles = _msc_names(run.domain_names)
    domains = [(label, titles.get(label, ""), int(in_pool[d]), int(picked[d]))
               for d, label in enumerate(run.domain_names) if in_pool[d] or picked[d]]
    return sorted(domains, key=lambda t: (-t[3], -t[2], t[0]))


def _source_counts(run: _Run, masks: dict[str, np.ndarray]) -> list[tuple[str, list[int]]]:
    code, uniques = pd.factorize(np.fromiter(run.sources, dtype=object, count=run.cols.n), use_na_sentinel=False)
    names = ["(none)" if s is None or (isinstance(s, float) and math.isnan(s)) else str(s) for s in uniques]
    table = {stage: np.bincount(code[m], minlength=len(names)) for stage, m in masks.items()}
    rows = [(s, [int(table[stage][i]) for stage in masks]) for i, s in enumerate(names)]
    return sorted(rows, key=lambda t: (-t[1][-1], -t[1][0], t[0]))


def format_stat(value: float) -> str:
    """A statistic of the report (a count or a trace length) as it is shown: whole unless small."""
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def _md_table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(report: SelectionReport) -> str:
    """The report as Markdown: stages, rules, domains, sources and trace lengths."""
    r = report
    out = [f"# s1 select: {r.selected:,} rows from {r.source_name}", "",
           f"Mode `{r.mode}` ({MODE_HELP[r.mode]}); size {r.size:,}; seed {r.seed}.", ""]
    for warning in r.warnings:
        out += [f"> **warning:** {warning}", ""]
    out += ["## Stages", ""]
    out += _md_table(["stage", "rows", "change", "rule", "detail"],
                     [[s.name, f"{s.rows:,}", s.change_text, s.rule, s.detail_text] for s in r.stages], {1, 2})
    out += ["## Kept by", ""]
    out += _md_table(["selected_by", "rows"], [[k, f"{v:,}"] for k, v in r.selected_by.items()], {1})
    if r.lengths:
        keys = [k for k, _ in PERCENTILES] + ["mean"]
        out += [f"## Trace length (`{r.length_column}`)", ""]
        out += _md_table(["stage", "rows", *keys],
                         [[stage, *(format_stat(s[k]) for k in ("rows", *keys))] for stage, s in r.lengths.items()],
                         set(range(1, len(keys) + 2)))
    if r.domains:
        out += [f"## Domains (`{r.domain_column}`): {r.domains_selected} of {r.domains_in_pool} covered", "",
                f"Pool = rows left after the {r.sampling_pool} stage.", ""]
        out += _md_table(["domain", "name", "pool", "selected"],
                         [[d, title, f"{p:,}", f"{c:,}"] for d, title, p, c in r.domains], {2, 3})
    if r.benchmark_weights:
        out += ["## Benchmark domain weights", ""]
        out += _md_table(["domain", "weight"], [[d, f"{w:.3f}"] for d, w in
                                                sorted(r.benchmark_weights.items(), key=lambda kv: -kv[1])], {1})
    if r.sources:
        out += ["## Sources", ""]
        out += _md_table(["source", *r.source_columns], [[s, *(f"{c:,}" for c in counts)] for s, counts in r.sources],
                         set(range(1, len(r.source_columns) + 1)))
    return "\n".join(out)


# ---------------------------------------------------------------------------- reading a pool table


def slim_row(row: Mapping[str, Any], config: SelectConfig) -> Row:
    """The part of a row selection reads, so a pool with long traces fits in memory (the trace is
    only checked for presence, so it is replaced by a marker)."""
    slim = {column: row[column] for column in config.columns_read() if column in row}
    if slim.get("thinking") is not None and "thinking" not in (config.length_column, config.domain_column):
        slim["thinking"] = True
    return slim


def read_pool(source: str, config: SelectConfig, *, renames: Renames | None = None,
              advance: Callable[[int], None] = lambda n: None) -> list[Row]:
    """The rows of a table to ``select`` from, calling ``advance(1)`` for each. A file's rows are slimmed and
    ``selected_rows`` reads it again, so long traces never sit in memory whole; stdin, read only once, stays whole."""
    pool: list[Row] = []
    for row in iter_rows(source, renames=renames):
        pool.append(row if source == STDIO else slim_row(row, config))
        advance(1)
    return pool


def selected_rows(source: str, selection: Selection, *, renames: Renames | None = None) -> Iterator[Row]:
    """The rows ``selection`` chose from ``read_pool(source)``, in full and with their ``selected_by``."""
    if source == STDIO:
        yield from selection.rows
        return
    wanted = dict(zip(selection.indices.tolist(), selection.rules, strict=True))
    index = -1
    for index, row in enumerate(iter_rows(source, renames=renames)):
        rule = wanted.get(index)
        if rule is not None:
            row["selected_by"] = rule
            yield row
    if index + 1 != (n := len(selection.pool)):
        raise InputError(f"{source}: changed while it was being read ({n:,} rows, then {index + 1:,})")
