"""The bundled data: counts, contract, attribution."""

from __future__ import annotations

from s1cli.bundled import TABLES, data_dir, load_table, msc_classes, table_path

from .conftest import run_s1


def test_every_bundled_table_loads_with_its_documented_row_count_and_contract():
    all_ids = set()
    for name, spec in TABLES.items():
        rows = load_table(name)
        assert len(rows) == spec.rows, name
        for row in rows:
            assert isinstance(row["question"], str) and row["question"].strip()
            assert isinstance(row["answer"], str) and row["answer"].strip()
            assert isinstance(row["metadata"], dict)
        ids = {row["id"] for row in rows}
        assert len(ids) == len(rows)
        assert not ids & all_ids, "ids are unique across the bundled files"
        all_ids |= ids


def test_known_answers():
    aime24 = {r["id"]: r for r in load_table("aime24")}
    assert aime24["aime24-I-01"]["answer"] == "204"
    assert aime24["aime24-I-01"]["metadata"]["upstream_answer"] == "204"
    math500 = load_table("math500")
    levels = {r["metadata"]["level"] for r in math500}
    assert levels == {1, 2, 3, 4, 5}


def test_msc_table_has_the_63_top_level_classes_in_order():
    classes = msc_classes()
    assert len(classes) == 63
    codes = [code for code, _ in classes]
    assert codes == sorted(codes) and codes[0] == "00" and codes[-1] == "97"
    assert dict(classes)["11"] == "Number theory"
    assert all(len(code) == 2 and code.isdigit() for code in codes)


def test_attribution_ships_with_the_data():
    notice = (data_dir() / "NOTICE.md").read_text(encoding="utf-8")
    for phrase in ("Mathematical Association of America", "GPQA", "CC BY-NC-SA 4.0", "aime24.jsonl"):
        assert phrase in notice
    assert table_path("math500").name == "math500.jsonl"


def test_writing_to_stdout_is_called_stdout_as_every_command_does():
    exported = run_s1("data", "export", "aime24", "-")
    assert exported.exit_code == 0 and exported.stderr.strip().endswith("to <stdout>")
    toy = run_s1("data", "toy", "-", "--n", "3")
    assert toy.exit_code == 0 and toy.stderr.strip().endswith("to <stdout>")
