"""Documentation stays true: every command and option is in the README, and every command's
--help ends with examples that parse against the real command line."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from s1cli.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
ROOT = typer.main.get_command(app)


def walk(command, path=()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = [(path, command) for path, command in walk(ROOT) if path]
LEAVES = [(path, command) for path, command in COMMANDS if not getattr(command, "commands", None)]


def ids(items):
    return [" ".join(path) for path, _ in items]


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_every_command_is_documented_in_the_readme(path, command):
    assert f"s1 {' '.join(path)}" in README, f"README lacks `s1 {' '.join(path)}`"


@pytest.mark.parametrize(("path", "command"), [((), ROOT), *COMMANDS], ids=["s1", *ids(COMMANDS)])
def test_every_option_is_documented_in_the_readme(path, command):
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--") and opt != "--help":
                assert opt in README, f"README lacks {opt} of `s1 {' '.join(path)}`"


def example_invocations(epilog: str) -> Iterator[list[str]]:
    for line in epilog.splitlines():
        for segment in line.split("|"):
            words = shlex.split(segment.strip())
            if words[:1] == ["s1"]:
                yield words[1:]


@pytest.mark.parametrize(("path", "command"), [((), ROOT), *COMMANDS], ids=["s1", *ids(COMMANDS)])
def test_help_ends_with_examples_that_parse(path, command):
    epilog = command.epilog or ""
    assert epilog.lstrip().startswith("Examples:"), f"`s1 {' '.join(path)} --help` has no examples"
    examples = list(example_invocations(epilog))
    assert examples, f"`s1 {' '.join(path)} --help` shows no s1 invocation"
    for words in examples:
        parse_example(words)


def parse_example(words: list[str]) -> None:
    """Resolve the subcommand path, then let click parse the rest as it would at run time."""
    command, rest = ROOT, list(words)
    while getattr(command, "commands", None):
        while rest and rest[0].startswith("-"):
            rest.pop(0)  # global flags such as --quiet
        assert rest and rest[0] in command.commands, f"unknown command in example: s1 {' '.join(words)}"
        command = command.commands[rest.pop(0)]
    command.make_context(command.name, rest)  # raises a UsageError for a wrong option or argument


def test_the_example_check_catches_a_wrong_option():
    with pytest.raises(typer.TyperException):
        parse_example(["convert", "a.jsonl", "b.jsonl", "--no-such-option"])
    with pytest.raises(AssertionError):
        parse_example(["no-such-command"])
