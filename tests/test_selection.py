"""The selection library on synthetic pools whose structure is known, so every count is predictable."""

from __future__ import annotations

import numpy as np
import pytest

from s1cli.errors import ConfigError, InputError
from s1cli.selection import (
    MissingColumn,
    SelectConfig,
    benchmark_domain_weights,
    format_problems,
    read_pool,
    sample_by_domain,
    select,
    selected_rows,
    slim_row,
)
from s1cli.table import write_table

AIME, GPQA, MATH = "qq8933/AIME_1983_2024", "Idavidrein/gpqa", "qfq/openaimath/Algebra"


def row(id_: str, **fields) -> dict:
    """A hard, well-formed, fully featured row; keyword arguments override any column."""
    base = {"id": id_, "question": f"Question {id_}: find x.", "source": "other", "msc": "05", "thinking": "trace",
            "thinking_tokens": 1000, "qwen7b_correct": False, "qwen32b_correct": False, "gemini_correct": False}
    base.update(fields)
    return base


def ids(selection) -> list[str]:
    return [r["id"] for r in selection.rows]


def everything(**overrides) -> SelectConfig:
    """s1k stages with no pre-selection and a size larger than any test pool: keeps every row that passes."""
    return SelectConfig(**{"preselect": False, "size": 10_000, **overrides})


# -- quality ---------------------------------------------------------------------------------------

FORMAT_CASES = [
    # (id, question, source, dropped)
    ("clean", "Compute 3**2 + 1.", "other", False),
    ("asy", "In the figure [asy] draw((0,0)--(1,1)); [/asy] find the area.", "other", True),
    ("asy-aime", "In the figure [asy] draw((0,0)--(1,1)); [/asy] find the area.", AIME, False),
    # The notebook tests 'AIME' in the source, case-sensitively: NuminaMath's amc_aime is not exempt.
    ("asy-amc_aime", "In the figure [asy] draw((0,0)); [/asy] find x.", "AI-MO/NuminaMath-CoT/amc_aime", True),
    # The notebook's exception keeps an AIME [asy] question whatever else it holds.
    ("asy-aime-numbered", "p1. In the figure [asy] draw((0,0)); [/asy] find x.", AIME, False),
    ("image", "Look at ![Image](https://x/y.png) and find x.", "other", True),
    ("numbering", "p1. Find x. p2. Find y.", "other", True),
    ("numbering-999", "Part p999. find x.", "other", True),
    ("numbering-in-word", "Do step12. then stop.", "other", True),  # as the notebook's substring test
    ("no-numbering-p0", "The value p0. is zero.", "other", False),
    ("no-numbering-p1000", "Item p1000. is large.", "other", False),
    ("no-numbering-upper", "P1. Find x.", "other", False),
    ("no-numbering-no-dot", "Let p1 be a prime.", "other", False),
    ("bold-digits", "**1.** Find x.", "other", True),
    ("bold-digit-later", "**(a)** Compute 2+2.", "other", True),  # the lookahead sees any digit on the line
    ("bold-no-digit", "**Note** find x.", "other", False),
    ("bold-with-space", "**Problem three** is 3 lines.", "other", False),  # no spaces inside the markup
    ("bold-digit-next-line", "**Hint**\nUse 5 apples.", "other", False),  # the lookahead stops at a newline
]


def test_each_formatting_rule_drops_exactly_the_rows_built_to_trip_it():
    rows = [row(i, question=q, source=s) for i, q, s, _ in FORMAT_CASES]
    selection = select(rows, everything())
    assert set(ids(selection)) == {i for i, _, _, dropped in FORMAT_CASES if not dropped}
    stage = next(s for s in selection.report.stages if s.name == "quality: formatting")
    assert stage.change == -sum(dropped for *_, dropped in FORMAT_CASES)
    assert stage.detail == {"asy": 4, "image": 1, "numbering": 4, "bold-digits": 2, "asy kept (AIME)": 2}


def test_format_problems_reports_every_rule_a_question_trips():
    problems = format_problems(["p1. **2** ![Image] [asy]", "fine", None])
    assert {rule: hits.tolist() for rule, hits in problems.items()} == {
        "asy": [True, False, False], "image": [True, False, False], "numbering": [True, False, False],
        "bold-digits": [True, False, False]}


def test_rows_with_a_missing_feature_are_dropped_and_counted():
    rows = [row("ok"), row("no-trace", thinking=None), row("no-length", thinking_tokens=None),
            row("nan-length", thinking_tokens=float("nan")), row("no-domain", msc=None),
            row("no-grade", qwen32b_correct=None), row("no-trace-grade", gemini_correct=None),
            row("no-question", question=None)]
    absent = row("absent-domain")
    del absent["msc"]
    selection = select([*rows, absent], everything())
    assert ids(selection) == ["ok"]
    stage = selection.report.stages[1]
    assert (stage.name, stage.rows, stage.change) == ("quality: features", 1, -8)
    assert stage.detail == {"null question": 1, "null thinking": 1, "null thinking_tokens": 2, "null msc": 2,
                            "null qwen32b_correct": 1, "null gemini_correct": 1}


# -- difficulty -------------------------------------------------------------------------------------


def test_difficulty_drops_a_question_any_of_two_attempt_models_got_right():
    rows = [row("hard"), row("7b", qwen7b_correct=True), row("32b", qwen32b_correct=True),
            row("both", qwen7b_correct=True, qwen32b_correct=True)]
    selection = select(rows, everything())
    assert ids(selection) == ["hard"]
    stage = next(s for s in selection.report.stages if s.name == "difficulty")
    assert stage.change == -3 and stage.detail == {"qwen7b_correct true": 2, "qwen32b_correct true": 2}


def test_difficulty_with_three_attempt_columns_and_csv_style_booleans():
    rows = [row("hard", qwq_correct="false"), row("qwq", qwq_correct="True"), row("7b", qwen7b_correct="true",
                                                                                qwq_correct="0")]
    config = everything(easy_if=("qwen7b_correct", "qwen32b_correct", "qwq_correct"))
    assert ids(select(rows, config)) == ["hard"]
    # With two columns the qwq-solved question stays.
    assert ids(select(rows, everything())) == ["hard", "qwq"]


def test_yes_no_grades_and_empty_cells_as_in_s1k_1_1():
    # s1K-1.1 grades attempts "Yes"/"No"; an empty cell is no verdict (null, which the quality stage
    # drops as a missing feature), not a type error.
    rows = [row("no", qwen7b_correct="No"), row("yes", qwen7b_correct="Yes"), row("empty", qwen7b_correct="")]
    selection = select(rows, everything())
    assert ids(selection) == ["no"]
    assert next(s for s in selection.report.stages if s.name == "quality: features").change == -1


def test_an_empty_easy_if_skips_the_difficulty_filter():
    rows = [row("hard"), row("easy", qwen7b_correct=True)]
    selection = select(rows, everything(easy_if=()))
    assert ids(selection) == ["hard", "easy"]
    assert "skipped" in next(s.rule for s in selection.report.stages if s.name == "difficulty")


# -- pre-selection ----------------------------------------------------------------------------------

PRESELECT_CASES = [
    # (id, source, gemini_correct, thinking_tokens, kept_by)
    ("gpqa", GPQA, True, 100, "preselect:gpqa"),
    ("gpqa-wrong", GPQA, False, 9000, None),
    ("aime", AIME, True, 100, "preselect:aime"),
    ("aime-lowercase-name", "aime_1983_2024", True, 100, "preselect:aime"),
    ("amc_aime", "AI-MO/NuminaMath-CoT/amc_aime", True, 9000, None),
    ("math-long", MATH, True, 5601, "preselect:math-long"),
    ("math-5600", MATH, True, 5600, None),  # "longer than 5,600 tokens"
    ("math-wrong", MATH, False, 9000, None),
    ("other-long", "other", True, 9000, None),
]


def test_preselection_keeps_correct_gpqa_aime_and_long_math_rows():
    rows = [row(i, source=s, gemini_correct=c, thinking_tokens=t) for i, s, c, t, _ in PRESELECT_CASES]
    kept = {i: rule for i, *_, rule in PRESELECT_CASES if rule}
    selection = select(rows, SelectConfig(size=len(kept)))
    assert {r["id"]: r["selected_by"] for r in selection.rows} == kept
    stage = next(s for s in selection.report.stages if s.name == "pre-selection")
    assert stage.rows == 4 and stage.detail == {"gpqa": 1, "aime": 2, "math-long": 1}


def test_preselection_follows_the_source_patterns_and_threshold():
    rows = [row("a", source="my-aime", gemini_correct=True), row("m", source="hendrycks", gemini_correct=True,
                                                                  thinking_tokens=3000)]
    config = SelectConfig(size=2, aime_sources=("my-*",), math_sources=("hendrycks",), math_min_tokens=2000)
    assert {r["id"]: r["selected_by"] for r in select(rows, config).rows} == {
        "a": "preselect:aime", "m": "preselect:math-long"}


def test_preselection_larger_than_size_keeps_all_and_warns():
    rows = [row(str(i), source=GPQA, gemini_correct=True) for i in range(5)]
    selection = select(rows, SelectConfig(size=3))
    assert len(selection.rows) == 5
    assert any("pre-selection alone kept 5 rows, more than --size 3" in w for w in selection.report.warnings)


def test_preselected_rows_stay_in_the_pool_and_redraws_add_nothing():
    # Pre-selected rows are the longest in their domain, so draws often land on them again.
    rows = [row(f"pre{i}", source=GPQA, gemini_correct=True, thinking_tokens=10_000 + i) for i in range(5)]
    rows += [row(f"r{i}", thinking_tokens=100 + i) for i in range(50)]
    selection = select(rows, SelectConfig(size=20, seed=3))
    assert len(selection.rows) == 20 == len(set(ids(selection)))
    assert selection.report.selected_by == {"diversity:uniform": 15, "preselect:gpqa": 5}
    assert selection.report.redraws > 0


# -- diversity sampling -----------------------------------------------------------------------------


def rank_frequencies(n_rows: int, seeds: range) -> np.ndarray:
    domain = np.zeros(n_rows, dtype=np.int64)
    length = np.arange(n_rows, 0, -1, dtype=float)  # row r has rank r
    counts = np.zeros(n_rows)
    for seed in seeds:
        picks = sample_by_domain(domain, length, 1, np.random.default_rng(seed))
        counts[picks.rows[0]] += 1
    return counts


def test_rows_are_drawn_with_probability_proportional_to_two_to_the_minus_rank():
    n_rows, draws = 8, 8000
    counts = rank_frequencies(n_rows, range(draws))
    expected = 2.0 ** -np.arange(n_rows)
    expected = draws * expected / expected.sum()
    # Within 4 standard deviations for every rank (binomial), over fixed seeds.
    sd = np.sqrt(expected * (1 - expected / draws))
    assert np.all(np.abs(counts - expected) < 4 * sd + 1), (counts, expected)
    # The longest row is drawn about as often as all the others together, twice as often as rank 1.
    assert abs(counts[0] / counts[1:].sum() - 1) < 0.08
    assert abs(counts[0] / counts[1] - 2) < 0.25
    chi2 = ((counts - expected) ** 2 / expected)[:5].sum() + ((counts[5:].sum() - expected[5:].sum()) ** 2
                                                             / expected[5:].sum())
    assert chi2 < 20.5  # chi-square, 5 degrees of freedom, p ≈ 0.001


def test_the_end_to_end_selection_draws_by_rank_too():
    rows = [row(f"r{rank}", thinking_tokens=5000 - rank) for rank in range(6)]
    first = [ids(select(rows, SelectConfig(size=1, preselect=False, seed=seed)))[0] for seed in range(600)]
    top = first.count("r0")
    assert 260 < top < 340  # ≈ 300 = 600 × 1/2
    assert first.count("r1") > first.count("r2") > first.count("r4")


def test_ranks_follow_the_remaining_rows_after_each_draw():
    # Taking every row of a domain one draw at a time never repeats a row and ends with all of them.
    domain = np.zeros(40, dtype=np.int64)
    picks = sample_by_domain(domain, np.arange(40, dtype=float), 40, np.random.default_rng(0))
    assert sorted(picks.rows) == list(range(40))
    # Longer rows tend to be drawn earlier.
    assert np.mean(picks.rows[:10]) > np.mean(picks.rows[-10:])


def test_domains_are_covered_uniformly():
    rows = [row(f"{d}{i}", msc=d, thinking_tokens=i) for d in ("05", "11", "51", "60") for i in range(300)]
    selection = select(rows, SelectConfig(size=400, preselect=False, seed=7))
    counts = {d: c for d, _, _, c in selection.report.domains}
    assert sum(counts.values()) == 400
    assert all(70 <= c <= 130 for c in counts.values()), counts  # 100 ± ~5 sd


def test_small_domains_are_taken_whole_and_the_rest_share_uniformly():
    rows = [row(f"tiny{i}", msc="03") for i in range(3)]
    rows += [row(f"{d}{i}", msc=d) for d in ("05", "11", "51") for i in range(300)]
    selection = select(rows, SelectConfig(size=150, preselect=False, seed=1))
    counts = {d: c for d, _, _, c in selection.report.domains}
    assert counts["03"] == 3
    assert all(30 <= counts[d] <= 68 for d in ("05", "11", "51")), counts
    assert selection.report.domains_selected == selection.report.domains_in_pool == 4


def test_benchmark_domain_weights_truncate_half_weighted_gpqa():
    domain = np.array([0, 0, 0, 0, 0, 0, 0, 1, 2])
    is_aime = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    is_gpqa = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0], bool)
    # GPQA scaled by 0.5 * 4 / 4 = 0.5: domain 0 has 3 → 1 (int(1.5)), domain 1 has 1 → 0.
    assert benchmark_domain_weights(domain, is_aime, is_gpqa, 3).tolist() == [5.0, 0.0, 0.0]
    assert benchmark_domain_weights(domain, np.zeros(9, bool), is_gpqa, 3).tolist() == [3.0, 1.0, 0.0]


def benchmark_pool() -> list[dict]:
    rows = [row(f"{d}-{i}", msc=d, thinking_tokens=i) for d in ("A", "B", "C", "D") for i in range(400)]
    rows += [row(f"aime{i}", msc="A", source=AIME) for i in range(20)]
    rows += [row(f"gpqa{i}", msc="B", source=GPQA) for i in range(40)]  # weight int(40 * 0.5 * 20 / 40) = 10
    return rows


def test_benchmark_weighting_draws_domains_by_aime_and_half_weighted_gpqa():
    selection = select(benchmark_pool(), SelectConfig(size=300, preselect=False, benchmark_weighting_after=0))
    assert selection.report.benchmark_weights == pytest.approx({"A": 2 / 3, "B": 1 / 3})
    counts = {d: c for d, _, _, c in selection.report.domains}
    assert counts.get("C", 0) == counts.get("D", 0) == 0
    assert 170 <= counts["A"] <= 230 and counts["A"] + counts["B"] == 300
    assert selection.report.selected_by == {"diversity:benchmark": 300}


def test_benchmark_weighting_starts_once_the_selection_holds_n_rows():
    selection = select(benchmark_pool(), SelectConfig(size=300, preselect=False, benchmark_weighting_after=100))
    assert selection.report.selected_by == {"diversity:uniform": 100, "diversity:benchmark": 200}
    counts = {d: c for d, _, _, c in selection.report.domains}
    assert 10 <= counts["C"] + counts["D"] <= 80  # only the uniform first 100 reach C and D (≈ 50)


def test_benchmark_weighting_falls_back_to_uniform_when_its_domains_run_out():
    rows = [row(f"aime{i}", msc="A", source=AIME) for i in range(5)] + [row(f"c{i}", msc="C") for i in range(50)]
    selection = select(rows, SelectConfig(size=20, preselect=False, benchmark_weighting_after=0))
    assert len(selection.rows) == 20
    assert selection.report.selected_by == {"diversity:benchmark": 5, "diversity:uniform": 15}
    assert any("benchmark-weighted domains ran out" in w for w in selection.report.warnings)


def test_benchmark_weighting_needs_benchmark_rows():
    with pytest.raises(ConfigError, match="no AIME or GPQA rows"):
        select([row("a")], SelectConfig(preselect=False, benchmark_weighting_after=0))


# -- ablation modes ---------------------------------------------------------------------------------


def ablation_pool() -> list[dict]:
    """400 rows over 4 domains of different sizes; every 4th row easy; 20 malformed; lengths known."""
    rows = []
    sizes = {"05": 200, "11": 100, "51": 60, "60": 40}
    for d, n in sizes.items():
        for i in range(n):
            rows.append(row(f"{d}-{i}", msc=d, thinking_tokens=10 * i + int(d), qwen7b_correct=i % 4 == 0))
    for i in range(20):
        rows.append(row(f"bad{i}", question=f"![Image] {i}", thinking_tokens=100_000 + i, msc="05"))
    return rows


def test_random_mode_samples_uniformly_after_the_quality_filter_only():
    rows = ablation_pool()
    selection = select(rows, SelectConfig(mode="random", size=200, seed=2))
    chosen = ids(selection)
    assert len(chosen) == 200 and not any(i.startswith("bad") for i in chosen)
    easy = sum(r["qwen7b_correct"] for r in selection.rows)
    assert 30 <= easy <= 70  # difficulty is ignored: ≈ a quarter are easy
    assert set(selection.rules) == {"random"}


def test_diverse_mode_is_uniform_over_domains_with_no_length_weighting():
    selection = select(ablation_pool(), SelectConfig(mode="diverse", size=120, seed=4))
    counts = {d: c for d, _, _, c in selection.report.domains}
    assert all(18 <= c <= 42 for c in counts.values()), counts  # 30 each
    big = [r["thinking_tokens"] for r in selection.rows if r["msc"] == "05" and not r["id"].startswith("bad")]
    # Uniform within a domain: the mean length of picks sits near the domain's mean (≈ 1000), not its top.
    assert 600 < np.mean(big) < 1400
    assert any(r["qwen7b_correct"] for r in selection.rows) and set(selection.rules) == {"diverse"}


def test_longest_mode_takes_exactly_the_longest_traces_after_the_quality_filter():
    rows = ablation_pool()
    selection = select(rows, SelectConfig(mode="longest", size=25))
    good = [r for r in rows if not r["id"].startswith("bad")]
    expected = sorted(good, key=lambda r: -r["thinking_tokens"])[:25]
    assert set(ids(selection)) == {r["id"] for r in expected}
    assert set(selection.rules) == {"longest"}


def test_all_mode_keeps_every_row_unfiltered_and_ignores_size():
    rows = ablation_pool()
    selection = select(rows, SelectConfig(mode="all", size=5))
    assert ids(selection) == [r["id"] for r in rows] and set(selection.rules) == {"all"}


def test_s1k_prefers_long_traces_where_diverse_does_not():
    rows = ablation_pool()
    s1k = select(rows, SelectConfig(size=100, preselect=False, seed=0))
    diverse = select(rows, SelectConfig(mode="diverse", size=100, seed=0))
    assert s1k.report.lengths["selected"]["median"] > 1.5 * diverse.report.lengths["selected"]["median"]
    assert not any(r["qwen7b_correct"] for r in s1k.rows)


# -- determinism, sizes, output ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["s1k", "random", "diverse"])
def test_the_same_seed_gives_the_same_selection_and_another_seed_another(mode):
    rows = ablation_pool()
    first = ids(select(rows, SelectConfig(mode=mode, size=50, seed=11)))
    assert first == ids(select(rows, SelectConfig(mode=mode, size=50, seed=11)))
    assert first != ids(select(rows, SelectConfig(mode=mode, size=50, seed=12)))


def test_a_size_larger_than_the_pool_selects_everything_with_a_warning():
    rows = [row(str(i)) for i in range(5)] + [row("easy", qwen7b_correct=True)]
    selection = select(rows, SelectConfig(size=1000))
    assert len(selection.rows) == 5
    assert selection.report.warnings == [
        "--size 1,000 is more than the 5 rows left after the difficulty filter; all 5 are selected"]


def test_output_rows_keep_every_column_in_input_order_and_record_the_rule():
    rows = [row(str(i), extra={"k": i}, thinking_tokens=i) for i in range(10)]
    selection = select(rows, SelectConfig(size=4, preselect=False))
    out = selection.rows
    assert [int(r["id"]) for r in out] == sorted(int(r["id"]) for r in out)
    assert all(r["extra"] == {"k": int(r["id"])} and r["selected_by"] == "diversity:uniform" for r in out)
    assert "selected_by" not in rows[0]  # the input rows are left alone


def test_selection_on_slim_rows_matches_selection_on_full_rows():
    rows = ablation_pool()
    config = SelectConfig(size=60, seed=5)
    slim = [slim_row(r, config) for r in rows]
    assert "id" not in slim[0] and slim[0]["thinking"] is True
    assert select(slim, config).indices.tolist() == select(rows, config).indices.tolist()


def test_a_pool_file_is_read_slim_then_again_for_the_selected_rows_in_full(tmp_path):
    path, config = tmp_path / "pool.jsonl", SelectConfig(size=30, seed=5)
    write_table(path, ablation_pool())
    selection = select(read_pool(str(path), config), config)
    assert "id" not in selection.pool[0]
    assert list(selected_rows(str(path), selection)) == select(ablation_pool(), config).rows
    write_table(path, ablation_pool()[:-1])
    with pytest.raises(InputError, match=r"pool.jsonl: changed while it was being read \(420 rows, then 419\)"):
        list(selected_rows(str(path), selection))


def test_the_report_has_stage_counts_domains_sources_and_lengths():
    selection = select(ablation_pool(), SelectConfig(size=80, preselect=False, seed=0), name="pool.jsonl")
    report = selection.report
    assert [(s.name, s.rows) for s in report.stages] == [
        ("input", 420), ("quality: features", 420), ("quality: formatting", 400), ("difficulty", 300),
        ("diversity sampling", 80), ("selected", 80)]
    assert report.domains_in_pool == 4 and report.domains_selected == 4
    assert report.source_columns == ["input", "quality", "difficulty", "selected"]
    assert report.sources == [("other", [420, 400, 300, 80])]
    assert report.lengths["input"]["max"] == 100_019 and report.lengths["quality"]["max"] < 100_000
    markdown = report.to_markdown()
    assert markdown.startswith("# s1 select: 80 rows from pool.jsonl")
    assert "| difficulty | 300 | -100 |" in markdown
    assert "| 05 | Combinatorics | 150 |" in markdown


# -- errors -----------------------------------------------------------------------------------------


def test_a_missing_domain_or_length_column_names_the_option_that_sets_it():
    rows = [row("a")]
    with pytest.raises(MissingColumn, match=r"column 'domain' is missing .*--domain-column"):
        select(rows, SelectConfig(domain_column="domain"), name="pool.jsonl")
    with pytest.raises(MissingColumn, match=r"pool.jsonl: column 'tokens' is missing .*--length-column"):
        select(rows, SelectConfig(length_column="tokens"), name="pool.jsonl")
    with pytest.raises(MissingColumn, match=r"--easy-if"):
        select(rows, SelectConfig(easy_if=("qwq_correct",)))
    with pytest.raises(MissingColumn, match=r"--trace-correct-column"):
        select(rows, SelectConfig(trace_correct_column="judged"))
    # A mode that does not read a column does not need it.
    assert len(select(rows, SelectConfig(mode="random", domain_column="domain", length_column="x")).rows) == 1


def test_values_of_the_wrong_type_name_the_row_and_column():
    rows = [row("a"), row("b"), row("c", thinking_tokens="long")]
    with pytest.raises(InputError, match=r"^pool.jsonl:row 3: column 'thinking_tokens' must be a number, got string"):
        select(rows, SelectConfig(), name="pool.jsonl")
    with pytest.raises(InputError, match=r"^p:row 2: column 'qwen7b_correct' must be a boolean, got string"):
        select([row("a"), row("b", qwen7b_correct="maybe")], SelectConfig(), name="p")
    with pytest.raises(InputError, match=r"column 'thinking_tokens' must be a number, got boolean"):
        select([row("a", thinking_tokens=True)], SelectConfig(), name="p")
    with pytest.raises(InputError, match=r"column 'msc' must be a label"):
        select([row("a", msc=["05"])], SelectConfig(), name="p")


@pytest.mark.parametrize(("options", "message"), [
    ({"size": 0}, "--size 0: must be at least 1"),
    ({"mode": "best"}, "--mode 'best': choose one of s1k, random, diverse, longest, all"),
    ({"mode": "random", "preselect": True}, "--preselect applies to --mode s1k only"),
    ({"mode": "longest", "benchmark_weighting_after": 700}, "--benchmark-weighting-after applies to --mode s1k"),
    ({"benchmark_weighting_after": -1}, "must be 0 or more"),
    ({"domain_column": " "}, "--domain-column: needs a column name"),
])
def test_options_that_cannot_work_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SelectConfig(**options)
