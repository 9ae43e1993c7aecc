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
    (("sft",), "--format", "[s1|r1|qwen3|custom]"),
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
