"""Every `s1` example in the README and docs/ runs, for real, against small tables laid out as the
published datasets ship (tests/releases.py) and as our own steps write them.

`test_docs.py` checks that each example *parses*; this runs it, so an example that would fail on the
real table (a column the release does not have, a layout a command cannot read) fails here first.
Each example runs in its own folder holding every file the examples name. What cannot run offline on
two CPU cores is swapped for its local stand-in, and only that:

- hub and vLLM models (`hf:Qwen/...`, `vllm:...`) become the tiny model (`hf:models/...` on disk),
  and the vLLM engine options (`--tensor-parallel-size 8`, ...) go with the vLLM model;
- `anthropic:` models and OpenAI-compatible chat servers talk to a fake API on 127.0.0.1, and the
  `openai:` completions engine to a completion server backed by the tiny model;
- `hf:` datasets become a local table in the same release layout;
- generation is kept short: `bench` examples get `--limit 1` and budgets above 64 tokens become
  64, and the bundled-eval names in generate examples are three-row tables.

Examples that need the hub in a way no stand-in covers (a recipe of hub datasets) are listed in
`NEEDS_THE_HUB` with the reason.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from fakes.anthropic_api import KEY, FakeAPI
from s1cli.bundled import load_table, table_path
from s1cli.table import read_rows, write_table

from .cli_examples import shell_invocations
from .conftest import REPO, run_s1
from .releases import QUESTIONS, write_releases
from .synthetic import write_gpqa
from .test_docs import PAGES, bash_blocks

DOCS = [REPO / "README.md", *PAGES]
NEEDS_THE_HUB = {
    ("collect", "--recipe", "examples/s1-sources.toml"): "the recipe names the paper's 16 hub datasets",
}
SMALL_BUDGET = 64


def examples() -> list[tuple[str, list[list[str]]]]:
    """(doc name, the commands of one shell line): a pipeline's commands run in order, stdout to stdin."""
    found = []
    for doc in DOCS:
        for block in bash_blocks(doc.read_text(encoding="utf-8")):
            for line in _joined_lines(block):
                commands = list(shell_invocations(line))
                if commands:
                    found.append((doc.name, commands))
    return found


def _joined_lines(block: str) -> list[str]:
    lines = block.replace("\\\n", " ").splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


# ---------------------------------------------------------------------------------------- the folder


def contract_rows() -> list[dict]:
    """Rows as our own steps write them: a pool with attempts, grades, token counts and labels."""
    rows = []
    for i, (question, answer, source, _) in enumerate(QUESTIONS):
        rows.append({"id": f"q{i}", "question": question, "answer": answer, "solution": f"So it is {answer}.",
                     "source": source, "domain": "math", "metadata": {"n": i},
                     "thinking": f"Think about {answer}.", "response": f"The answer is $\\boxed{{{answer}}}$.",
                     "thinking_tokens": 300 + 800 * i, "msc": ["11", "05", "08", "51"][i % 4],
                     "qwen7b_correct": i == 0, "qwen32b_correct": False, "qwq_correct": False,
                     "gemini_correct": True, "model": "tiny", "budget": None})
    return rows


@pytest.fixture(scope="module")
def template(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("examples")
    for name in ("tiny", "s1-tiny", "s1"):
        shutil.copytree(tiny_model, root / "models" / name)
    write_releases(root)
    rows = contract_rows()
    for name in ("pool.parquet", "pool.jsonl", "labelled.parquet", "labelled.jsonl", "graded.parquet", "s1k.parquet",
                 "s1k.jsonl", "attempts.jsonl", "attempts.parquet", "qwen7b.parquet", "a.jsonl", "b.csv", "q.jsonl"):
        write_table(root / name, rows)
    write_table(root / "gens.parquet", rows)
    for name in ("qwen7b.graded.parquet", "qwen7b.graded.jsonl"):
        write_table(root / name, [{"id": r["id"], "qwen7b_correct": r["qwen7b_correct"]} for r in rows])
    write_table(root / "labels.jsonl", [{"id": r["id"], "msc": r["msc"]} for r in rows])
    for task in ("math500", "aime24"):
        small = load_table(task)[:3]
        write_table(root / f"{task}.jsonl", small)
        write_table(root / f"{task}.parquet", small)
    shutil.copy(table_path("pool_sample"), root / "pool_sample.jsonl")
    write_gpqa(root / "gpqa.csv")
    write_gpqa(root / "gpqa_diamond.csv")
    (root / "examples").mkdir()
    shutil.copytree(REPO / "examples" / "accelerate", root / "examples" / "accelerate")
    for run in ("s1.1", "qwen"):  # runs for --compare
        result = run_s1("bench", root / "runs" / run, "--model", f"hf:{root / 'models' / 'tiny'}", "--tasks", "math500",
                        "--limit", "1", "--budgets", "8", "--label", run)
        assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def servers(tiny_model):
    from fakes.openai_server import CompletionServer
    from s1cli.engines.hf import HFEngine

    engine = HFEngine.load(str(tiny_model), dtype="float32", device="cpu")
    with FakeAPI() as api, CompletionServer(engine) as completions:
        yield api, completions
    engine.close()


# ---------------------------------------------------------------------------------------- stand-ins


# The vLLM engine's own options and how many values each takes: dropped with the vLLM model they configure.
VLLM_ENGINE_OPTIONS = {"--tensor-parallel-size": 1, "--data-parallel-size": 1, "--max-model-len": 1,
                       "--gpu-memory-utilization": 1, "--engine-arg": 1, "--enforce-eager": 0}


def without_vllm_options(words: list[str]) -> list[str]:
    out, skip = [], 0
    for word in words:
        if skip:
            skip -= 1
        elif word in VLLM_ENGINE_OPTIONS:
            skip = VLLM_ENGINE_OPTIONS[word]
        else:
            out.append(word)
    return out


def local_stand_ins(words: list[str], api: FakeAPI, completions) -> list[str]:
    out = without_vllm_options(words) if any(w.startswith("vllm:") for w in words) else list(words)
    command = next((w for w in out if not w.startswith("-")), "")
    hosted = any(w.startswith(("anthropic:", "openai-chat:")) for w in out)
    for i, word in enumerate(out):
        previous = out[i - 1] if i else ""
        if re.fullmatch(r"(hf|vllm):(?!models/).+", word) and previous != "--tokenizer":
            out[i] = "hf:models/tiny"
        elif word.startswith("vllm:models/"):
            out[i] = "hf:" + word.removeprefix("vllm:")
        elif "hf:AI-MO/NuminaMath-CoT" in word:
            out[i] = re.sub(r"hf:AI-MO/NuminaMath-CoT\S*", "NuminaMath-CoT.parquet", word)
        elif previous == "--base-url":
            out[i] = completions.base_url if "openai:s1" in out else f"{api.url}/v1"
            if "generativelanguage.googleapis.com" in word:
                out += ["--thinking-api", "gemini"]  # the fake's URL does not say it is Gemini's
        elif "$i" in word:
            out[i] = word.replace("$i", "0")
    if hosted:
        if "--base-url" not in out:
            out += ["--base-url", api.url]
        return out
    if command == "bench" and "--model" in out:
        _at_most(out, "--limit", 2, default=1)
        if "--budgets" in out:
            at = out.index("--budgets") + 1
            clipped = [str(SMALL_BUDGET) if b == "none" else str(min(int(b), SMALL_BUDGET)) for b in out[at].split(",")]
            out[at] = ",".join(dict.fromkeys(clipped))
        _at_most(out, "--max-answer-tokens", 16, default=16)
    if command == "generate":
        _at_most(out, "--max-thinking-tokens", SMALL_BUDGET, default=SMALL_BUDGET)
        _at_most(out, "--max-answer-tokens", 16, default=16)
    return out


def _at_most(words: list[str], option: str, limit: int, *, default: int) -> None:
    if option in words:
        at = words.index(option) + 1
        words[at] = str(min(int(words[at]), limit))
    else:
        words += [option, str(default)]


def _key(words: list[str]) -> tuple[str, ...]:
    return tuple(w for w in words if w in ("collect", "--recipe", "examples/s1-sources.toml"))


@pytest.mark.parametrize(("doc", "commands"), examples(), ids=lambda v: v if isinstance(v, str) else
                         " | ".join(" ".join(c)[:60] for c in v))
def test_every_doc_example_runs(doc, commands, template, servers, tmp_path, monkeypatch):
    api, completions = servers
    needs_the_hub = [NEEDS_THE_HUB[key] for key in map(_key, commands) if key in NEEDS_THE_HUB]
    if needs_the_hub:
        pytest.skip(needs_the_hub[0])
    work = tmp_path / "work"
    shutil.copytree(template, work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("S1_CACHE_DIR", str(tmp_path / "cache"))
    stdin = Path("math500.jsonl").read_text(encoding="utf-8")
    for words in commands:
        args = local_stand_ins(words, api, completions)
        if args[:1] == ["sft"] and "--resume" not in args:
            shutil.rmtree(work / args[2], ignore_errors=True)  # a model folder other examples load from
        if args[:1] == ["bench"] and "--model" in args:
            shutil.rmtree(work / args[1], ignore_errors=True)  # a run other examples compare against
        result = run_s1(*args, input=stdin)
        assert result.exit_code == 0, f"{doc}: s1 {' '.join(words)}\n  ran as: s1 {' '.join(args)}\n{result.stderr}"
        stdin = result.stdout
    written = [p for p in work.rglob("*") if p.is_file() and not (template / p.relative_to(work)).exists()]
    for path in written:
        if path.suffix in (".jsonl", ".parquet", ".csv") and "cache" not in path.name and path.stat().st_size:
            read_rows(path, unique=False, allow_empty=True)  # every table an example writes reads back
