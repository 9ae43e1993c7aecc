"""The real-scale recipe in examples/ (scripts, Slurm jobs, examples/README.md) names only commands and
options the real command line has, and every script is valid bash."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer

from .cli_examples import ROOT, example_invocations, parse_example, shell_invocations

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
README = EXAMPLES / "README.md"
SCRIPTS = sorted([*(EXAMPLES / "recipe").glob("*.sh"), *(EXAMPLES / "slurm").glob("*.slurm")])
# Values tried, in turn, for a "$VAR" given to an option that wants a number (or a bool).
PLACEHOLDERS = ("1", "0", "1000000", "true")


def parse_script_example(words: list[str]) -> None:
    """parse_example, except that a shell variable given to a typed option (`--max-cost "$MAX_COST"`)
    stands for a valid value: only the option's name is checked there, as for any other option."""
    original, words = list(words), list(words)
    tried: dict[int, int] = {}
    while True:
        try:
            parse_example(words)
            return
        except typer.TyperException as error:  # a refused value names its parameter
            index = _variable_value_of(original, getattr(error, "param", None))
            if index is None or tried.get(index, 0) >= len(PLACEHOLDERS):
                raise
            value = PLACEHOLDERS[tried.get(index, 0)]
            tried[index] = tried.get(index, 0) + 1
            name, sep, _ = original[index].partition("=")
            words[index] = f"{name}={value}" if sep and name.startswith("-") else value


def _variable_value_of(words: list[str], param) -> int | None:
    """The index of the word that gives `param` a shell variable as its value, if any."""
    opts = set(getattr(param, "opts", None) or ()) | set(getattr(param, "secondary_opts", None) or ())
    for index, word in enumerate(words):
        name, sep, value = word.partition("=")
        if sep and name in opts and "$" in value:
            return index
        if word in opts and index + 1 < len(words) and "$" in words[index + 1]:
            return index + 1
    return None


def check(text: str) -> list[list[str]]:
    """Parse every s1 command in shell text; the invocations found."""
    found = list(shell_invocations(text))
    for words in found:
        parse_script_example(words)
    return found


def code_blocks(markdown: str) -> list[str]:
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", markdown, re.S | re.M)
            if m.group(1) in ("bash", "sh", "shell")]


def test_there_are_scripts():
    names = {p.relative_to(EXAMPLES).as_posix() for p in SCRIPTS}
    assert {"recipe/01-collect.sh", "recipe/07-bench.sh", "recipe/s1.1.sh", "slurm/sft.slurm",
            "slurm/generate.slurm"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_commands_parse(path):
    found = check(path.read_text(encoding="utf-8"))
    assert found, f"{path.name} runs no s1 command"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_is_valid_bash(path):
    bash = shutil.which("bash")
    assert bash, "bash is needed to check the example scripts"
    result = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", [p for p in SCRIPTS if p.suffix == ".sh"], ids=lambda p: p.name)
def test_recipe_script_is_strict_and_executable(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert path.stat().st_mode & 0o111, f"{path.name} is not executable"


def test_readme_code_blocks_parse_and_name_real_files():
    text = README.read_text(encoding="utf-8")
    blocks = code_blocks(text)
    assert blocks, "examples/README.md has no bash code blocks"
    assert sum(len(check(block)) for block in blocks) >= 10
    for path in SCRIPTS:
        assert path.relative_to(EXAMPLES).as_posix() in text, f"examples/README.md does not mention {path.name}"
    for target in re.findall(r"\]\(([^)#\s]+)\)", text):
        if "://" not in target:
            assert (README.parent / target).exists(), f"examples/README.md links to a missing {target}"


def test_the_recipe_covers_the_whole_pipeline():
    found = [words for path in SCRIPTS for words in shell_invocations(path.read_text(encoding="utf-8"))]
    commands = {words[0] for words in found}
    assert {"collect", "generate", "grade", "classify-msc", "join", "select", "sft", "bench"} <= commands
    joined = [" ".join(words) for words in found]
    assert any("--recipe examples/s1-sources.toml" in line and "gpqa_diamond=" in line for line in joined)
    assert any(line.startswith("grade") and "--message-batches" in line for line in joined)
    assert any(line.startswith("grade") and "--count-tokens thinking" in line for line in joined)
    assert any(line.startswith("select") and "--mode random" in line for line in joined)
    assert any(line.startswith("generate") and "--shard" in line for line in joined)
    assert any(line.startswith("sft") and "hf:Qwen/Qwen2.5-32B-Instruct" in line for line in joined)
    assert any("s1K-1.1" in line for line in joined)


def _option(words: list[str], name: str) -> str | None:
    """The value given to option `name` in an invocation's words (`--name value` or `--name=value`)."""
    for index, word in enumerate(words):
        if word == name and index + 1 < len(words):
            return words[index + 1]
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


def _select_defaults() -> set[str]:
    """The feature columns `s1 select` reads when given no column options."""
    params = {p.name: p.default for p in ROOT.commands["select"].params}
    return {*params["easy_if"].split(","), params["length_column"], params["domain_column"],
            params["trace_correct_column"]}


def test_the_features_are_joined_onto_the_untouched_pool():
    """Steps 2-5: every attempt, grade and label run writes a table of its own and renames nothing;
    s1 join brings back onto the pool exactly the columns s1 select reads by default, each from the
    run that made it, and s1 select then runs on the joined table with no column options."""
    recipe = {path.name: list(shell_invocations(path.read_text(encoding="utf-8")))
              for path in SCRIPTS if path.parent.name == "recipe"}
    steps = [words for name in ("02-generate.sh", "03-grade.sh", "04-classify.sh") for words in recipe[name]]
    pool = "$WORK/pool.parquet"
    for words in steps:
        if words[0] in ("generate", "grade"):
            assert "--map" not in words and "-m" not in words, f"a rename in s1 {' '.join(words)}"
        assert pool not in words[2:3], f"s1 {' '.join(words)} writes the pool"
    made: dict[str, tuple[str, set[str]]] = {}  # table -> (its command, the feature columns it adds)
    for words in steps:
        if words[0] == "grade":
            columns = {f"{_option(words, '--name')}_correct"}
            columns |= {f"{c}_tokens" for c in [_option(words, "--count-tokens")] if c}
            made[words[2]] = ("grade", columns)
        elif words[0] == "classify-msc" and "--compare" not in words:
            made[words[2]] = ("classify-msc", {"msc", "msc_name", "msc_detail"})
    assert {"$WORK/attempts/qwen7b.jsonl", "$WORK/attempts/qwen32b.jsonl", pool} == {
        words[1] for words in steps if words[0] == "grade"}

    select_step = recipe["05-select.sh"]
    joins = [words for words in select_step if words[0] == "join"]
    assert joins and joins[0][1] == pool, "the first join starts from the pool"
    assert all(words[1] == "-" for words in joins[1:]) and all(words[3] == "-" for words in joins[:-1])
    joined: set[str] = set()
    for words in joins:
        right, columns = words[2], set(_option(words, "--columns").split(","))
        assert right in made, f"s1 join reads {right}, which no earlier step writes"
        assert columns <= made[right][1], f"{right} does not have {columns - made[right][1]}"
        assert not columns & joined, f"{columns & joined} joined twice"
        joined |= columns
    assert _select_defaults() <= joined
    selects = [words for words in select_step if words[0] == "select"]
    assert selects and all(words[1] == joins[-1][3] for words in selects)
    for words in selects:
        assert not {"--easy-if", "--length-column", "--domain-column", "--trace-correct-column"} & set(words)


def test_a_wrong_option_or_command_fails():
    for bad in ("s1 select a.jsonl b.jsonl --no-such-option 1",
                "s1 no-such-command a b",
                "s1 grade a.jsonl b.jsonl --judge rule --name x \\\n  --max-cost \"$MAX_COST\" --nope",
                "s1 select a.jsonl",  # a missing argument
                "s1 select a.jsonl b.jsonl c.jsonl",  # one too many
                "s1 generate in.jsonl out.jsonl --think-start '<|im_start|>' --max-answer-tokens 1",  # no --model
                "accelerate launch --config_file x.yaml -m s1cli.cli sft a b --model hf:m --no-such-flag",
                "srun bash -c 'accelerate launch -m s1cli.cli sft a b --model hf:m --epoch 3' bash",
                "#   s1 bench runs/x --budgetz 1,2"):
        with pytest.raises((AssertionError, typer.TyperException)):
            check(bad)


def test_a_real_script_with_a_misspelt_option_fails():
    text = (EXAMPLES / "recipe" / "05-select.sh").read_text(encoding="utf-8")
    assert "--report" in text
    with pytest.raises(typer.TyperException, match="--reportt"):
        check(text.replace("--report", "--reportt"))
    sft = (EXAMPLES / "slurm" / "sft.slurm").read_text(encoding="utf-8")
    with pytest.raises(typer.TyperException, match="--gradient-checkpointin"):
        check(sft.replace("--gradient-checkpointing", "--gradient-checkpointin"))


def test_variables_stand_for_values():
    check('s1 grade "$WORK/a.jsonl" "$WORK/b.jsonl" --judge "$JUDGE" --name x --message-batches --max-cost "$MAX_COST"')
    check('s1 select "$IN" "$OUT" --size "$SIZE" --seed=$SEED "$@"')
    check('s1 grade a.jsonl b.jsonl --judge rule --name x --max-tokens "$N"')  # at least 16: a later value
    for literal in ("--max-cost lots", "--max-tokens 1"):  # not variables: refused as at run time
        with pytest.raises(typer.TyperException):
            check(f"s1 grade a.jsonl b.jsonl --judge rule --name x {literal}")


def test_extraction():
    text = """#!/usr/bin/env bash
# prose that mentions s1 but is not a command
#   s1 data export aime24 \\
#     x.jsonl
A=1 s1 generate "$IN" out.jsonl --model hf:m \\
  --think-start '<|im_start|>assistant' "$@" | wc -l > f 2>&1 && n=$(s1 convert a.jsonl -)
if [[ -n ${X:-} ]]; then s1 select a.jsonl b.jsonl; fi
srun --nodes=2 bash -c 'accelerate launch --config_file c.yaml \\
  -m s1cli.cli sft "$T" "$O" --model hf:x "$@"' bash "$@"
python -m s1cli.cli schema &
echo "s1 select is only text here"
"""
    assert list(shell_invocations(text)) == [
        ["data", "export", "aime24", "x.jsonl"],
        ["generate", "$IN", "out.jsonl", "--model", "hf:m", "--think-start", "<|im_start|>assistant"],
        ["convert", "a.jsonl", "-"],
        ["select", "a.jsonl", "b.jsonl"],
        ["sft", "$T", "$O", "--model", "hf:x"],
        ["schema"],
    ]
    check(text)
    # Plain pipelines read the same as the help-epilog reader does.
    simple = "s1 data export aime24 - | s1 convert - x.jsonl --limit 4"
    assert list(shell_invocations(simple)) == list(example_invocations(simple))
