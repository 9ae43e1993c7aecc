"""Metrics: pass@k against hand computation and exhaustive enumeration, maj@k and its tie rule,
bootstrap intervals, and the paper's Control / Scaling / Performance on hand-made curves, per method."""

from __future__ import annotations

import random
from itertools import combinations

import pytest

from s1cli.metrics import (
    CORRECT_VOTE,
    SAME_COMPUTE,
    Graded,
    Method,
    Point,
    bootstrap_interval,
    control,
    default_ks,
    group_methods,
    maj_at_k,
    majority,
    method_metrics,
    pass_at_k,
    performance,
    run_metrics,
    scaling,
    slopes,
    vote_of,
)

C = CORRECT_VOTE


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (5, 2, 2, 1 - 3 / 10),     # 1 - C(3,2)/C(5,2)
    (4, 1, 2, 1 - 3 / 6),      # 1 - C(3,2)/C(4,2)
    (4, 2, 2, 1 - 1 / 6),      # 1 - C(2,2)/C(4,2)
    (10, 3, 1, 0.3),           # pass@1 is the fraction correct
    (8, 0, 4, 0.0),
    (8, 8, 4, 1.0),
    (3, 1, 3, 1.0),            # every draw of 3 from 3 holds the correct one
    (6, 1, 4, 1 - 5 / 15),     # 1 - C(5,4)/C(6,4)
])
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_equals_enumerating_every_draw():
    for n in range(1, 9):
        for c in range(n + 1):
            outcomes = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                draws = list(combinations(outcomes, k))
                exhaustive = sum(any(d) for d in draws) / len(draws)
                assert pass_at_k(n, c, k) == pytest.approx(exhaustive, abs=1e-12), (n, c, k)


def test_pass_at_k_is_exact_for_large_n():
    # 1 - C(900, 100) / C(1000, 100): the product form, computed independently in floating point.
    product = 1.0
    for i in range(901, 1001):
        product *= 1 - 100 / i
    assert pass_at_k(1000, 100, 100) == pytest.approx(1 - product, rel=1e-9)


def test_pass_at_k_rejects_impossible_arguments():
    for n, c, k in [(4, 5, 1), (4, 2, 5), (4, 2, 0), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


def test_majority_breaks_ties_by_first_appearance():
    assert majority(["b", "a", "a", "b"]) == "b"
    assert majority(["a", "b", "b", "a"]) == "a"
    assert majority([None, "x", None, "y", "y"]) == "y"
    assert majority([None, "x", "y"]) == "x"
    assert majority([None, None]) is None
    assert majority([]) is None


def test_maj_at_k_ties_are_deterministic_and_follow_sample_order():
    assert maj_at_k([C, "1", "1", C], 4) == 1.0   # 2-2 tie: the correct answer came first
    assert maj_at_k(["1", C, C, "1"], 4) == 0.0   # 2-2 tie: the wrong answer came first
    # blocks of 2: [C, "1"] ties to C (win), ["1", C] ties to "1" (loss)
    assert maj_at_k([C, "1", "1", C], 2) == 0.5
    assert maj_at_k([C, "1", "1", C], 1) == 0.5   # each sample alone
    assert maj_at_k([None, None, C, None], 4) == 1.0  # no-answers never vote
    assert maj_at_k([None, None, None, None], 4) == 0.0
    assert maj_at_k(["2", "3", C, "4", "5"], 5) == 0.0  # 1-1-1-1-1: the first answer wins
    # the same votes always give the same score, whatever else happens around them
    votes = [random.Random(seed).choice([C, "1", "2", None]) for seed in range(16)]
    assert {maj_at_k(votes, 8) for _ in range(5)} == {maj_at_k(votes, 8)}


def test_maj_at_k_uses_whole_blocks_only():
    # 5 samples in blocks of 2: samples 0-1 and 2-3 vote; sample 4 is left out
    assert maj_at_k([C, C, "1", "1", "1"], 2) == 0.5
    with pytest.raises(ValueError):
        maj_at_k([C], 2)


def test_votes_group_equivalent_wrong_answers_and_all_correct_ones():
    assert vote_of(r"\frac{1}{2}", False) == vote_of(r"\dfrac{1}{2}", False)
    assert vote_of("7", True) == vote_of("seven", True) == C
    assert vote_of(None, False) is None
    assert vote_of("3", False) != vote_of("4", False)


def test_default_ks():
    assert default_ks(1) == []
    assert default_ks(2) == [2]
    assert default_ks(6) == [2, 4, 6]
    assert default_ks(8) == [2, 4, 8]
    assert default_ks(64) == [2, 4, 8, 16, 32, 64]


def graded(question, flags, *, tokens=None, votes=None):
    return [Graded(question, i, flag, votes[i] if votes else (C if flag else f"w{i}"),
                   thinking_tokens=None if tokens is None else tokens[i], response_tokens=5, waits=0)
            for i, flag in enumerate(flags)]


def test_run_metrics_on_a_hand_computed_run():
    samples = (graded("q1", [True, False, False, False], tokens=[10, 20, 30, 40])
               + graded("q2", [True, True, False, False], tokens=[50, 60, 70, 80], votes=[C, C, "x", "x"])
               + graded("q3", [False, False, False, False], tokens=[100, 100, 100, 100],
                        votes=[None, None, "y", "z"]))
    random.Random(0).shuffle(samples)  # order of the input must not matter
    m = run_metrics(samples, budget=64, resamples=200)
    assert m.questions == 3 and m.samples == 12 and m.n == 4
    assert m.accuracy == pytest.approx((1 / 4 + 2 / 4 + 0) / 3)
    assert m.pass_at[2] == pytest.approx(((1 - 3 / 6) + (1 - 1 / 6) + 0) / 3)
    assert m.pass_at[4] == pytest.approx((1 + 1 + 0) / 3)
    # maj@4: q1 votes C,w1,w2,w3 (1-1-1-1 → C first: right); q2 C,C,x,x (tie → C first: right); q3 y,z: wrong
    assert m.maj_at[4] == pytest.approx(2 / 3)
    # maj@2: q1 [C,w1]→C, [w2,w3]→w2: 1/2; q2 [C,C]→C, [x,x]→x: 1/2; q3: 0
    assert m.maj_at[2] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert m.no_answer == pytest.approx(2 / 12)
    assert m.thinking_tokens == pytest.approx(sum([10, 20, 30, 40, 50, 60, 70, 80, 100, 100, 100, 100]) / 12)
    assert m.within_budget == pytest.approx(6 / 12)  # thinking <= 64
    assert m.capped == pytest.approx(6 / 12)  # thinking reached 64
    assert m.response_tokens == 5 and m.waits == 0
    low, high = m.interval
    assert 0 <= low <= m.accuracy <= high <= 1


def test_run_metrics_without_token_counts_or_a_cap():
    m = run_metrics(graded("q", [True, False]), budget=None, resamples=0)
    assert m.thinking_tokens is None and m.within_budget is None and m.capped is None
    assert m.interval is None and m.accuracy == 0.5 and m.pass_at == {2: 1.0}


def test_run_metrics_with_uneven_samples_uses_each_questions_own_n():
    m = run_metrics(graded("a", [True, False]) + graded("b", [True, True, True, False]), resamples=0)
    assert m.n == 2 and m.accuracy == pytest.approx((1 / 2 + 3 / 4) / 2)
    assert m.pass_at == {2: pytest.approx((1 + (1 - 0 / 6)) / 2)}


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    scores = [1, 0, 0, 1, 1, 0, 1, 1, 0, 1] * 5
    first = bootstrap_interval(scores, resamples=2000, seed=3)
    assert first == bootstrap_interval(scores, resamples=2000, seed=3)
    low, high = first
    # the normal approximation: 0.6 ± 1.96 * sqrt(0.24 / 50) = [0.464, 0.736]
    assert low == pytest.approx(0.464, abs=0.03) and high == pytest.approx(0.736, abs=0.03)
    assert bootstrap_interval([1, 1, 1], resamples=100) == (1.0, 1.0)
    assert bootstrap_interval([], resamples=100) is None
    assert bootstrap_interval(scores, resamples=0) is None


def test_control_scaling_performance_on_a_hand_made_curve():
    curve = [Point(1000, 0.20, a_max=1024), Point(2000, 0.40, a_max=2048), Point(4000, 0.50, a_max=4096)]
    # slopes in points per 1k tokens: (40-20)/1 = 20, (50-20)/3 = 10, (50-40)/2 = 5
    assert scaling(curve) == pytest.approx((20 + 10 + 5) / 3)
    assert scaling(list(reversed(curve))) == pytest.approx((20 + 10 + 5) / 3)
    assert control(curve) == 1.0
    assert performance(curve) == 0.5
    over = [*curve[:2], Point(4200, 0.5, a_max=4096)]  # the third run thought past its cap
    assert control(over) == pytest.approx(2 / 3)
    assert control([Point(300, 0.1, a_max=512, a_min=400), Point(600, 0.2)]) == 0.5  # under a_min; no cap
    falling = [Point(1000, 0.5), Point(3000, 0.3)]
    assert scaling(falling) == pytest.approx(-10.0)


def test_scaling_needs_two_runs_at_different_compute():
    assert scaling([Point(1000, 0.2)]) is None
    assert scaling([Point(1000, 0.2), Point(1000, 0.4)]) is None
    # the pair at equal compute has no slope and is left out
    assert scaling([Point(1000, 0.2), Point(1000, 0.4), Point(2000, 0.6)]) == pytest.approx((40 + 20) / 2)
    assert control([]) is None and performance([]) is None



def test_scaling_leaves_out_pairs_at_the_same_compute():
    # 1,000 and 1,050 tokens are 4.8% apart: the same compute, whatever their accuracies
    curve = [Point(1000, 0.20), Point(1050, 0.40), Point(2000, 0.60)]
    kept, skipped = slopes(curve)
    assert skipped == 1 and kept == pytest.approx([40.0, 20 / 0.95])  # (60-20)/1.0, (60-40)/0.95
    assert scaling(curve) == pytest.approx((40 + 20 / 0.95) / 2)
    # without the threshold, the 50-token pair's 400 points per 1k tokens swamps the curve
    assert scaling(curve, threshold=0) == pytest.approx((400 + 40 + 20 / 0.95) / 3)
    # the threshold is 10% of the larger of the two
    assert SAME_COMPUTE == 0.10
    assert slopes([Point(1000, 0.2), Point(1100, 0.3)]) == ([], 1)  # 100 / 1,100 = 9.1%
    assert slopes([Point(1000, 0.2), Point(1125, 0.3)]) == (pytest.approx([80.0]), 0)  # 125 / 1,125 = 11.1%
    # settings without token counts have no place on the curve, but still count for Performance
    assert slopes([Point(None, 0.9), Point(1000, 0.2), Point(2000, 0.3)]) == (pytest.approx([10.0]), 0)
    assert control([Point(None, 0.9), Point(300, 0.2, a_max=256)]) == 0.0
    assert performance([Point(None, 0.9), Point(1000, 0.2)]) == 0.9


def test_settings_fall_into_methods_without_mixing_their_axes():
    cap, unforced = Method("cap"), Method("unforced")
    wait, wait8 = Method("wait"), Method("wait", 8)
    assert group_methods([(512, 0), (1024, 0)]) == {cap: [(512, 0), (1024, 0)]}
    # the paper's extrapolation: no cap, 0 to 6 waits; K = 0 starts the Wait curve and is the baseline too
    assert group_methods([(None, w) for w in (0, 2, 4, 6)]) == {
        wait: [(None, 0), (None, 2), (None, 4), (None, 6)], unforced: [(None, 0)]}
    # --budgets none,8 --num-waits 0,1: a cap, Wait at that cap, Wait without a cap, the baseline
    assert group_methods([(None, 0), (None, 1), (8, 0), (8, 1)]) == {
        cap: [(8, 0)], wait8: [(8, 0), (8, 1)], wait: [(None, 0), (None, 1)], unforced: [(None, 0)]}
    # a K = 0 setting joins no Wait curve at a cap that was never run with waits
    assert group_methods([(8, 0), (16, 0), (16, 2)]) == {cap: [(8, 0), (16, 0)], Method("wait", 16): [(16, 0), (16, 2)]}
    assert group_methods([(None, None), (100, None)]) == {cap: [(100, 0)], unforced: [(None, 0)]}  # no waits column
    assert [m.key for m in (cap, wait8, wait, unforced)] == ["cap", "wait@8", "wait", "unforced"]
    assert wait8.label == "budget forcing: extend with Wait (cap 8)" and wait.label.endswith("(no cap)")


def test_the_pooled_axes_that_gave_minus_953_are_two_methods_with_honest_slopes():
    # --budgets none,24 --num-waits 0,2 on 60 questions: (cap, waits) -> (average thinking tokens, accuracy)
    measured = {(24, 0): (22.5, 15 / 60), (24, 2): (23.5, 12 / 60), (None, 0): (53.0, 36 / 60),
                (None, 2): (60.0, 20 / 60)}
    points = {s: Point(x, acc, a_max=s[0]) for s, (x, acc) in measured.items()}
    # the old report: one curve through all four settings, every pair in the average
    pooled = [(12 - 15) / 60 * 100 / (1.0 / 1000), (36 - 15) / 60 * 100 / (30.5 / 1000),
              (20 - 15) / 60 * 100 / (37.5 / 1000), (36 - 12) / 60 * 100 / (29.5 / 1000),
              (20 - 12) / 60 * 100 / (36.5 / 1000), (20 - 36) / 60 * 100 / (7.0 / 1000)]
    assert scaling(list(points.values()), threshold=0) == pytest.approx(sum(pooled) / 6)
    assert round(sum(pooled) / 6) == -953  # -5,000 of it is 3 questions over the one token between two caps
    metrics = {m.key: method_metrics([points[s] for s in settings])
               for m, settings in group_methods(points).items()}
    assert list(metrics) == ["cap", "wait@24", "wait", "unforced"]
    # capping: one setting, so no slope; it kept within its cap
    assert (metrics["cap"].settings, metrics["cap"].control, metrics["cap"].scaling) == (1, 1.0, None)
    assert metrics["cap"].performance == pytest.approx(0.25)
    # two waits under a cap of 24: 22.5 and 23.5 tokens are the same compute, so no slope either
    at24 = metrics["wait@24"]
    assert (at24.settings, at24.pairs, at24.same_compute_pairs, at24.scaling) == (2, 0, 1, None)
    # two waits without a cap: 16 questions lost for 7 more tokens, -3,810 points per 1k tokens
    free = metrics["wait"]
    assert (free.settings, free.pairs, free.control) == (2, 1, 1.0)
    assert free.scaling == pytest.approx((20 - 36) / 60 * 100 / (7.0 / 1000))
    assert (free.compute_low, free.compute_high, free.performance) == (53.0, 60.0, pytest.approx(0.6))
    assert metrics["unforced"].performance == pytest.approx(0.6) and metrics["unforced"].scaling is None
