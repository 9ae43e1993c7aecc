"""Benchmark metrics: accuracy, pass@k, maj@k, thinking compute, and the s1 paper's Control / Scaling /
Performance.

Vocabulary. A *run* is one evaluation setting (a thinking budget, a number of forced waits) of one
model on one task: every question answered ``n`` times (samples). A *curve* is a model's runs on one
task at different budgets: points (average thinking tokens, accuracy), the shape of the paper's
Figures 1 and 4.

Per run:

- **accuracy**: pass@1 averaged over all samples: each question scores (correct samples) / (its
  samples), and accuracy is the mean over questions. Every sample counts; none is silently dropped.
- **pass@k**: the unbiased estimator of Chen et al. (2021), per question
  ``1 - C(n - c, k) / C(n, k)`` with ``n`` samples of which ``c`` are correct, averaged over questions:
  the chance that at least one of ``k`` samples drawn without replacement is correct.
- **maj@k**: majority voting over ``k`` samples. Samples are split in order into ``n // k`` disjoint
  blocks of ``k`` (block ``j`` holds samples ``jk .. jk+k-1``); each block votes, and a question scores
  the fraction of blocks whose vote is correct (with ``k = n``: the single vote over every sample).
  Votes: every correct answer is one vote for the reference; a wrong answer votes for its normalised
  text (``answers.normalise``); a sample with no answer does not vote, and a block with no votes is
  wrong. **Ties** go to the answer that appears first in sample order — deterministic, and what
  ``collections.Counter.most_common`` does in the s1 evaluation harness.
- **no-answer rate**: the fraction of samples from which no final answer could be extracted
  (including those whose thinking never ended, which have no response at all).
- **thinking tokens**: the mean over samples; **within budget**: the fraction of samples whose
  thinking stayed within the run's cap; **capped**: the fraction whose thinking reached it (and was
  ended by budget forcing).
- **95% interval** for accuracy: a percentile bootstrap over questions (resampled with replacement,
  seeded, so reports are reproducible).

Per method, the paper's §3.2 metrics (eqs. 1–3). A *method* is one way of controlling test-time
compute, swept over a set A of settings (thinking budgets); each setting ``a`` is placed at its compute
(average thinking tokens) with accuracy ``f(a)``. The metrics are only meaningful per method: a curve
through the settings of two methods (caps and forced waits, say) mixes two axes, and its slopes
compare settings that no knob connects. Budget forcing's settings split into methods as follows
(``group_methods``):

- **cap** (budget forcing by capping, the paper's token-conditional caps): the settings with a cap
  and no forced waits, swept over the cap;
- **wait** (budget forcing by extension, one method per cap, ``None`` = no cap): the settings with
  forced waits at that cap, swept over the number of waits K, together with the same cap's K = 0
  setting when it was run: extending 0 times is the first setting of that knob, as "no
  extrapolation" is in the paper's Table 4;
- **unforced**: no cap and no waits, the model's own thinking. It is the baseline, not a method: it
  has no pre-specified limit for Control and no knob for Scaling; it is in the no-cap wait curve as
  its K = 0 point only.

Over a method's settings:

- **Control** = (1/|A|) Σ_{a∈A} 𝟙(a_min ≤ a ≤ a_max): the fraction of settings whose average thinking
  stays within the compute limits asked for — each setting's own cap as a_max (no cap: no upper
  limit) and the minimum thinking tokens asked for as a_min (0 unless set). The paper usually
  constrains only a_max and reports Control as a percentage, 100% being perfect control.
- **Scaling** = (1/C(|A|, 2)) Σ_{a,b∈A, b>a} (f(b) − f(a)) / (b − a): the average slope of the piecewise
  linear accuracy-vs-compute function over all pairs of settings; positive for a useful method,
  larger is better. The paper states no unit; here accuracy is in percentage points and compute in
  thousands of thinking tokens (points per 1,000 tokens). A pair whose average thinking differs by
  less than ``SAME_COMPUTE`` (10%) of the larger is left out of the average, as the paper's pairs at
  equal compute have no slope: such settings are the same compute (a cap the model no longer
  reaches, waits that no longer fit under a cap), and their slope is the difference of a few
  questions divided by a few tokens — one question in 60 over one token is 1,667 points per 1,000
  tokens. The average is over the pairs kept; ``MethodMetrics`` says how many were left out.
- **Performance** = max_{a∈A} f(a): the best accuracy among the method's settings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

CORRECT_VOTE = "\x00correct"  # the vote of every correct answer; never the normalised text of an answer


@dataclass(frozen=True)
class Graded:
    """One graded sample, as the metrics see it."""

    question: str
    sample: int
    correct: bool
    vote: str | None  # CORRECT_VOTE, the normalised wrong answer, or None (no answer)
    thinking_tokens: int | None = None
    response_tokens: int | None = None
    waits: int | None = None
    tries: int | None = None  # rejection sampling: draws made
    accepted: bool | None = None  # rejection sampling: a draw ended its thinking within the cap


def vote_of(pred: str | None, correct: bool) -> str | None:
    """The vote a sample casts in maj@k: correct answers vote together, wrong ones by their text."""
    if correct:
        return CORRECT_VOTE
    if pred is None:
        return None
    from .answers import normalise

    return normalise(pred)


# ------------------------------------------------------------------------------------------ per question


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one question: ``1 - C(n-c, k) / C(n, k)`` (exact, with Python integers)."""
    if not 0 <= c <= n:
        raise ValueError(f"correct samples c={c} must be between 0 and n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"k={k} must be between 1 and n={n}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority(votes: Sequence[str | None]) -> str | None:
    """The most frequent vote (None never votes); a tie goes to the vote that appears first."""
    counts: dict[str, int] = {}
    for vote in votes:
        if vote is not None:
            counts[vote] = counts.get(vote, 0) + 1  # dicts keep first-appearance order
    if not counts:
        return None
    best = max(counts.values())
    return next(vote for vote, count in counts.items() if count == best)


def maj_at_k(votes: Sequence[str | None], k: int) -> float:
    """maj@k for one question from its votes in sample order: the fraction of the ``len // k``
    consecutive blocks of ``k`` whose majority is the correct answer."""
    if not 1 <= k <= len(votes):
        raise ValueError(f"k={k} must be between 1 and the number of samples ({len(votes)})")
    blocks = len(votes) // k
    wins = sum(majority(votes[j * k:(j + 1) * k]) == CORRECT_VOTE for j in range(blocks))
    return wins / blocks


def default_ks(n: int) -> list[int]:
    """The k reported for n samples: powers of two from 2 up to n, and n itself."""
    ks = [2 ** i for i in range(1, n.bit_length()) if 2 ** i <= n]
    if n >= 2 and n not in ks:
        ks.append(n)
    return ks


def bootstrap_interval(scores: Sequence[float], *, resamples: int = 1000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval for the mean of per-question ``scores`` (None when it cannot be
    computed: no resamples asked, or no scores)."""
    import numpy as np  # loaded when metrics are computed, not when `s1` starts

    values = np.asarray(scores, dtype=float)
    if resamples <= 0 or values.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    # In chunks, so 10,000 resamples of a large set never hold a huge index matrix at once.
    chunk = max(1, 2_000_000 // values.size)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        picks = rng.integers(0, values.size, size=(stop - start, values.size))
        means[start:stop] = values[picks].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


# ------------------------------------------------------------------------------------------ per run


@dataclass(frozen=True)
class RunMetrics:
    """The metrics of one run (fractions in 0..1; token counts are means over samples)."""

    questions: int
    samples: int
    n: int  # samples per question (the smallest, when questions differ)
    accuracy: float
    interval: tuple[float, float] | None
    pass_at: dict[int, float] = field(default_factory=dict)
    maj_at: dict[int, float] = field(default_factory=dict)
    no_answer: float = 0.0
    thinking_tokens: float | None = None
    response_tokens: float | None = None
    within_budget: float | None = None
    capped: float | None = None
    waits: float | None = None
    tries: float | None = None  # rejection sampling: mean draws per sample
    accepted: float | None = None  # rejection sampling: the fraction of samples with a draw within the cap


def _mean(values: Sequence[float | int | None]) -> float | None:
    import numpy as np  # loaded when metrics are computed, not when `s1` starts

    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def run_metrics(samples: Sequence[Graded], *, budget: int | None = None, ks: Sequence[int] | None = None,
                resamples: int = 1000, seed: int = 0) -> RunMetrics:
    """Metrics of one run from its graded samples (any order; grouped by question, ordered by sample)."""
    import numpy as np  # loaded when metrics are computed, not when `s1` starts

    if not samples:
        raise ValueError("a run needs at least one sample")
    by_question: dict[str, list[Graded]] = {}
    for item in samples:
        by_question.setdefault(item.question, []).append(item)
    groups = [sorted(group, key=lambda g: g.sample) for group in by_question.values()]
    n = min(len(group) for group in groups)
    scores = [sum(g.correct for g in group) / len(group) for group in groups]
    ks = default_ks(n) if ks is None else [k for k in ks if k <= n]
    pass_at = {k: float(np.mean([pass_at_k(len(group), sum(g.correct for g in group), k) for group in groups]))
               for k in ks}
    maj_at = {k: float(np.mean([maj_at_k([g.vote for g in group], k) for group in groups])) for k in ks}
    thinking = [s.thinking_tokens for s in samples]
    within = capped = None
    if budget is not None and all(t is not None for t in thinking):
        within = float(np.mean([t <= budget for t in thinking]))
        capped = float(np.mean([t >= budget for t in thinking]))
    return RunMetrics(
        questions=len(groups),
        samples=len(samples),
        n=n,
        accuracy=float(np.mean(scores)),
        interval=bootstrap_interval(scores, resamples=resamples, seed=seed),
        pass_at=pass_at,
        maj_at=maj_at,
        no_answer=float(np.mean([s.vote is None for s in samples])),
        thinking_tokens=_mean(thinking),
        response_tokens=_mean([s.response_tokens for s in samples]),
        within_budget=within,
        capped=capped,
        waits=_mean([s.waits for s in samples]),
        tries=_mean([s.tries for s in samples]),
        accepted=_mean([None if s.accepted is None else float(s.accepted) for s in samples]),
    )


# ------------------------------------------------------------------------------------------ per method

# Two settings whose average thinking differs by less than this fraction of the larger are the same
# compute for Scaling (see the module's docstring).
SAME_COMPUTE = 0.10


@dataclass(frozen=True)
class Point:
    """One setting of a method: its compute (average thinking tokens; None when the samples carry no
    token counts), accuracy (0..1) and the limits it asked for."""

    compute: float | None
    accuracy: float
    a_max: float | None = None  # the setting's thinking cap; None = no upper limit
    a_min: float = 0.0


def control(points: Sequence[Point]) -> float | None:
    """The paper's Control (eq. 1): the fraction of settings whose compute lies in [a_min, a_max]
    (settings without token counts cannot be judged and are left out)."""
    known = [p for p in points if p.compute is not None]
    if not known:
        return None
    inside = [p.a_min <= p.compute <= (math.inf if p.a_max is None else p.a_max) for p in known]
    return sum(inside) / len(inside)


def same_compute(a: float, b: float, threshold: float = SAME_COMPUTE) -> bool:
    """Whether two average thinking-token counts are too close for a slope between them."""
    return abs(b - a) <= threshold * max(abs(a), abs(b))


def slopes(points: Sequence[Point], threshold: float = SAME_COMPUTE) -> tuple[list[float], int]:
    """The slopes of every pair of settings at different compute, in accuracy points per 1,000
    thinking tokens, and how many pairs were left out as the same compute."""
    known = sorted((p for p in points if p.compute is not None), key=lambda p: p.compute)
    kept, skipped = [], 0
    for a, b in combinations(known, 2):
        if same_compute(a.compute, b.compute, threshold):
            skipped += 1
        else:
            kept.append((b.accuracy - a.accuracy) * 100 / ((b.compute - a.compute) / 1000))
    return kept, skipped


def scaling(points: Sequence[Point], threshold: float = SAME_COMPUTE) -> float | None:
    """The paper's Scaling (eq. 2): the mean slope over pairs of settings at different compute, in
    accuracy points per 1,000 thinking tokens; None without such a pair."""
    kept, _ = slopes(points, threshold)
    return sum(kept) / len(kept) if kept else None


def performance(points: Sequence[Point]) -> float | None:
    """The paper's Performance (eq. 3): the best accuracy among the settings."""
    return max((p.accuracy for p in points), default=None)


@dataclass(frozen=True)
class MethodMetrics:
    """Control, Scaling and Performance of one method, with what they were computed over."""

    settings: int
    control: float | None
    scaling: float | None
    performance: float | None
    pairs: int  # pairs of settings in Scaling's average
    same_compute_pairs: int  # pairs left out: their compute differs by less than SAME_COMPUTE
    compute_low: float | None  # the least and most average thinking tokens among the settings
    compute_high: float | None


def method_metrics(points: Sequence[Point], threshold: float = SAME_COMPUTE) -> MethodMetrics:
    kept, skipped = slopes(points, threshold)
    computes = [p.compute for p in points if p.compute is not None]
    return MethodMetrics(
        settings=len(points), control=control(points), scaling=sum(kept) / len(kept) if kept else None,
        performance=performance(points), pairs=len(kept), same_compute_pairs=skipped,
        compute_low=min(computes, default=None), compute_high=max(computes, default=None))


# ------------------------------------------------------------------------------------------ methods


# The methods besides budget forcing's (length_control.py), in the order reports list them, with labels.
OTHER_METHODS = {
    "majority-vote": "majority voting over k samples (parallel)",
    "token-conditional": "token-conditional control (prompt)",
    "token-conditional+budget-forcing": "token-conditional control + budget forcing",
    "step-conditional": "step-conditional control (prompt)",
    "step-conditional+budget-forcing": "step-conditional control + budget forcing",
    "class-conditional": "class-conditional control (short / long prompt)",
    "rejection-sampling": "rejection sampling (draw until within the cap)",
}


@dataclass(frozen=True)
class Method:
    """A way of controlling test-time compute, swept over settings: ``cap`` (the cap varies, no waits),
    ``wait`` (the number of forced waits varies at one ``cap``, None = no cap), ``unforced`` (the
    baseline: no cap, no waits), or one of ``OTHER_METHODS`` (majority voting, the prompted methods,
    rejection sampling)."""

    kind: str
    cap: int | None = None

    @property
    def key(self) -> str:
        """A short name for tables: ``cap``, ``wait``, ``wait@512``, ``unforced``, ``majority-vote``, ..."""
        return f"wait@{self.cap}" if self.kind == "wait" and self.cap is not None else self.kind

    @property
    def label(self) -> str:
        if self.kind == "cap":
            return "budget forcing: cap"
        if self.kind == "wait":
            return f"budget forcing: extend with Wait ({'no cap' if self.cap is None else f'cap {self.cap:,}'})"
        if self.kind in OTHER_METHODS:
            return OTHER_METHODS[self.kind]
        return "no forcing (baseline)"

    @property
    def order(self) -> tuple:
        """Caps first, then Wait at each cap (no cap last), then the baseline, then the other methods."""
        ranks = {kind: rank for rank, kind in enumerate(("cap", "wait", "unforced", *OTHER_METHODS))}
        return (ranks.get(self.kind, len(ranks)), self.cap is None, self.cap or 0)

    @property
    def budget_forcing(self) -> bool:
        """Sequential scaling by budget forcing (caps, or forced waits)."""
        return self.kind in ("cap", "wait")


def group_methods(settings: Iterable[tuple[int | None, int | None]]) -> dict[Method, list[tuple[int | None, int]]]:
    """Budget forcing's settings (cap, forced waits; None waits = 0) by method, in ``Method.order``,
    each method's settings in sweep order. A K = 0 setting joins the wait method at its cap only when
    that cap was also run with waits."""
    found = sorted({(budget, waits or 0) for budget, waits in settings},
                   key=lambda s: (s[0] is None, s[0] or 0, s[1]))
    wait_caps = {budget for budget, waits in found if waits}
    groups: dict[Method, list[tuple[int | None, int]]] = {}
    for budget, waits in found:
        if waits:
            homes = [Method("wait", budget)]
        else:
            homes = [Method("unforced") if budget is None else Method("cap")]
            if budget in wait_caps:
                homes.append(Method("wait", budget))
        for method in homes:
            groups.setdefault(method, []).append((budget, waits))
    return {method: groups[method] for method in sorted(groups, key=lambda m: m.order)}
