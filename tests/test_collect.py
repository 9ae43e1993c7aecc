"""`s1 collect`: sources and column maps, recipes, decontamination, duplicates across sources,
stable ids, Hugging Face and saved datasets, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s1cli.bundled import load_table
from s1cli.collect import CollectOptions, Pool, load_eval_questions, parse_eval_specs, report_path
from s1cli.dedupe import digest, normalize, short_hash
from s1cli.errors import ConfigError
from s1cli.sources import load_recipe, parse_source
from s1cli.table import read_rows, write_table

from .conftest import REPO, run_s1, s1_process, subprocess_env

EVAL = {name: {row["id"]: row for row in load_table(name)} for name in ("aime24", "aime25", "math500")}


def derived_id(source: str, question: str) -> str:
    return f"{source}-{short_hash(digest(normalize(question)))}"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    write_table(path, rows)
    return path


def ok(result) -> None:
    assert result.exit_code == 0, result.stderr


# -- sources, column maps, canonical columns ----------------------------------------------------------


def test_mixed_sources_with_column_maps_come_out_in_the_canonical_columns(tmp_path):
    odd = "Find  the value of\u00a0$x$ if $2x = 6$.\n"  # stored exactly as given
    write_jsonl(tmp_path / "a.jsonl", [
        {"problem": odd, "final_answer": 3, "level": "easy"},
        {"problem": "How many primes are below 20?", "final_answer": "8", "level": "easy", "source": "upstream"},
    ])
    write_table(tmp_path / "b.csv", [{"question": "What is 7 times 6?", "answer": "42", "topic": "arithmetic"}])
    write_table(tmp_path / "c.parquet", [{"id": 17, "question": "Is 91 prime?", "answer": False,
                                          "solution": "No: 91 = 7 * 13.", "domain": "math", "year": 2020}])
    out = tmp_path / "pool.jsonl"
    ok(run_s1("collect", out, "--source", f"alpha={tmp_path / 'a.jsonl'}", "--source", tmp_path / "b.csv",
              "--source", tmp_path / "c.parquet", "--map", "question=problem", "--map", "answer=final_answer"))
    assert read_rows(out) == [
        {"id": derived_id("alpha", odd), "question": odd, "answer": "3", "solution": None, "source": "alpha",
         "domain": None, "metadata": {"level": "easy"}},
        {"id": derived_id("alpha", "How many primes are below 20?"), "question": "How many primes are below 20?",
         "answer": "8", "solution": None, "source": "alpha", "domain": None,
         "metadata": {"level": "easy", "source": "upstream"}},
        {"id": derived_id("b", "What is 7 times 6?"), "question": "What is 7 times 6?", "answer": "42",
         "solution": None, "source": "b", "domain": None, "metadata": {"topic": "arithmetic"}},
        {"id": "17", "question": "Is 91 prime?", "answer": "False", "solution": "No: 91 = 7 * 13.", "source": "c",
         "domain": "math", "metadata": {"year": 2020}},
    ]


def test_a_recipe_maps_each_source_and_paths_are_relative_to_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_jsonl(data / "numina.jsonl", [
        {"problem": "Prove that there are infinitely many primes.", "solution": "Euclid.", "source": "olympiads"},
        {"problem": "Compute 1+1.", "solution": "2", "source": "synthetic_math"},
        {"problem": "Find all real x with x^2 = 4.", "solution": "x = 2 or x = -2.", "source": "aops_forum"},
    ])
    write_jsonl(data / "teasers.jsonl", [{"Question": f"Teaser {i}: how many coins?", "Answer": str(i)}
                                         for i in range(5)])
    recipe = tmp_path / "recipes" / "sources.toml"
    recipe.parent.mkdir()
    recipe.write_text("""
[[source]]
name = "numinamath"
spec = "../data/numina.jsonl"
map = { question = "problem" }
where = { source = ["olympiads", "aops_forum"] }
domain = "math"

[[source]]
name = "teasers"
spec = ["../data/teasers.jsonl", "../data/teasers.jsonl"]
map = { question = "Question", solution = "Answer" }
limit = 3
domain = "puzzles"
""")
    out = tmp_path / "pool.parquet"
    ok(run_s1("collect", out, "--recipe", recipe))
    rows = read_rows(out)
    assert [(r["source"], r["question"], r["domain"]) for r in rows] == [
        ("numinamath", "Prove that there are infinitely many primes.", "math"),
        ("numinamath", "Find all real x with x^2 = 4.", "math"),
        *[("teasers", f"Teaser {i}: how many coins?", "puzzles") for i in range(3)],
    ]
    assert rows[0]["metadata"] == {"source": "olympiads"} and rows[2]["solution"] == "0"
    # The same recipe in YAML reads the same sources.
    yaml_recipe = recipe.with_suffix(".yaml")
    yaml_recipe.write_text("""
source:
  - name: numinamath
    spec: ../data/numina.jsonl
    map: {question: problem}
    where: {source: [olympiads, aops_forum]}
    domain: math
  - name: teasers
    spec: [../data/teasers.jsonl, ../data/teasers.jsonl]
    map: {question: Question, solution: Answer}
    limit: 3
    domain: puzzles
""")
    ok(run_s1("collect", tmp_path / "pool2.parquet", "--recipe", yaml_recipe))
    assert read_rows(tmp_path / "pool2.parquet") == rows
    # A filter that matches nothing is worth a word.
    recipe.write_text('[[source]]\nname = "n"\nspec = "../data/numina.jsonl"\nmap = { question = "problem" }\n'
                      'where = { source = "amc_aime" }\n\n[[source]]\nname = "t"\nspec = "../data/teasers.jsonl"\n'
                      'map = { question = "Question" }\n')
    result = run_s1("collect", tmp_path / "pool3.jsonl", "--recipe", recipe)
    ok(result)
    assert "numina.jsonl (its where filter matched no row): no rows read" in result.stderr
    assert len(read_rows(tmp_path / "pool3.jsonl")) == 5


def test_the_example_recipe_documents_the_16_sources_of_the_paper():
    sources = load_recipe(REPO / "examples" / "s1-sources.toml")
    names = list(dict.fromkeys(s.name for s in sources))
    assert len(names) == 16
    assert {"numinamath", "math", "olympicarena", "omnimath", "agieval", "xword", "olympiadbench", "aime",
            "theoremqa", "usaco", "jeebench", "gpqa", "scieval", "s1-prob", "livecodebench", "s1-teasers"} == set(names)
    assert all(s.spec.startswith("hf:") for s in sources)
    numina = sources[0]
    assert numina.renames.origin("question") == "problem" and numina.where == (("source", ("aops_forum",)),)


def test_the_example_recipe_offline_fails_on_its_first_dataset_in_one_line(tmp_path):
    env = {**subprocess_env(), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "collect", str(tmp_path / "pool.parquet"), "--recipe",
                           str(REPO / "examples" / "s1-sources.toml")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("error: hf:AI-MO/NuminaMath-CoT@train: cannot load Hugging Face dataset "
                               "'AI-MO/NuminaMath-CoT' split 'train': ")
    assert "offline" in lines[0] and not (tmp_path / "pool.parquet").exists()


def test_values_are_brought_into_the_contract(tmp_path):
    s1_style = {"question": "Q1?", "solution": "S", "cot_type": "math",
                "metadata": "{'year': 2022, 'tags': ['a', 'b'], 'nested': {'k': None}}"}  # the s1 release's form
    write_jsonl(tmp_path / "a.jsonl", [
        s1_style,
        {"question": "Q2?", "answer": ["$1$", "$2$"], "thinking": "hmm", "metadata": {"kept": True}},
        {"question": "Q3?", "answer": 2.5, "metadata": "not a dict"},
    ])
    out = tmp_path / "pool.jsonl"
    ok(run_s1("collect", out, "--source", tmp_path / "a.jsonl"))
    rows = read_rows(out)
    assert rows[0]["metadata"] == {"year": 2022, "tags": ["a", "b"], "nested": {"k": None}, "cot_type": "math"}
    assert rows[1]["answer"] == "$1$, $2$" and rows[1]["thinking"] == "hmm" and rows[1]["metadata"] == {"kept": True}
    assert list(rows[1]) == ["id", "question", "answer", "solution", "source", "domain", "thinking", "metadata"]
    assert rows[2]["answer"] == "2.5" and rows[2]["metadata"] == {"metadata": "not a dict"}


def test_stdin_source_and_stdout_output():
    lines = "".join(json.dumps({"question": f"Question {i}?"}) + "\n" for i in range(3))
    result = run_s1("collect", "-", "--source", "-", input=lines)
    ok(result)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["question"] for r in rows] == ["Question 0?", "Question 1?", "Question 2?"]
    assert {r["source"] for r in rows} == {"stdin"}


def test_limit_reads_at_most_n_rows_from_each_source(tmp_path):
    for name in ("a", "b"):
        write_jsonl(tmp_path / f"{name}.jsonl", [{"question": f"{name} question {i}"} for i in range(10)])
    out = tmp_path / "pool.jsonl"
    ok(run_s1("collect", out, "--source", tmp_path / "a.jsonl", "--source", tmp_path / "b.jsonl", "--limit", "4"))
    rows = read_rows(out)
    assert [r["question"] for r in rows] == [f"{n} question {i}" for n in "ab" for i in range(4)]


# -- decontamination ---------------------------------------------------------------------------------

PARAPHRASES = [  # the same problems as bundled eval questions, reworded: no 8-gram in common
    "Suppose x and y are reals exceeding one, and both log base x of y^x and log base y of x^(4y) equal ten. "
    "What is the product of x and y?",  # aime24-I-02
    "Consider every arrangement of the digits one through eight as an 8-digit number (40320 of them). If N "
    "counts the arrangements that are multiples of 22, compute N minus 2025.",  # aime25-I-05
    "Which smallest positive multiple of thirty uses no digits other than zero and two?",  # math500-number_theory-1032
]


def salted_pool(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
    """A pool of clean questions salted with copies of eval questions; returns the expected drops."""
    aime24 = EVAL["aime24"]["aime24-I-01"]["question"]
    aime25 = EVAL["aime25"]["aime25-II-01"]["question"]
    math500 = EVAL["math500"]["math500-number_theory-1032"]["question"]
    short = EVAL["math500"]["math500-prealgebra-1302"]["question"]  # "Simplify $\sqrt{242}$." (3 words)
    rows = [{"id": f"clean-{i}", "question": r["question"]}
            for i, r in enumerate(r for r in load_table("pool_sample") if r["source"] == "gsm8k")][:20]
    rows += [{"id": f"para-{i}", "question": q} for i, q in enumerate(PARAPHRASES)]
    rows += [{"id": "short-longer", "question": short[:-1] + " and then double the result."}]
    salted = {
        "copy-aime24": (aime24, ("aime24", "aime24-I-01")),
        "shouted-aime25": ("\n  " + aime25.upper().replace(" ", "   ") + "  ", ("aime25", "aime25-II-01")),
        "embedded-math500": ("A warm-up first. " + math500 + " Explain your reasoning.",
                             ("math500", "math500-number_theory-1032")),
        "copy-short": (short, ("math500", "math500-prealgebra-1302")),
    }
    rows += [{"id": key, "question": text} for key, (text, _) in salted.items()]
    return write_jsonl(tmp_path / "salted.jsonl", rows), {key: ref for key, (_, ref) in salted.items()}


def test_a_salted_pool_loses_exactly_the_verbatim_and_8_gram_copies(tmp_path):
    pool, expected = salted_pool(tmp_path)
    out = tmp_path / "clean.parquet"
    result = run_s1("collect", out, "--source", pool, "--decontaminate", "aime24,aime25", "-d", "math500")
    ok(result)
    kept = {r["id"] for r in read_rows(out)}
    assert kept == {f"clean-{i}" for i in range(20)} | {"para-0", "para-1", "para-2", "short-longer"}
    report = read_rows(tmp_path / "clean.contamination.parquet")
    assert {r["pool_id"] for r in report} == set(expected)
    for pool_id, (benchmark, benchmark_id) in expected.items():
        matches = [r for r in report if r["pool_id"] == pool_id and r["benchmark_id"] == benchmark_id]
        assert len(matches) == 1, pool_id
        match = matches[0]
        assert match["benchmark"] == benchmark and match["source"] == "salted" and match["shared"] >= 1
        assert match["ngram"] in normalize(match["question"])
        assert len(match["ngram"].split()) == 8 or pool_id == "copy-short"
    # The per-source x benchmark summary goes to stderr.
    assert "salted" in result.stderr and "math500" in result.stderr
    assert "wrote 24 rows" in result.stderr and "4 dropped as contaminated" in result.stderr


def test_decontamination_counts_rows_per_source_and_benchmark(tmp_path):
    pool, _ = salted_pool(tmp_path)
    questions = load_eval_questions(parse_eval_specs(["aime24,aime25,math500"]))
    told = []
    with Pool([parse_source(f"s={pool}")], questions) as built:
        built.build(progress=told.append)
        rows = list(built.rows())
    stats = built.stats["s"]
    assert (stats.read, stats.contaminated, stats.kept) == (28, 4, 24) and len(rows) == 24
    assert sum(told) == 28
    assert stats.by_benchmark["aime24"] >= 1 and stats.by_benchmark["math500"] >= 2
    assert stats.by_benchmark["aime25"] >= 1


def test_evaluation_sets_from_files_and_names(tmp_path):
    write_table(tmp_path / "gpqa_diamond.csv", [{"Question": "Which orbital is filled after 4s?",
                                                 "Correct Answer": "3d"}])
    write_jsonl(tmp_path / "mine.jsonl", [{"id": "m1", "problem": "Own benchmark question about widgets."}])
    pairs = parse_eval_specs([f"gpqa_diamond={tmp_path / 'gpqa_diamond.csv'},aime24", str(tmp_path / "mine.jsonl")])
    assert [name for name, _ in pairs] == ["gpqa_diamond", "aime24", "mine"]
    questions = load_eval_questions(pairs)
    assert [(q.benchmark, q.id) for q in questions if q.benchmark != "aime24"] == [("gpqa_diamond", "1"),
                                                                                   ("mine", "m1")]
    with pytest.raises(ConfigError, match="GPQA Diamond is not bundled"):
        parse_eval_specs(["gpqa_diamond"])
    with pytest.raises(ConfigError, match="more than once"):
        parse_eval_specs(["aime24", "aime24"])


def test_report_path_sits_beside_out():
    assert report_path("pool.jsonl") == "pool.contamination.parquet"
    assert report_path("out/pool.jsonl.gz") == "out/pool.contamination.parquet"
    assert report_path("pool.csv") == "pool.contamination.parquet"
    assert report_path("-") is None


def test_the_report_can_go_elsewhere_and_stdout_has_none_by_default(tmp_path):
    pool, expected = salted_pool(tmp_path)
    result = run_s1("collect", "-", "--source", pool, "-d", "aime24,aime25,math500")
    ok(result)
    assert len(result.stdout.splitlines()) == 24 and not list(tmp_path.glob("*.contamination.*"))
    ok(run_s1("collect", "-", "--source", pool, "-d", "aime24,aime25,math500", "--contamination-report",
              tmp_path / "r.csv"))
    assert {r["pool_id"] for r in read_rows(tmp_path / "r.csv")} == set(expected)
    # the old name still works, hidden from --help; both at once is one line
    ok(run_s1("collect", "-", "--source", pool, "-d", "aime24", "--report", tmp_path / "old.csv"))
    assert (tmp_path / "old.csv").exists()
    both = run_s1("collect", "-", "--source", pool, "-d", "aime24", "--report", tmp_path / "a.csv",
                  "--contamination-report", tmp_path / "b.csv")
    assert both.exit_code == 2
    assert "--report is the old name of --contamination-report; give only --contamination-report" in both.stderr
    assert "--report" not in run_s1("collect", "--help").stdout.replace("--contamination-report", "")


# -- duplicates across sources -------------------------------------------------------------------------

Q1 = "Let $f(x) = x^2 + 3x + 2$. Find the sum of all real roots of $f(f(x)) = 0$ and explain each step carefully."
Q2 = "A bag holds 4 red and 6 blue marbles; two are drawn without replacement. What is the probability both are red?"
Q3 = ("Triangle ABC has sides 13, 14 and 15. A circle is inscribed in the triangle and a second circle is tangent "
      "to two sides and to the first circle. Find the radius of the second circle in simplest form.")
Q3_NEAR = Q3 + " Justify your answer."  # Jaccard of word 3-gram shingles: 35/38


def duplicate_sources(tmp_path: Path) -> list[Path]:
    return [
        write_jsonl(tmp_path / "s1.jsonl", [{"question": Q1}, {"question": Q2, "answer": "2/15"}, {"question": Q3}]),
        write_jsonl(tmp_path / "s2.jsonl", [{"question": Q1, "answer": "-3", "solution": "..."},
                                            {"question": "  " + Q2.upper() + "\n"},
                                            {"question": "Unique to s2: what is 12 squared?"}]),
        write_jsonl(tmp_path / "s3.jsonl", [{"question": Q3_NEAR, "answer": "r"}, {"question": "Unique to s3?"}]),
    ]


def collect_rows(tmp_path: Path, sources: list[Path], *options: str) -> list[dict]:
    out = tmp_path / "pool.jsonl"
    ok(run_s1("collect", out, *[a for s in sources for a in ("--source", s)], *options))
    return read_rows(out)


def test_exact_duplicates_go_and_the_kept_row_records_every_copy(tmp_path):
    rows = {r["question"]: r for r in collect_rows(tmp_path, duplicate_sources(tmp_path))}
    assert set(rows) == {Q1, Q2, Q3, Q3_NEAR, "Unique to s2: what is 12 squared?", "Unique to s3?"}
    # The copy with an answer and a solution wins, wherever it comes in the source order.
    assert rows[Q1]["source"] == "s2" and rows[Q1]["metadata"]["duplicates"] == [
        {"source": "s1", "id": derived_id("s1", Q1), "match": "exact"}]
    assert rows[Q2]["source"] == "s1" and rows[Q2]["metadata"]["duplicates"] == [
        {"source": "s2", "id": derived_id("s2", Q2), "match": "exact"}]
    assert "duplicates" not in rows[Q3]["metadata"]


def test_near_duplicates_go_with_dedupe_near(tmp_path):
    rows = {r["question"]: r for r in collect_rows(tmp_path, duplicate_sources(tmp_path), "--dedupe", "near")}
    assert Q3_NEAR in rows and Q3 not in rows  # the copy with an answer wins
    [copy] = rows[Q3_NEAR]["metadata"]["duplicates"]
    assert copy["source"] == "s1" and copy["id"] == derived_id("s1", Q3) and copy["match"] == "near"
    assert 0.8 <= copy["similarity"] < 1.0
    strict = {r["question"] for r in collect_rows(tmp_path, duplicate_sources(tmp_path), "--dedupe", "near",
                                                  "--threshold", "0.99")}
    assert {Q3, Q3_NEAR} <= strict


def test_duplicates_are_resolved_the_same_whatever_the_source_order(tmp_path):
    sources = duplicate_sources(tmp_path)
    for mode in ("exact", "near"):
        forward = collect_rows(tmp_path, sources, "--dedupe", mode)
        backward = collect_rows(tmp_path, sources[::-1], "--dedupe", mode)
        assert sorted(forward, key=lambda r: r["id"]) == sorted(backward, key=lambda r: r["id"])


def test_copies_under_one_source_name_are_resolved_by_content_not_order(tmp_path):
    # Two specs read as one source (as a recipe does for a dataset's splits) hold the same question
    # with different answers: the same copy wins whichever spec comes first.
    write_jsonl(tmp_path / "test.jsonl", [{"question": Q1, "answer": "from test"}])
    write_jsonl(tmp_path / "val.jsonl", [{"question": Q1, "answer": "from val"}])
    kept = []
    for specs in (["test.jsonl", "val.jsonl"], ["val.jsonl", "test.jsonl"]):
        recipe = tmp_path / "r.toml"
        recipe.write_text(f'[[source]]\nname = "arena"\nspec = {json.dumps(specs)}\n')
        ok(run_s1("collect", tmp_path / "pool.jsonl", "--recipe", recipe))
        kept.append(read_rows(tmp_path / "pool.jsonl"))
    assert kept[0] == kept[1] and len(kept[0]) == 1
    [copy] = kept[0][0]["metadata"]["duplicates"]
    assert copy == {"source": "arena", "id": derived_id("arena", Q1), "match": "exact"}


def test_prefer_picks_the_source_whose_copy_is_kept(tmp_path):
    rows = {r["question"]: r for r in collect_rows(tmp_path, duplicate_sources(tmp_path), "--prefer", "s1")}
    assert rows[Q1]["source"] == "s1" and rows[Q1]["metadata"]["duplicates"][0]["source"] == "s2"


def test_a_re_collected_pool_keeps_earlier_provenance(tmp_path):
    first = collect_rows(tmp_path, duplicate_sources(tmp_path))
    write_jsonl(tmp_path / "first.jsonl", first)
    write_jsonl(tmp_path / "more.jsonl", [{"question": Q1}])
    rows = {r["question"]: r for r in collect_rows(tmp_path, [tmp_path / "first.jsonl", tmp_path / "more.jsonl"])}
    assert [d["source"] for d in rows[Q1]["metadata"]["duplicates"]] == ["s1", "more"]


# -- ids ------------------------------------------------------------------------------------------------


def test_ids_are_stable_across_runs_and_processes(tmp_path):
    sources = duplicate_sources(tmp_path)
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"pool{seed}.jsonl"
        env = {**subprocess_env(), "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-m", "s1cli.cli", "collect", str(out),
                               *[a for s in sources for a in ("--source", str(s))]],
                              capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    ids = [json.loads(line)["id"] for line in outputs[0].decode().splitlines()]
    assert derived_id("s1", Q2) in ids and all(len(i.rsplit("-", 1)[1]) == 16 for i in ids)
    # Normalisation decides the id: case and spacing do not change it.
    assert derived_id("s", "What  IS 2+2?") == derived_id("s", "what is 2+2?")


def test_the_pool_passes_the_table_contract(tmp_path):
    out = tmp_path / "pool.csv"
    ok(run_s1("collect", out, "--source", f"demo={REPO / 's1cli' / 'data' / 'pool_sample.jsonl'}"))
    rows = read_rows(out, require=["id", "question", "source"])
    assert len(rows) == 340 and rows[0]["id"] == "gsm8k-test-0005" and {r["source"] for r in rows} == {"demo"}
    assert rows[0]["metadata"]["source"] == "gsm8k"


# -- Hugging Face and saved datasets ------------------------------------------------------------------


def test_an_offline_hub_dataset_is_one_clear_line_naming_it(tmp_path):
    env = {**subprocess_env(), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "collect", str(tmp_path / "p.jsonl"),
                           "--source", "hf:AI-MO/NuminaMath-CoT:default@train"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: hf:AI-MO/NuminaMath-CoT:default@train: cannot load Hugging Face dataset "
                           "'AI-MO/NuminaMath-CoT' (config 'default') split 'train'")
    assert not (tmp_path / "p.jsonl").exists()


def test_the_hub_path_loads_what_load_dataset_can_find(tmp_path):
    # load_dataset takes a local folder of data files as well as a hub name: the same code path,
    # offline, with splits from the file names.
    folder = tmp_path / "hub_like" / "data"
    folder.mkdir(parents=True)
    write_table(folder / "train-00000-of-00001.parquet", [{"problem": "Train question?", "n": 1}])
    write_table(folder / "test-00000-of-00001.parquet", [{"problem": "Test question?", "n": 2}])
    out = tmp_path / "pool.jsonl"
    ok(run_s1("collect", out, "--source", f"hub=hf:{tmp_path / 'hub_like'}@test", "--map", "question=problem"))
    assert [(r["source"], r["question"], r["metadata"]) for r in read_rows(out)] == [
        ("hub", "Test question?", {"n": 2})]
    result = run_s1("collect", out, "--source", f"hf:{tmp_path / 'hub_like'}", "--map", "question=problem")
    assert result.exit_code == 2 and "has splits" in result.stderr and "pick one, e.g." in result.stderr


def test_a_saved_dataset_directory_loads(tmp_path):
    import datasets

    rows = [{"problem": f"Saved question {i}?", "answer": str(i), "tags": ["x", str(i)]} for i in range(4)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    held_out = [{"problem": f"Held-out question {i}?"} for i in range(4)]
    split = datasets.DatasetDict(train=datasets.Dataset.from_list(held_out[:2]),
                                 test=datasets.Dataset.from_list(held_out[2:]))
    split.save_to_disk(str(tmp_path / "dd"))
    out = tmp_path / "pool.jsonl"
    ok(run_s1("collect", out, "--source", tmp_path / "ds", "--source", f"held_out={tmp_path / 'dd'}@test",
              "--map", "question=problem"))
    got = read_rows(out)
    assert [(r["source"], r["question"], r["answer"]) for r in got] == [
        *[("ds", f"Saved question {i}?", str(i)) for i in range(4)],
        *[("held_out", f"Held-out question {i}?", None) for i in (2, 3)]]
    assert got[0]["metadata"] == {"tags": ["x", "0"]}
    result = run_s1("collect", tmp_path / "x.jsonl", "--source", tmp_path / "dd", "--map", "question=problem")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'dd'}: has splits train, test; pick one, e.g. " \
                                    f"{tmp_path / 'dd'}@train"
    result = run_s1("collect", tmp_path / "x.jsonl", "--source", f"{tmp_path / 'dd'}@validation")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'dd'}@validation: no split 'validation'; it has train, test"


# -- errors: one line naming file, row and column; exit 2; nothing written -----------------------------


def bad_case(tmp_path: Path, name: str) -> tuple[list[str], str]:
    a = write_jsonl(tmp_path / "a.jsonl", [{"problem": "Fine?", "id": "x"}, {"text": "no question here"}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"question": 42}])
    c = write_jsonl(tmp_path / "c.jsonl", [{"question": "Fine?", "answer": {"value": 1}}])
    d = write_jsonl(tmp_path / "d.jsonl", [{"question": "Other question?", "id": "x"}])
    recipe = tmp_path / "r.toml"
    cases = {
        "missing question": (["--source", a, "--map", "question=problem"],
                             f"{a}:2: column 'question' (mapped from 'problem') is missing"),
        "question not text": (["--source", b], f"{b}:1: column 'question' must be a string, got int"),
        "answer an object": (["--source", c], f"{c}:1: column 'answer' must be text, a number or a list of them, "
                                              "got dict"),
        "duplicate ids": (["--source", a, "--source", d, "--map", "question=problem", "--limit", "1"],
                          f"{d}:1: column 'id': duplicate id 'x' (first at {a}:1); ids must be unique in the pool"),
        "gpqa without a file": (["--source", a, "-d", "aime24,gpqa_diamond"],
                                "--decontaminate gpqa_diamond: GPQA Diamond is not bundled"),
        "unknown eval set": (["--source", a, "-d", "aime2024"],
                             "--decontaminate 'aime2024': not a bundled evaluation set (aime24, aime25, math500) "
                             "and no such file"),
        "missing source": (["--source", tmp_path / "nope.jsonl"], f"{tmp_path / 'nope.jsonl'}: no such file"),
        "no sources": ([], "no sources: give --source SPEC (repeatable) or --recipe FILE"),
        "bad dedupe": (["--source", a, "--dedupe", "fuzzy"], "--dedupe 'fuzzy': choose exact or near"),
        "recipe key": (["--recipe", recipe], f"{recipe}: source 1 ('a'): mapp: unknown key"),
        "recipe where": (["--recipe", recipe], f"{a}:1: column 'lang' (named in the recipe's where) is missing"),
        "recipe toml": (["--recipe", recipe], f"{recipe}: not valid TOML"),
        "report over out": (["--source", a, "--contamination-report", tmp_path / "out.parquet"],
                            f"--contamination-report {tmp_path / 'out.parquet'}: the report would overwrite OUT"),
    }
    recipe.write_text({
        "recipe key": f'[[source]]\nname = "a"\nspec = "{a}"\nmapp = {{ question = "problem" }}\n',
        "recipe where": f'[[source]]\nname = "a"\nspec = "{a}"\nwhere = {{ lang = "en" }}\n',
        "recipe toml": "[[source]\nname = 1\n",
    }.get(name, ""))
    return [str(x) for x in cases[name][0]], cases[name][1]


BAD = ["missing question", "question not text", "answer an object", "duplicate ids", "gpqa without a file",
       "unknown eval set", "missing source", "no sources", "bad dedupe", "recipe key", "recipe where", "recipe toml",
       "report over out"]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, name):
    args, message = bad_case(tmp_path, name)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_s1("collect", tmp_path / "out.parquet", *args, "-d", "aime24")
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no report, no temp files


def test_a_bad_row_through_a_real_process_has_no_traceback(tmp_path):
    args, message = bad_case(tmp_path, "missing question")
    done = s1_process("collect", "out.jsonl", *args, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [f"error: {message}"]
    assert not os.path.exists(tmp_path / "out.jsonl")


def test_options_are_checked():
    with pytest.raises(ConfigError, match="--threshold"):
        CollectOptions(threshold=0.0)
    with pytest.raises(ConfigError, match="no sources"):
        Pool([], [])


def test_registering_the_command_loads_no_numpy_or_datasets():
    # Every `s1` invocation imports every command module: the heavy libraries wait for `collect`.
    heavy = ("numpy", "pydantic", "datasets", "datasketch")
    script = f"import sys, s1cli.cli; print([m for m in {heavy} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=subprocess_env())
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
