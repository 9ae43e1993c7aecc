"""`--help` reads as a man page: flags show no value type, options with fixed choices show them."""

from __future__ import annotations

import pytest

from .conftest import run_s1
from .test_docs import ROOT, walk

COMMANDS = [path for path, _ in walk(ROOT) if path]


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_no_flag_shows_a_bool_metavar(path):
    result = run_s1(*path, "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout


def test_the_root_help_shows_flags_without_a_type():
    assert "<bool>" not in run_s1("--help").stdout


@pytest.mark.parametrize(("path", "option", "choices"), [
    (("sft",), "--precision", "[auto|bf16|fp32]"),
    (("sft",), "--loss-average", "[token|sequence]"),
    (("sft",), "--long-rows", "[truncate|drop]"),
    (("sft",), "--format", "[auto|s1|r1|qwen3|custom]"),
    (("sft",), "--attention", "[auto|flash|sdpa|eager]"),
    (("select",), "--mode", "[s1k|random|diverse|longest|all]"),
    (("grade",), "--reference", "[answer|solution]"),
    (("tiny",), "--preset", "[tiny|small]"),
])
def test_choices_show_in_the_help(path, option, choices):
    command = ROOT
    for name in path:
        command = command.commands[name]
    param = next(p for p in command.params if option in p.opts)
    assert param.metavar == choices


@pytest.mark.parametrize(("path", "new", "old"), [
    (("collect",), "--contamination-report", "--report"),
    (("generate",), "--question-column", "--prompt-column"),
    (("generate",), "--message-batches", "--batch"),
    (("grade",), "--message-batches", "--batch"),
    (("classify-msc",), "--message-batches", "--batch"),
])
def test_renamed_options_keep_their_old_name_hidden(path, new, old):
    text = run_s1(*path, "--help").stdout
    assert new in text
    assert old not in text.replace(new, "").replace("--batch-size", "")
    command = ROOT
    for name in path:
        command = command.commands[name]
    assert any(old in p.opts and p.hidden for p in command.params)


def test_an_old_name_still_works_and_both_names_at_once_is_one_line(tmp_path):
    table = tmp_path / "a.jsonl"
    table.write_text('{"id": "a", "question": "Q?", "answer": "1", "response": "1"}\n')
    old = run_s1("grade", table, tmp_path / "o.jsonl", "--judge", "rule", "--name", "m", "--batch")
    new = run_s1("grade", table, tmp_path / "o.jsonl", "--judge", "rule", "--name", "m", "--message-batches")
    assert old.exit_code == new.exit_code == 2 and old.stderr == new.stderr  # the same option, by either name
    both = run_s1("grade", table, tmp_path / "o.jsonl", "--judge", "rule", "--name", "m", "--batch",
                  "--message-batches")
    assert both.exit_code == 2
    assert both.stderr.strip() == "error: --batch is the old name of --message-batches; give only --message-batches"
