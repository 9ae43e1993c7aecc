"""Parse `s1 ...` invocations found in text (help epilogs, docs, example scripts) against the real
command line, so documentation and scripts cannot name an option or command that does not exist."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import typer

from s1cli.cli import app

ROOT = typer.main.get_command(app)


def example_invocations(text: str) -> Iterator[list[str]]:
    """The words after `s1` of every line (or pipeline segment) that starts with `s1`."""
    for line in text.splitlines():
        for segment in line.split("|"):
            words = shlex.split(segment.strip())
            if words[:1] == ["s1"]:
                yield words[1:]


def parse_example(words: list[str]) -> None:
    """Resolve the subcommand path, then let click parse the rest as it would at run time."""
    command, rest = ROOT, list(words)
    while getattr(command, "commands", None):
        while rest and rest[0].startswith("-"):
            rest.pop(0)  # global flags such as --quiet
        assert rest and rest[0] in command.commands, f"unknown command in example: s1 {' '.join(words)}"
        command = command.commands[rest.pop(0)]
    command.make_context(command.name, rest)  # raises a UsageError for a wrong option or argument


# ------------------------------------------------------------------ shell scripts (examples/recipe, slurm)

_OPERATOR_CHARS = set("();<>|&")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
# "$@", "$*", "${ARRAY[@]}": any number of words, so they are left out
_ANY_NUMBER_OF_WORDS = re.compile(r"^\$(@|\*|\{[A-Za-z_][A-Za-z0-9_]*\[[@*]\]\})$")
_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "exec", "nohup", "command", "env"}
_COMMENTED_COMMAND = re.compile(r"^(s1|accelerate launch) ")


def shell_invocations(text: str) -> Iterator[list[str]]:
    """The words after `s1` of every s1 command in a shell script (or a shell code block).

    Lines continued with a trailing backslash are joined, and a quote left open continues on the next
    line. Pipelines, lists (`;`, `&&`, `||`, `&`) and `$(...)` are split into simple commands; leading
    `NAME=value` assignments, `srun --opt=value ...` and keywords such as `then` or `time` are skipped;
    redirections are dropped. A command is `s1 ...` (or `.../s1 ...`), `accelerate launch ... -m
    s1cli.cli ...` or `python -m s1cli.cli ...` (what follows `-m s1cli.cli` is the s1 command), and
    `bash -c 'SCRIPT'` is searched in turn. Variables are not expanded: `"$OUT"` stays one word, and
    `"$@"` / `"${ARRAY[@]}"` (any number of words) are left out. A comment line whose text starts with
    `s1 ` or `accelerate launch ` is a command too, so commented examples are held to the same rule.
    """
    for line in _logical_lines(text):
        for words in _simple_commands(_shell_words(line)):
            yield from _command_invocations(words)


def _shell_words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _logical_lines(text: str) -> Iterator[str]:
    code = comment = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not code and stripped.startswith("#"):
            comment += stripped.lstrip("#").strip()
            if comment.endswith("\\"):
                comment = comment[:-1] + " "
                continue
            if _COMMENTED_COMMAND.match(comment):
                yield comment
            comment = ""
            continue
        code += raw
        if code.endswith("\\"):
            code = code[:-1] + " "
            continue
        try:
            _shell_words(code)
        except ValueError:  # a quote still open: the command goes on
            code += "\n"
            continue
        yield code
        code = ""
    if code.strip():
        raise ValueError(f"unterminated command at the end of the script: {code.strip()[:80]}")


def _simple_commands(tokens: list[str]) -> Iterator[list[str]]:
    words: list[str] = []
    skip_next = False
    for index, token in enumerate(tokens):
        if skip_next:
            skip_next = False
        elif token and set(token) <= _OPERATOR_CHARS:
            if "<" in token or ">" in token:
                if words and words[-1].isdigit() and tokens[index - 1] == words[-1]:
                    words.pop()  # the file descriptor of 2> / 2>&1
                skip_next = True  # the redirection's target
            else:
                if words:
                    yield words
                words = []
        else:
            words.append(token)
    if words:
        yield words


def _command_invocations(words: list[str]) -> Iterator[list[str]]:
    while words and (_ASSIGNMENT.match(words[0]) or words[0] in _KEYWORDS or words[0] == "srun"):
        srun = words[0] == "srun"
        words = words[1:]
        while srun and words and words[0].startswith("-"):
            words = words[1:]  # srun's own options, written --opt=value
    words = [word for word in words if not _ANY_NUMBER_OF_WORDS.match(word)]
    if not words:
        return
    program = words[0].rsplit("/", 1)[-1]
    if program == "s1":
        yield words[1:]
    elif words[:2] == ["accelerate", "launch"] or program.startswith("python"):
        for index in range(len(words) - 1):
            if words[index] == "-m" and words[index + 1] == "s1cli.cli":
                yield words[index + 2:]
                break
    elif program in ("bash", "sh") and "-c" in words[:-1]:
        yield from shell_invocations(words[words.index("-c") + 1])
