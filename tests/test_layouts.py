"""`--layout`: the published reasoning datasets read as they ship, through every command; and the ids
every command derives for id-less rows (the same everywhere, said once, written out)."""

from __future__ import annotations

import json

import pytest

from s1cli.errors import ConfigError
from s1cli.layouts import LAYOUTS, column_map
from s1cli.schema import derived_id
from s1cli.table import read_rows, write_table

from .conftest import run_s1
from .releases import QUESTIONS, write_releases


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    return write_releases(tmp_path_factory.mktemp("releases"))


def converted(tmp_path, source, *args):
    out = tmp_path / "out.jsonl"
    result = run_s1("convert", source, out, *args)
    assert result.exit_code == 0, result.stderr
    return read_rows(out), result


# Each preset on its release: what a training or selection step then finds in the contract's columns.
CASES = {
    "s1k": ("s1K.parquet", {"thinking": "Let me work through problem 1.", "response": "The answer is $\\boxed{2}$.",
                            "source": "AI-MO/NuminaMath-CoT/aops_forum"}),
    "s1k-1.1": ("s1K-1.1.parquet", {"thinking": "R1: Let me work", "deepseek_correct": True, "gemini_correct": True}),
    "s1k-1.1-gemini": ("s1K-1.1.parquet", {"thinking": "Let me work through problem 1.", "gemini_correct": True}),
    "s1-featurized": ("s1-featurized.parquet", {"msc": "Number theory", "thinking_tokens": 1300,
                                                "qwen7b_correct": False, "qwen32b_correct": False,
                                                "gemini_correct": True}),
    "openr1-math": ("OpenR1-Math.parquet", {"id": "0f6c0001-aaaa-5bbb-8ccc-000000000001", "thinking":
                                            "Let me work through problem 1.", "response": "The answer is $\\boxed{2}$.",
                                            "generation": 1, "math_verify_correct": True, "domain": "Algebra"}),
    "numina": ("NuminaMath-CoT.parquet", {"id": "olympiads-", "source": "olympiads"}),
}


def test_every_layout_has_a_case():
    assert set(CASES) == set(LAYOUTS)


@pytest.mark.parametrize("layout", list(CASES))
def test_each_layout_reads_its_release_as_it_ships(tmp_path, releases, layout):
    name, expected = CASES[layout]
    rows, _ = converted(tmp_path, releases[name], "--layout", layout, "--require", "question")
    assert len(rows) == len(QUESTIONS)
    row = rows[1]
    assert row["question"] == QUESTIONS[1][0]
    assert isinstance(row["id"], str) and row["id"]
    for column, value in expected.items():
        if isinstance(value, str):
            assert row[column].startswith(value), (column, row[column])
        else:
            assert row[column] == value, column
    if "metadata" in row:
        assert row["metadata"]["subject"] == "Algebra"  # Python-literal text read as an object
    assert len({r["id"] for r in rows}) == len(rows)


def test_the_two_numina_releases_read_with_one_layout(tmp_path, releases):
    cot, _ = converted(tmp_path, releases["NuminaMath-CoT.parquet"], "--layout", "numina")
    v15, _ = converted(tmp_path, releases["NuminaMath-1.5.parquet"], "--layout", "numina")
    assert [r["question"] for r in cot] == [r["question"] for r in v15]
    assert v15[0]["answer"] == QUESTIONS[0][1]


def test_an_id_less_release_gets_ids_said_once_and_the_same_in_every_command(tmp_path, releases):
    rows, result = converted(tmp_path, releases["s1K.parquet"], "--layout", "s1k")
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "without an id" in notes[0] and rows[0]["id"] in notes[0]
    assert rows[0]["id"] == derived_id({"question": QUESTIONS[0][0], "source": QUESTIONS[0][2]})
    # select reads its input twice: still one note; its output keeps the same ids
    out = tmp_path / "picked.jsonl"
    result = run_s1("select", releases["s1-featurized.parquet"], out, "--layout", "s1-featurized", "--mode", "all")
    assert result.exit_code == 0, result.stderr
    assert sum(line.startswith("note:") for line in result.stderr.splitlines()) == 1
    assert {r["id"] for r in read_rows(out)} == {r["id"] for r in rows}
    # and grade writes them too, instead of passing None through
    graded = tmp_path / "graded.jsonl"
    result = run_s1("grade", releases["s1K.parquet"], graded, "--layout", "s1k", "--judge", "rule", "--name", "gemini",
                    "--reference", "solution")
    assert result.exit_code == 0, result.stderr
    graded_rows = read_rows(graded)
    assert [r["id"] for r in graded_rows] == [r["id"] for r in rows]
    assert all(r["gemini_correct"] for r in graded_rows)


def test_quiet_silences_the_note(tmp_path, releases):
    result = run_s1("--quiet", "convert", releases["s1K.parquet"], tmp_path / "o.jsonl", "--layout", "s1k")
    assert result.exit_code == 0 and "note:" not in result.stderr


def test_a_repeated_question_gets_a_numbered_id(tmp_path):
    rows = [{"question": "Same?", "source": "s"}, {"question": "Other?", "source": "s"},
            {"question": " same? ", "source": "s"}]
    write_table(tmp_path / "in.jsonl", rows)
    out, _ = converted(tmp_path, tmp_path / "in.jsonl")
    assert out[2]["id"] == out[0]["id"] + "-2"
    assert out[0]["id"] != out[1]["id"]


def test_rows_that_have_ids_keep_them(tmp_path):
    write_table(tmp_path / "in.jsonl", [{"id": "a", "question": "Q?"}, {"id": None, "question": "R?"}])
    out, _ = converted(tmp_path, tmp_path / "in.jsonl")
    assert out[0]["id"] == "a" and out[1]["id"] == derived_id({"question": "R?"})


def test_map_renames_on_top_of_a_layout(tmp_path, releases):
    rows, _ = converted(tmp_path, releases["s1K-1.1.parquet"], "--layout", "s1k-1.1",
                        "--map", "thinking=gemini_thinking_trajectory")
    assert rows[0]["thinking"].startswith("Let me work")  # Gemini's, not DeepSeek's
    assert rows[0]["response"] == "The answer is $\\boxed{42}$."  # the layout's other columns stay


def test_a_missing_column_names_the_layout_that_mapped_it(tmp_path, releases):
    result = run_s1("sft", releases["s1K.parquet"], tmp_path / "m", "--model", "hf:nowhere", "--layout", "s1k-1.1")
    assert result.exit_code == 2
    expected = "column 'thinking' (mapped from 'deepseek_thinking_trajectory' by --layout s1k-1.1) is missing"
    assert expected in result.stderr


def test_an_unknown_layout_is_one_line(tmp_path, releases):
    result = run_s1("convert", releases["s1K.parquet"], tmp_path / "o.jsonl", "--layout", "s1K-2")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --layout 's1K-2': unknown layout; choose one of " + ", ".join(LAYOUTS)
        + " (or give the columns with --map NEW=OLD)"]
    assert not (tmp_path / "o.jsonl").exists()
    with pytest.raises(ConfigError):
        column_map([], "nope")


def test_select_runs_on_the_featurized_pool_with_its_defaults(tmp_path, releases):
    out = tmp_path / "s1k.jsonl"
    result = run_s1("select", releases["s1-featurized.parquet"], out, "--layout", "s1-featurized", "--size", "3",
                    "--math-min-tokens", "0")
    assert result.exit_code == 0, result.stderr
    picked = read_rows(out)
    # rows 0 and 4 are solved by a Qwen model, so the difficulty stage drops them
    assert picked and not {QUESTIONS[0][0], QUESTIONS[4][0]} & {r["question"] for r in picked}


def test_sft_reads_s1k_with_the_layout(tmp_path, releases, tiny_model):
    result = run_s1("sft", releases["s1K.parquet"], tmp_path / "m", "--model", f"hf:{tiny_model}",
                    "--layout", "s1k", "--preflight-only")
    assert result.exit_code == 0, result.stderr
    assert "8 examples" in result.stderr or "8 rows" in result.stderr, result.stderr


def test_a_recipe_entry_names_its_layout(tmp_path, releases):
    recipe = tmp_path / "recipe.toml"
    numina, openr1 = releases["NuminaMath-1.5.parquet"], releases["OpenR1-Math.parquet"]
    recipe.write_text(f'[[source]]\nname = "numina"\nspec = "{numina}"\nlayout = "numina"\n'
                      f'[[source]]\nname = "openr1"\nspec = "{openr1}"\nlayout = "openr1-math"\n')
    out = tmp_path / "pool.jsonl"
    result = run_s1("collect", out, "--recipe", recipe, "--dedupe", "exact")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    by_source = {r["source"]: r for r in rows}
    # the same questions in both: exact duplicates, one kept, the other recorded on it
    assert len(rows) == len(QUESTIONS)
    kept = next(iter(by_source.values()))
    assert kept["metadata"]["duplicates"]
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[source]]\nname = "x"\nspec = "{releases["s1K.parquet"]}"\nlayout = "nope"\n')
    result = run_s1("collect", out, "--recipe", bad)
    assert result.exit_code == 2 and "layout 'nope': unknown layout" in result.stderr


def test_stdout_holds_only_rows_with_their_ids(tmp_path, releases):
    result = run_s1("convert", releases["NuminaMath-CoT.parquet"], "-", "--layout", "numina")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(QUESTIONS) and all(json.loads(line)["id"] for line in lines)


def test_generate_on_an_id_less_release_resumes_on_the_derived_ids(tmp_path, releases, tiny_model):
    out = tmp_path / "gens.jsonl"
    args = ("generate", releases["s1K.parquet"], out, "--model", f"hf:{tiny_model}", "--layout", "s1k",
            "--max-thinking-tokens", "4", "--max-answer-tokens", "4")
    first = run_s1(*args)
    assert first.exit_code == 0, first.stderr
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [derived_id({"question": q, "source": s}) for q, _, s, _ in QUESTIONS]
    out.write_text("".join(line + "\n" for line in out.read_text().splitlines()[:3]))  # as if killed after 3 rows
    again = run_s1(*args)
    assert again.exit_code == 0, again.stderr
    assert "resuming: 3 rows" in again.stderr
    assert [r["id"] for r in read_rows(out)] == [r["id"] for r in rows]
