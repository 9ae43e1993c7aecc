"""Documentation stays true to the command line. Every command has its page under docs/, with every
option in a table row together with the default --help shows; every `s1 ...` line of a bash block in
the docs and the README parses against the real command line; every page is linked from
docs/README.md; the README names every command and links its page; and every command's --help
ends with examples that parse."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from s1cli.cli import app

from .cli_examples import example_invocations, parse_example, shell_invocations

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
README = (REPO / "README.md").read_text(encoding="utf-8")
INDEX = DOCS / "README.md"
TABLES = DOCS / "tables.md"
PAGES = sorted(DOCS.glob("*.md"))
ROOT = typer.main.get_command(app)


def walk(command, path=()) -> Iterator[tuple[tuple[str, ...], object]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = [(path, command) for path, command in walk(ROOT) if path]


def ids(items):
    return [" ".join(path) for path, _ in items]


def page_of(path: tuple[str, ...]) -> Path:
    """docs/<command path joined by '-'>.md; the `data` subcommands share docs/data.md."""
    return DOCS / ("data.md" if path[0] == "data" else "-".join(path) + ".md")


def read(page: Path) -> str:
    assert page.is_file(), f"{page.relative_to(REPO)} is missing"
    return page.read_text(encoding="utf-8")


# --- the checkers ------------------------------------------------------------------------------


def options(command) -> list:
    """The command's options (not arguments), without --help."""
    return [param for param in command.params if any(opt.startswith("--") for opt in param.opts) and not param.hidden]


def long_names(param) -> list[str]:
    return [opt for opt in (*param.opts, *param.secondary_opts) if opt.startswith("--") and opt != "--help"]


def names(text: str, opt: str) -> bool:
    """`opt` occurs as a whole option name: `--n` is not found in `--name`, nor `--batch` in `--batch-size`."""
    return re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text) is not None


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row (separator rows left out; `\\|` is a pipe inside a cell)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|") and not re.fullmatch(r"[|:\- ]+", line):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line[1:-1])])
    return rows


def option_rows(text: str, opt: str) -> list[list[str]]:
    """Table rows whose first cell names `opt`."""
    return [row for row in table_rows(text) if names(row[0], opt)]


def undocumented_options(command, text: str) -> list[str]:
    """Option names of `command` that no table row of `text` names in its first cell."""
    return [opt for param in options(command) for opt in long_names(param) if not option_rows(text, opt)]


def shows_default(cell: str, default) -> bool:
    if isinstance(default, (int, float)):
        numbers = re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", cell.replace(",", ""))
        return any(float(number) == float(default) for number in numbers)
    return str(default) in cell


def wrong_defaults(command, text: str) -> list[str]:
    """Options with a default (other than none, an empty string or a flag's) that no row naming
    the option shows in its second cell, as --help shows it (numbers compare as numbers)."""
    wrong = []
    for param in options(command):
        default = param.default
        if getattr(param, "is_flag", False) or isinstance(default, bool) or default in (None, "", (), []):
            continue
        opt = long_names(param)[0]
        cells = [row[1] for row in option_rows(text, opt) if len(row) > 1]
        if not any(shows_default(cell, default) for cell in cells):
            wrong.append(f"{opt} (default {default!r})")
    return wrong


def bash_blocks(text: str) -> Iterator[str]:
    """The text of every ```bash (or sh, shell) block of a Markdown text; other blocks are skipped."""
    fence, lines = None, []
    for line in text.splitlines():
        opening = re.match(r"\s*```\s*(\S*)", line)
        if not opening:
            lines.append(line)
        elif fence is None:
            fence, lines = opening.group(1), []
        else:
            if fence in ("bash", "sh", "shell"):
                yield "\n".join(lines)
            fence = None


def invocations(text: str) -> Iterator[list[str]]:
    """The words after `s1` of every s1 command in the text's bash blocks, read as a shell reads them
    (continuation lines, pipelines, `.venv/bin/s1`, `accelerate launch ... -m s1cli.cli`)."""
    for block in bash_blocks(text):
        yield from shell_invocations(block)


def command_path(words: list[str]) -> tuple[str, ...]:
    """The subcommand path an invocation names (global flags skipped)."""
    command, path = ROOT, []
    for word in words:
        if not getattr(command, "commands", None):
            break
        if word.startswith("-"):
            continue
        if word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return tuple(path)


def local_links(text: str) -> list[str]:
    """Targets of the Markdown links of `text` that are paths in this repository."""
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


# --- every command has its page, with every option and its default ----------------------------


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_every_command_has_its_page(path, command):
    text = read(page_of(path))
    assert f"s1 {' '.join(path)}" in text, f"{page_of(path).name} never names `s1 {' '.join(path)}`"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_every_option_is_in_a_table_on_its_page(path, command):
    missing = undocumented_options(command, read(page_of(path)))
    assert not missing, f"{page_of(path).name}: no table row for {', '.join(missing)} of `s1 {' '.join(path)}`"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_every_default_is_shown_on_its_page(path, command):
    wrong = wrong_defaults(command, read(page_of(path)))
    assert not wrong, f"{page_of(path).name}: the option table does not show the default of {', '.join(wrong)}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_every_page_shows_its_command_at_work(path, command):
    paths = {command_path(words) for words in invocations(read(page_of(path)))}
    shown = any(p[: len(path)] == path for p in paths)
    assert shown, f"{page_of(path).name} has no ```bash example of `s1 {' '.join(path)}`"


def test_global_options_are_documented():
    text = read(TABLES) + README
    for param in options(ROOT):
        for opt in long_names(param):
            assert names(text, opt), f"neither docs/tables.md nor README.md explains the global option {opt}"


# --- examples parse, pages are linked ----------------------------------------------------------


@pytest.mark.parametrize("doc", [REPO / "README.md", *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_parses(doc):
    failures = []
    for words in invocations(doc.read_text(encoding="utf-8")):
        try:
            parse_example(words)
        except (AssertionError, typer.TyperException) as error:
            failures.append(f"s1 {shlex.join(words)}\n    {type(error).__name__}: {error}")
    assert not failures, f"{doc.relative_to(REPO)}: examples that do not parse:\n" + "\n".join(failures)


@pytest.mark.parametrize("doc", [REPO / "README.md", *PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_every_local_link_resolves(doc):
    broken = [t for t in local_links(doc.read_text(encoding="utf-8")) if t and not (doc.parent / t).exists()]
    assert not broken, f"{doc.relative_to(REPO)} links to missing files: {', '.join(broken)}"


def test_every_page_is_linked_from_the_index():
    index = read(INDEX)
    linked = {(DOCS / target).resolve() for target in local_links(index)}
    unlinked = [page.name for page in PAGES if page != INDEX and page.resolve() not in linked]
    assert not unlinked, f"docs/README.md does not link {', '.join(unlinked)}"
    for path, _ in COMMANDS:
        assert page_of(path).resolve() in linked, f"docs/README.md does not link {page_of(path).name}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=ids(COMMANDS))
def test_the_readme_names_every_command(path, command):
    assert f"s1 {' '.join(path)}" in README, f"README lacks `s1 {' '.join(path)}`"
    page = f"docs/{page_of(path).name}"
    assert page in local_links(README), f"README does not link {page}"


@pytest.mark.parametrize(("path", "command"), [((), ROOT), *COMMANDS], ids=["s1", *ids(COMMANDS)])
def test_help_ends_with_examples_that_parse(path, command):
    epilog = command.epilog or ""
    assert epilog.lstrip().startswith("Examples:"), f"`s1 {' '.join(path)} --help` has no examples"
    examples = list(example_invocations(epilog))
    assert examples, f"`s1 {' '.join(path)} --help` shows no s1 invocation"
    for words in examples:
        parse_example(words)


# --- the checkers catch what they should -------------------------------------------------------


def test_the_example_check_catches_a_wrong_option():
    with pytest.raises(typer.TyperException):
        parse_example(["convert", "a.jsonl", "b.jsonl", "--no-such-option"])
    with pytest.raises(AssertionError):
        parse_example(["no-such-command"])


def test_the_option_check_catches_an_undocumented_option():
    convert = ROOT.commands["convert"]
    page = """`--limit` is named in prose, and `--limit-rows` in a table, but neither documents --limit.

| option | default | meaning |
|---|---|---|
| `--map NEW=OLD`, `-m` | — | rename columns |
| `--layout NAME` | — | a release's column map |
| `--require COLUMN`, `-r` | — | a required column |
| `--limit-rows N` | — | not the option |
"""
    assert undocumented_options(convert, page) == ["--limit"]
    assert undocumented_options(convert, page + "| `--limit N` | all rows | keep the first N |\n") == []
    sft = ROOT.commands["sft"]
    assert "--no-packing" in undocumented_options(sft, "| `--packing` | on | packing |\n")


def test_the_default_check_catches_a_wrong_default():
    tiny = ROOT.commands["tiny"]
    right = "| `--preset` | `tiny` | shape |\n| `--seed` | 0 | seed |\n"
    assert "--preset (default 'tiny')" not in wrong_defaults(tiny, right)
    assert "--seed (default 0)" not in wrong_defaults(tiny, right)
    wrong = wrong_defaults(tiny, "| `--preset` | `small` | shape |\n| `--seed` | 1 | seed |\n")
    assert "--preset (default 'tiny')" in wrong and "--seed (default 0)" in wrong
    sft = wrong_defaults(ROOT.commands["sft"], "| `--lr` | 1e-5 | |\n| `--weight-decay` | 1e-4 | |\n")
    assert not [w for w in sft if w.startswith(("--lr ", "--weight-decay "))]  # 1e-5 is 1e-05


def test_examples_are_read_from_bash_blocks_as_a_shell_reads_them():
    text = """```bash
s1 convert a.jsonl b.parquet   # a comment
s1 select in.jsonl out.jsonl \\
  --mode random --seed 1
VLLM_CPU_KVCACHE_SPACE=4 .venv-vllm/bin/s1 tiny models/t
accelerate launch --config_file x.yaml -m s1cli.cli sft a.jsonl out --model hf:m
```

```toml
s1 no-such-command
```

```
s1 no-such-command
```
"""
    assert list(invocations(text)) == [
        ["convert", "a.jsonl", "b.parquet"],
        ["select", "in.jsonl", "out.jsonl", "--mode", "random", "--seed", "1"],
        ["tiny", "models/t"],
        ["sft", "a.jsonl", "out", "--model", "hf:m"],
    ]
    assert [command_path(words) for words in invocations(text)] == [("convert",), ("select",), ("tiny",), ("sft",)]
    with pytest.raises(typer.TyperException):
        parse_example(next(invocations("```bash\ns1 select in.jsonl out.jsonl --mode random --sed 1\n```\n")))
