"""``s1 bench`` as a library: budget sweeps over evaluation sets, grading, and summaries.

A bench directory (OUTDIR) holds:

- ``run.json``: the options every generated row depends on (model, thinking format, sampling, ...);
  a rerun with different ones is refused rather than mixed into the same tables;
- ``generations/<task>/<setting>.jsonl``: ``s1 generate`` output, one file per task and setting
  (budget × forced waits), written row by row, so a killed run or one more budget only generates
  what is missing;
- ``samples.parquet``: every graded sample (the generation columns except ``thinking``, plus
  ``run``, ``task``, ``num_waits``, ``pred``, ``correct``); it is also the grading cache: a sample
  whose response and reference are unchanged is not graded again;
- ``summary.csv`` (one row per run and setting), ``scaling.csv`` (Control / Scaling / Performance per
  run, task and method), ``results.json`` (both, as JSON), ``report.md`` and ``scaling.png`` (written
  by ``report`` and ``plots``), and ``parallel.png`` (majority voting against budget forcing) when
  the run has majority voting.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .answers import check
from .errors import ConfigError, InputError
from .evalsets import EvalSet, Subset, select_rows
from .forcing import Budget
from .generation import GenerateSpec, Job, Shard, generate, plan, with_method
from .length_control import (
    BUDGET_FORCING,
    CLASS,
    LENGTH_CLASSES,
    MAJORITY,
    REJECTION,
    base_method,
)
from .metrics import (
    Graded,
    Method,
    MethodMetrics,
    Point,
    RunMetrics,
    default_ks,
    group_methods,
    method_metrics,
    run_metrics,
    vote_of,
)
from .schema import Renames, Row
from .table import ResumableWriter, iter_rows, keys_in, read_rows, write_text_atomic
from .thinking import ThinkingFormat

CONFIG_FILE = "run.json"
SAMPLES_FILE = "samples.parquet"
SUMMARY_FILE = "summary.csv"
SCALING_FILE = "scaling.csv"
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"
PLOT_FILE = "scaling.png"
PARALLEL_PLOT_FILE = "parallel.png"  # majority voting against budget forcing, when both were run
GENERATIONS_DIR = "generations"
# Columns that identify a graded sample across runs, tasks and settings.
SAMPLE_KEY = ("run", "task", "id", "sample", "budget", "num_waits", "method", "length")
DROPPED_COLUMNS = ("thinking",)  # long; it stays in the generation tables


# ------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Setting:
    """One point of the sweep: a thinking budget (None = no cap) and a number of forced waits, for
    budget forcing; other methods (``length_control``) state the budget in the prompt, or draw under
    it (rejection sampling), or ask for a length class (``short``/``long``)."""

    budget: int | None
    num_waits: int = 0
    method: str = BUDGET_FORCING
    length: str | None = None  # class-conditional: short or long
    step_tokens: int | None = None  # step-conditional: tokens per step
    max_tries: int | None = None  # rejection sampling: draws per sample

    @property
    def slug(self) -> str:
        """The generation file's name: ``budget-512``, ``budget-none-waits-2``, and for the other methods
        ``token-conditional-budget-512``, ``class-conditional-short``, ``rejection-sampling-budget-512-tries-8``."""
        waits = f"-waits-{self.num_waits}" if self.num_waits else ""
        budget = f"budget-{'none' if self.budget is None else self.budget}{waits}"
        if self.method == BUDGET_FORCING:
            return budget
        if self.length:
            return f"{self.method}-{self.length}"
        extra = (f"-steps-of-{self.step_tokens}" if self.step_tokens else "") + \
            (f"-tries-{self.max_tries}" if self.max_tries else "")
        return f"{self.method}-{budget}{extra}"

    @property
    def order(self) -> tuple:
        return (self.method != BUDGET_FORCING, self.method, LENGTH_CLASSES.index(self.length) if self.length else -1,
                *sort_key(self.budget, self.num_waits))


def sort_key(budget: int | None, num_waits: int | None) -> tuple:
    """Settings in reading order: by cap (no cap last), then by waits."""
    return (budget is None, budget or 0, num_waits or 0)


def parse_budgets(text: str) -> list[int | None]:
    """``512,1024,none`` → [512, 1024, None]."""
    budgets: list[int | None] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part.lower() in ("none", "inf", "off"):
            value = None
        else:
            try:
                value = int(part)
            except ValueError:
                raise ConfigError(f"--budgets {text!r}: {part!r} is not a whole number of tokens or 'none'") from None
            if value < 1:
                raise ConfigError(f"--budgets {text!r}: a budget must be at least 1 token, got {value}")
        if value in budgets:
            raise ConfigError(f"--budgets {text!r}: {part} appears twice")
        budgets.append(value)
    if not budgets:
        raise ConfigError("--budgets is empty; e.g. --budgets 512,1024,2048 (or none for no cap)")
    return budgets


def parse_waits(text: str) -> list[int]:
    """``0,1,2`` → [0, 1, 2]."""
    waits: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit():
            raise ConfigError(f"--num-waits {text!r}: {part!r} is not a whole number (0 or more)")
        if int(part) in waits:
            raise ConfigError(f"--num-waits {text!r}: {part} appears twice")
        waits.append(int(part))
    if not waits:
        raise ConfigError("--num-waits is empty; e.g. --num-waits 0,2,4")
    return waits


def sweep(budgets: Sequence[int | None], waits: Sequence[int]) -> list[Setting]:
    return sorted((Setting(b, w) for b in budgets for w in waits), key=lambda s: sort_key(s.budget, s.num_waits))


UNFORCED = Setting(None, 0)  # the model's own thinking: budget forcing's baseline, majority voting's samples


def method_settings(methods: Sequence[str], budgets: Sequence[int | None], waits: Sequence[int], *,
                    step_tokens: int, max_tries: int) -> list[Setting]:
    """Every setting the methods need: budget forcing sweeps budgets × waits; majority voting samples
    the unforced setting; the prompted methods and rejection sampling take each numeric budget;
    class-conditional asks for short and long thinking, against the unforced setting as its yardstick."""
    found: list[Setting] = []
    numeric = [b for b in budgets if b is not None]
    for method in methods:
        if method == BUDGET_FORCING:
            found += sweep(budgets, waits)
        elif method in (MAJORITY, CLASS):
            found.append(UNFORCED)
            found += [Setting(None, 0, CLASS, length) for length in LENGTH_CLASSES] if method == CLASS else []
        else:
            if not numeric:
                raise ConfigError(f"--methods {method} needs numeric --budgets (e.g. --budgets 512,1024)")
            step = step_tokens if base_method(method) == "step-conditional" else None
            tries = max_tries if method == REJECTION else None
            found += [Setting(b, 0, method, None, step, tries) for b in numeric]
    if any(waits) and BUDGET_FORCING not in methods:
        raise ConfigError("--num-waits sweeps budget forcing's forced waits: add budget-forcing to --methods")
    return sorted(dict.fromkeys(found), key=lambda s: s.order)


def short_name(model: str) -> str:
    """``hf:models/s1.1-32B`` → ``s1.1-32B``: a run label from a model reference."""
    name = model.partition(":")[2] or model
    return name.rstrip("/").rsplit("/", 1)[-1] or model


# ------------------------------------------------------------------------------------------ run config


def check_config(outdir: Path, config: dict[str, Any], *, overwrite: bool) -> None:
    """Refuse to mix rows made with different options into one directory (unless ``overwrite``)."""
    path = outdir / CONFIG_FILE
    if overwrite or not path.exists():
        return
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable bench config ({exc}); use --overwrite to start afresh") from None
    # The label only names the run in reports; every other option shapes the generated rows.
    changed = [key for key in sorted(set(config) | set(previous))
               if key != "label" and previous.get(key) != config.get(key)]
    if changed:
        detail = "; ".join(f"{key}: {previous.get(key)!r} there, {config.get(key)!r} now" for key in changed[:3])
        raise ConfigError(f"{outdir}: holds a run made with other options ({detail}); use the same options, "
                          "another OUTDIR, or --overwrite")


def write_config(outdir: Path, config: dict[str, Any]) -> None:
    # A temp file of its own: shards of one run may write the (same) config at the same moment.
    write_text_atomic(outdir / CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True) + "\n")


def read_config(outdir: Path) -> dict[str, Any]:
    try:
        return json.loads((outdir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def generation_config(spec: GenerateSpec, label: str) -> dict[str, Any]:
    """What every generated row depends on, besides its budget, waits and sample index."""
    budget = spec.budget
    return {
        "mode": "generate", "label": label, "model": spec.model,
        "format": spec.fmt.name, "think_start": spec.fmt.start, "think_end": spec.fmt.end,
        "min_thinking_tokens": budget.min_thinking_tokens, "wait_string": budget.wait,
        "max_answer_tokens": budget.max_answer_tokens, "answer_prefix": budget.answer_prefix,
        "temperature": spec.sampling.temperature, "top_p": spec.sampling.top_p, "seed": spec.sampling.seed,
        "system": spec.system,
    }


# ------------------------------------------------------------------------------------------ generation


@dataclass
class Unit:
    """One task × setting: its generation file, spec and the jobs still to run."""

    evalset: EvalSet
    setting: Setting
    path: Path
    spec: GenerateSpec
    jobs: list[Job]
    writer: ResumableWriter
    outdir: Path
    n: int = 1  # samples per question


def generation_path(outdir: Path, task: str, setting: Setting, shard: Shard = Shard()) -> Path:
    """``generations/TASK/SETTING.jsonl``, or ``SETTING.shard-I-of-N.jsonl`` for ``--shard I/N``: each
    shard writes its own file, so shards can run at once on a shared disk."""
    name = setting.slug if shard.count == 1 else f"{setting.slug}.shard-{shard.index}-of-{shard.count}"
    return outdir / GENERATIONS_DIR / task / f"{name}.jsonl"


def generation_files(outdir: Path, task: str, setting: Setting) -> list[Path]:
    """Every existing file holding generations of one task × setting: the whole run's and its shards'."""
    folder = outdir / GENERATIONS_DIR / task
    whole = generation_path(outdir, task, setting)
    shards = sorted(folder.glob(f"{setting.slug}.shard-*-of-*.jsonl")) if folder.is_dir() else []
    return [p for p in [whole, *shards] if p.exists()]


def spec_for(base: GenerateSpec, setting: Setting, n: int | None = None) -> GenerateSpec:
    """The generation of one setting: budget forcing's cap and waits, or another method's prompt, cap
    (when it enforces one) and draws."""
    spec = with_method(base, setting.method, budget=setting.budget, num_waits=setting.num_waits,
                       length=setting.length, step_tokens=setting.step_tokens or 1, max_tries=setting.max_tries or 1)
    return replace(spec, n=n or base.n)


def check_settings(base: GenerateSpec, settings: Iterable[Setting]) -> None:
    """Every setting's budget must be valid with the fixed options (e.g. a cap below the minimum), and
    its method's options too (rejection sampling needs sampling)."""
    for setting in settings:
        Budget(**{**asdict(base.budget), "max_thinking_tokens": setting.budget, "num_waits": setting.num_waits})
        spec_for(base, setting)


def plan_units(outdir: Path, evalsets: Sequence[EvalSet], settings: Sequence[Setting], base: GenerateSpec, *,
               overwrite: bool = False, shard: Shard = Shard(), samples: dict[Setting, int] | None = None
               ) -> list[Unit]:
    """The generation files and the (question, sample) jobs each still lacks: in ``shard``, and in
    none of the task × setting's files (a run without --shard picks up what its shards made).
    ``samples`` gives a setting more samples than ``base.n`` (majority voting's)."""
    units = []
    for evalset in evalsets:
        for setting in settings:
            path = generation_path(outdir, evalset.name, setting, shard)
            others = [p for p in generation_files(outdir, evalset.name, setting) if p != path]
            if overwrite and shard.count == 1:
                for stale in others:  # starting afresh: earlier shards' rows are stale too
                    stale.unlink()
                others = []
            writer = ResumableWriter(path, resume=not overwrite)
            done = set(writer.done).union(*(keys_in(p) for p in others))
            spec = spec_for(base, setting, (samples or {}).get(setting))
            units.append(Unit(evalset, setting, path, spec, plan(evalset.rows, spec, shard, done=done), writer, outdir,
                              spec.n))
    return units


def run_units(engine: Any, units: Sequence[Unit], on_row: Callable[[int], None] | None = None) -> int:
    """Generate every unit's missing rows into its file; returns the number of rows written."""
    written = 0
    for unit in units:
        if not unit.jobs:
            continue
        with unit.writer:
            for row in generate(engine, unit.jobs, unit.spec, on_row):
                written += unit.writer.write(row)
    return written


def generated_samples(units: Sequence[Unit], label: str) -> list[Row]:
    """The sample rows of every unit, in question order then sample order: each requested question's
    first ``unit.n`` samples (a file may hold more, from an earlier run with a larger ``--n``)."""
    rows: list[Row] = []
    for unit in units:
        n = unit.n
        found: dict[tuple[str, int], Row] = {}
        for path in generation_files(unit.outdir, unit.evalset.name, unit.setting):
            for row in iter_rows(path, allow_empty=True):
                sample = row.get("sample") or 0
                if sample < n:
                    found.setdefault((row["id"], sample), row)
        for question in unit.evalset.rows:
            for sample in range(n):
                row = found.get((question["id"], sample))
                if row is None:
                    raise InputError(f"{unit.path}: id {question['id']!r} sample {sample} is missing; "
                                     "rerun the same command to generate it")
                rows.append(sample_row(row, label, unit.evalset.name, unit.setting))
    return rows


def sample_row(row: Row, label: str, task: str, setting: Setting) -> Row:
    """A graded sample: the generation's columns, with the setting it belongs to (for the prompted
    methods ``budget`` is the budget the prompt stated, which no cap enforced)."""
    kept = {k: v for k, v in row.items() if k not in DROPPED_COLUMNS}
    return {"run": label, "task": task, **kept, "budget": setting.budget, "num_waits": setting.num_waits,
            "method": setting.method, "length": setting.length}


def method_of(row: Row) -> str:
    """A sample's method; tables written before there were several (no ``method``) are budget forcing."""
    return row.get("method") or BUDGET_FORCING


# ------------------------------------------------------------------------------------------ predictions


@dataclass(frozen=True)
class PredictionOptions:
    response_column: str = "response"
    split: ThinkingFormat | None = None  # the response column holds thinking + answer: split it
    n: int | None = None
    label: str | None = None
    renames: Renames = field(default_factory=Renames)


def load_predictions(path: str, options: PredictionOptions, *, evalsets: Sequence[EvalSet] | None = None,
                     subsets: Sequence[Subset] = (), limit: int | None = None) -> list[Row]:
    """Sample rows from a table of existing generations.

    The table needs ``id`` and the response column, and ``answer`` unless ``evalsets`` (from
    ``--tasks``) supply the references by id (rows of other ids are dropped). The task is the
    ``task`` column, else ``source``, else the file's name; the run is ``--label``, else the short
    name of the ``model`` column, else the file's name. With ``n``, every question must have at least
    ``n`` samples and only the first ``n`` are graded.
    """
    stem = Path(path).name.split(".")[0] or "predictions"
    require = ["id", options.response_column]
    if evalsets is None:
        require.append("answer")
    rows = read_rows(path, require=require, renames=options.renames)
    if evalsets is not None:
        references = {row["id"]: row for evalset in evalsets for row in evalset.rows}
        rows = [{**row, "answer": references[row["id"]]["answer"], "task": references[row["id"]]["task"],
                 "metadata": row.get("metadata") or references[row["id"]].get("metadata")}
                for row in rows if row["id"] in references]
        if not rows:
            raise InputError(f"{path}: no row's id is in the --tasks questions")
    models = sorted({str(row["model"]) for row in rows if row.get("model") is not None})
    if options.label and len(models) > 1:
        raise ConfigError(f"--label {options.label!r}: {path} holds several models ({', '.join(models[:3])}); "
                          "drop --label to get one run per model")
    samples = []
    for row in rows:
        response = row.get(options.response_column)
        if options.split is not None:
            _, response = options.split.split(response or "")
        task = row.get("task") or row.get("source") or stem
        label = options.label or (short_name(str(row["model"])) if row.get("model") is not None else stem)
        sample = {k: v for k, v in row.items() if k not in DROPPED_COLUMNS and k != options.response_column}
        samples.append({"run": label, "task": str(task), **sample, "response": response,
                        "sample": row.get("sample") or 0, "num_waits": row.get("num_waits")})
    if evalsets is None:
        samples = _select_predictions(samples, subsets, limit)
    return _take_n(samples, options.n, path)


def _select_predictions(samples: list[Row], subsets: Sequence[Subset], limit: int | None) -> list[Row]:
    """--subset and --limit on a predictions table: by question, in table order, per task."""
    kept = []
    for task in dict.fromkeys(row["task"] for row in samples):
        rows = [row for row in samples if row["task"] == task]
        questions: dict[str, Row] = {}
        for row in rows:
            questions.setdefault(row["id"], row)
        chosen = {row["id"] for row in select_rows(task, list(questions.values()), subsets, limit)}
        kept.extend(row for row in rows if row["id"] in chosen)
    return kept


def _take_n(samples: list[Row], n: int | None, path: str) -> list[Row]:
    if n is None:
        return samples
    counts: dict[tuple, int] = {}
    for row in samples:
        key = (row["run"], row["task"], row["id"], row.get("budget"), row.get("num_waits"))
        counts[key] = counts.get(key, 0) + (row["sample"] < n)
    for (_, task, question, budget, _), count in counts.items():
        if count < n:
            raise InputError(f"{path}: id {question!r} (task {task}, budget {budget}) has {count} of the "
                             f"--n {n} samples (0 .. {n - 1}) needed")
    return [row for row in samples if row["sample"] < n]


# ------------------------------------------------------------------------------------------ grading


def sample_key(row: Row) -> tuple:
    return tuple(row.get(column) for column in SAMPLE_KEY)


def _check(item: tuple[str | None, str | None, list[str] | None]) -> tuple[str | None, bool]:
    response, answer, choices = item
    verdict = check(response, answer, choices=choices)
    return verdict.pred, verdict.correct


def _choices(row: Row) -> list[str] | None:
    """A multiple-choice question's option texts (GPQA rows carry them in metadata)."""
    metadata = row.get("metadata")
    choices = metadata.get("choices") if isinstance(metadata, dict) else None
    return [str(c) for c in choices] if isinstance(choices, list) else None


def load_cache(outdir: Path) -> dict[tuple, Row]:
    """Graded samples from an earlier run, by sample key (empty when there are none)."""
    path = outdir / SAMPLES_FILE
    if not path.exists():
        return {}
    return {sample_key(row): row for row in iter_rows(path, unique=False, allow_empty=True)}


def grade(samples: list[Row], cache: dict[tuple, Row] | None = None, *, workers: int = 1,
          on_graded: Callable[[int], None] | None = None) -> tuple[list[Row], int]:
    """Add ``pred`` and ``correct`` to every sample; returns the rows and how many were graded anew.

    A sample found in ``cache`` with the same response and reference keeps its verdict. A
    multiple-choice sample whose ``metadata`` lists its ``choices`` may answer with a choice's text.
    Grading runs
    math-verify in this (main) thread, or in ``workers`` spawned processes — each its own main
    thread, where math-verify's signal-based timeouts work.
    """
    cache = cache or {}
    todo: list[int] = []
    for index, row in enumerate(samples):
        old = cache.get(sample_key(row))
        if old is not None and old.get("response") == row.get("response") and old.get("answer") == row.get("answer"):
            row["pred"], row["correct"] = old.get("pred"), bool(old.get("correct"))
        elif not (row.get("response") or "").strip():
            row["pred"], row["correct"] = None, False  # thinking never ended, or an empty answer: no answer
        else:
            todo.append(index)
    pairs = [(samples[i]["response"], None if samples[i].get("answer") is None else str(samples[i]["answer"]),
              _choices(samples[i])) for i in todo]
    if workers > 1 and len(pairs) > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = pool.map(_check, pairs, chunksize=max(1, min(256, len(pairs) // (workers * 4))))
            verdicts = []
            for verdict in results:
                verdicts.append(verdict)
                if on_graded:
                    on_graded(1)
    else:
        verdicts = []
        for pair in pairs:
            verdicts.append(_check(pair))
            if on_graded:
                on_graded(1)
    for index, (pred, correct) in zip(todo, verdicts, strict=True):
        samples[index]["pred"], samples[index]["correct"] = pred, correct
    return samples, len(todo)


def order_samples(samples: list[Row]) -> list[Row]:
    """A stable order for samples.parquet: by run, task, setting; questions keep their order."""
    first = {}
    for index, row in enumerate(samples):
        first.setdefault((row["run"], row["task"], row["id"]), index)
    def setting(r: Row) -> tuple:
        return Setting(r.get("budget"), r.get("num_waits") or 0, method_of(r), r.get("length")).order

    return sorted(samples, key=lambda r: (r["run"], r["task"], setting(r), first[(r["run"], r["task"], r["id"])],
                                          r.get("sample") or 0))


# ------------------------------------------------------------------------------------------ summaries


def to_graded(row: Row) -> Graded:
    return Graded(question=str(row["id"]), sample=int(row.get("sample") or 0), correct=bool(row.get("correct")),
                  vote=vote_of(row.get("pred"), bool(row.get("correct"))),
                  thinking_tokens=row.get("thinking_tokens"), response_tokens=row.get("response_tokens"),
                  waits=row.get("waits"), tries=row.get("tries"), accepted=row.get("accepted"))


@dataclass(frozen=True)
class RunSummary:
    run: str
    model: str | None
    task: str
    budget: int | None
    num_waits: int | None
    metrics: RunMetrics
    method: str = BUDGET_FORCING
    length: str | None = None

    def as_row(self) -> Row:
        m = self.metrics
        low, high = m.interval if m.interval else (None, None)
        row: Row = {"run": self.run, "model": self.model, "task": self.task, "method": self.method,
                    "budget": self.budget, "num_waits": self.num_waits, "length": self.length,
                    "questions": m.questions, "n": m.n, "samples": m.samples,
                    "accuracy": m.accuracy, "ci_low": low, "ci_high": high}
        row.update({f"pass@{k}": v for k, v in m.pass_at.items()})
        row.update({f"maj@{k}": v for k, v in m.maj_at.items()})
        row.update({"no_answer": m.no_answer, "thinking_tokens": m.thinking_tokens,
                    "response_tokens": m.response_tokens, "waits": m.waits, "within_budget": m.within_budget,
                    "capped": m.capped, "tries": m.tries, "accepted": m.accepted})
        return row

    @property
    def note(self) -> str:
        """The setting in a few characters, for plot labels: ``512``, ``no cap +2w``, ``short``."""
        if self.length:
            return self.length
        cap = "no cap" if self.budget is None else f"{self.budget:,}"
        return cap + (f" +{self.num_waits}w" if self.num_waits else "")

    @property
    def order(self) -> tuple:
        return Setting(self.budget, self.num_waits or 0, self.method, self.length).order


@dataclass(frozen=True)
class CurvePoint:
    """One point of a method's curve: compute (average thinking tokens per question, for majority voting
    k times a sample's), accuracy (0..1) with its interval, and a short label."""

    compute: float | None
    accuracy: float
    interval: tuple[float, float] | None
    note: str
    order: tuple = ()


@dataclass(frozen=True)
class MethodSummary:
    """The paper's Control / Scaling / Performance of one method of one run on one task, and its curve."""

    run: str
    task: str
    method: Method
    metrics: MethodMetrics
    points: tuple[CurvePoint, ...] = ()

    def as_row(self) -> Row:
        m = self.metrics
        return {"run": self.run, "task": self.task, "method": self.method.key, "settings": m.settings,
                "control": m.control, "scaling": m.scaling, "performance": m.performance, "pairs": m.pairs,
                "same_compute_pairs": m.same_compute_pairs, "thinking_tokens_low": m.compute_low,
                "thinking_tokens_high": m.compute_high}


def summarise(samples: Sequence[Row], *, resamples: int = 1000, seed: int = 0,
              a_min: dict[str, float] | None = None) -> tuple[list[RunSummary], list[MethodSummary]]:
    """Metrics per run and setting, and the paper's Control / Scaling / Performance per run, task and
    method (``method_summaries``)."""
    groups: dict[tuple, list[Row]] = {}
    for row in samples:
        key = (row["run"], row["task"], method_of(row), row.get("length"), row.get("budget"), row.get("num_waits"))
        groups.setdefault(key, []).append(row)
    runs = []
    for run, task, method, length, budget, num_waits in groups:
        rows = groups[(run, task, method, length, budget, num_waits)]
        # A prompted method's budget was only asked for: within/capped still measure against it.
        metrics = run_metrics([to_graded(r) for r in rows], budget=budget, resamples=resamples, seed=seed)
        runs.append(RunSummary(run, rows[0].get("model"), task, budget, num_waits, metrics, method, length))
    runs.sort(key=lambda r: (r.run, r.task, r.order))
    return runs, method_summaries(runs, a_min=a_min)


def method_summaries(runs: Sequence[RunSummary], *, a_min: dict[str, float] | None = None) -> list[MethodSummary]:
    """Each run and task's methods: budget forcing's (``metrics.group_methods``: caps, Wait at each cap,
    the unforced baseline), majority voting over the unforced samples (k = 1, 2, 4, ... n at k times
    their thinking), and each other method over its budgets or length classes."""
    methods = []
    for run, task in dict.fromkeys((r.run, r.task) for r in runs):
        mine = [r for r in runs if (r.run, r.task) == (run, task)]
        floor = (a_min or {}).get(run, 0.0)
        forced = {(r.budget, r.num_waits or 0): r for r in mine if r.method == BUDGET_FORCING}
        for method, settings_ in group_methods(forced).items():
            members = [forced[s] for s in settings_]
            points = [Point(r.metrics.thinking_tokens, r.metrics.accuracy, r.budget, floor) for r in members]
            metrics = method_metrics(points)
            if method.kind == "unforced":  # nothing was asked of its thinking: no limit to respect
                metrics = replace(metrics, control=None)
            methods.append(MethodSummary(run, task, method, metrics, tuple(_curve_point(r) for r in members)))
        baseline = forced.get((None, 0))
        if baseline is not None and baseline.metrics.n >= 2:
            methods.append(_majority(run, task, baseline))
        for name in dict.fromkeys(r.method for r in mine if r.method != BUDGET_FORCING):
            members = sorted((r for r in mine if r.method == name), key=lambda r: r.order)
            if name == CLASS:
                # No number is asked for: short should think less than the model does unprompted, long more.
                pivot = baseline.metrics.thinking_tokens if baseline is not None else None
                points = [Point(r.metrics.thinking_tokens, r.metrics.accuracy,
                                pivot if r.length == "short" else None,
                                pivot if r.length == "long" and pivot is not None else 0.0)
                          for r in members]
                metrics = method_metrics(points)
                if pivot is None:
                    metrics = replace(metrics, control=None)
            else:
                points = [Point(r.metrics.thinking_tokens, r.metrics.accuracy, r.budget, floor) for r in members]
                metrics = method_metrics(points)
            methods.append(MethodSummary(run, task, Method(name), metrics,
                                         tuple(_curve_point(r) for r in members)))
    return methods


def _curve_point(run: RunSummary) -> CurvePoint:
    return CurvePoint(run.metrics.thinking_tokens, run.metrics.accuracy, run.metrics.interval, run.note, run.order)


def _majority(run: str, task: str, unforced: RunSummary) -> MethodSummary:
    """Parallel scaling: majority voting over k of the unforced samples, at k times their mean thinking."""
    m = unforced.metrics
    ks = [1, *default_ks(m.n)]
    mean = m.thinking_tokens
    accuracy = {1: m.accuracy, **m.maj_at}
    points = [Point(None if mean is None else k * mean, accuracy[k]) for k in ks]
    metrics = replace(method_metrics(points), control=None)  # no limit is asked of it
    curve = tuple(CurvePoint(p.compute, p.accuracy, m.interval if k == 1 else None, f"k={k}", (k,))
                  for k, p in zip(ks, points, strict=True))
    return MethodSummary(run, task, Method(MAJORITY), metrics, curve)
