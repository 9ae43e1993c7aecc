"""`s1 generate` end to end on the tiny models: output contract, reproducibility, resume after a
kill, sharding, and bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from s1cli.table import read_rows, write_table

from .conftest import run_s1, s1_process, subprocess_env

OUTPUT_COLUMNS = {"model", "sample", "budget", "thinking", "response", "thinking_tokens", "response_tokens",
                  "waits", "finish", "seconds"}


@pytest.fixture
def questions(tmp_path):
    rows = [{"id": f"q{i}", "question": q, "answer": str(i), "metadata": {"n": i}} for i, q in enumerate(
        ["What is 1 + 1?", "Sum 1..100?", "Let x = 3. Find x^2.", "Hi", "Primes below 30?", "Simplify 6/8."])]
    path = tmp_path / "questions.jsonl"
    write_table(path, rows)
    return path


def without_time(rows):
    return sorted(({k: v for k, v in row.items() if k != "seconds"} for row in rows),
                  key=lambda r: (r["id"], r["sample"]))


def test_writes_the_contract_columns_and_keeps_input_columns(tmp_path, questions, stopper_model):
    out = tmp_path / "gens.parquet"
    result = run_s1("generate", questions, out, "--model", f"hf:{stopper_model}", "--max-thinking-tokens", "50",
                    "--num-waits", "2", "--max-answer-tokens", "20", "--answer-prefix", "Final Answer:")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    assert len(rows) == 6
    for row in rows:
        assert set(row) >= OUTPUT_COLUMNS
        assert row["metadata"] == {"n": int(row["answer"])}
        assert row["model"] == f"hf:{stopper_model}" and row["budget"] == 50 and row["sample"] == 0
        assert row["thinking_tokens"] <= 50 and row["response_tokens"] <= 20
        assert row["finish"] in ("stop", "length", "forced", "forced+length")
        assert row["response"].startswith("Final Answer:")
        assert row["waits"] <= 2 and row["thinking"].count("Wait") >= row["waits"]
    assert any(row["waits"] == 2 for row in rows)
    assert "wrote 6 rows" in result.stderr and "tok/s" in result.stderr


def test_finish_records_a_forced_thinking_whose_answer_hit_its_limit(tmp_path, questions, tiny_model):
    out = tmp_path / "gens.jsonl"
    # The random tiny model never ends thinking by itself: every trace is capped, every answer cut.
    result = run_s1("generate", questions, out, "--model", f"hf:{tiny_model}", "--max-thinking-tokens", "5",
                    "--max-answer-tokens", "3")
    assert result.exit_code == 0, result.stderr
    rows = read_rows(out)
    assert [(r["thinking_tokens"], r["response_tokens"], r["finish"]) for r in rows] == [(5, 3, "forced+length")] * 6


def test_n_samples_with_a_seed_are_reproducible(tmp_path, questions, tiny_model):
    args = ["--model", f"hf:{tiny_model}", "--max-thinking-tokens", "12", "--max-answer-tokens", "4", "--n", "4",
            "--seed", "0", "--temperature", "0.8", "--batch-size", "5"]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run_s1("generate", questions, first, *args).exit_code == 0
    assert run_s1("generate", questions, second, *args).exit_code == 0
    a, b = read_rows(first), read_rows(second)
    assert len(a) == 24 and sorted({r["sample"] for r in a}) == [0, 1, 2, 3]
    assert without_time(a) == without_time(b)
    per_question = {}
    for row in a:
        per_question.setdefault(row["id"], set()).add(row["thinking"])
    assert all(len(texts) > 1 for texts in per_question.values()), "samples differ from each other"
    other = tmp_path / "c.jsonl"
    assert run_s1("generate", questions, other, *args[:-4], "--seed", "1", "--temperature", "0.8").exit_code == 0
    assert without_time(read_rows(other)) != without_time(a)


def test_shards_concatenate_to_the_whole(tmp_path, questions, tiny_model):
    args = ["--model", f"hf:{tiny_model}", "--max-thinking-tokens", "10", "--max-answer-tokens", "3",
            "--dtype", "float64", "--n", "2"]
    whole = tmp_path / "whole.jsonl"
    assert run_s1("generate", questions, whole, *args).exit_code == 0
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}.jsonl"
        assert run_s1("generate", questions, part, *args, "--shard", f"{i}/3").exit_code == 0
        parts.append(read_rows(part, allow_empty=True))
    assert sum(len(p) for p in parts) == 12
    assert {r["id"] for r in parts[0]}.isdisjoint({r["id"] for r in parts[1]})
    assert without_time([r for p in parts for r in p]) == without_time(read_rows(whole))


def test_rerun_resumes_and_skips_written_rows(tmp_path, questions, tiny_model):
    out = tmp_path / "g.jsonl"
    args = ["--model", f"hf:{tiny_model}", "--max-thinking-tokens", "8", "--max-answer-tokens", "2"]
    assert run_s1("generate", questions, out, *args).exit_code == 0
    before = out.read_text()
    again = run_s1("generate", questions, out, *args)
    assert again.exit_code == 0 and "nothing to generate" in again.stderr
    assert out.read_text() == before
    more = run_s1("generate", questions, out, *args, "--n", "2")
    assert more.exit_code == 0 and "resuming: 6 rows" in more.stderr
    rows = read_rows(out)
    assert len(rows) == 12 and out.read_text().startswith(before)
    fresh = run_s1("generate", questions, out, *args, "--overwrite")
    assert fresh.exit_code == 0 and len(read_rows(out)) == 6


def test_a_killed_run_resumes_without_duplicates(tmp_path, questions, tiny_model):
    args = ["--model", f"hf:{tiny_model}", "--max-thinking-tokens", "300", "--max-answer-tokens", "100",
            "--batch-size", "1", "--dtype", "float64"]
    reference = tmp_path / "reference.jsonl"
    assert run_s1("generate", questions, reference, *args).exit_code == 0
    out = tmp_path / "killed.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "s1cli.cli", "generate", str(questions), str(out), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env())
    deadline = time.monotonic() + 120
    while not (out.exists() and out.read_text().count("\n") >= 2):
        assert proc.poll() is None, "finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)  # polling the child's output file; bounded by the deadline
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert 2 <= len(kept) < 6
    done = s1_process("generate", questions, out, *args)
    assert done.returncode == 0, done.stderr
    assert without_time(read_rows(out)) == without_time(read_rows(reference))


def test_a_sampled_run_resumed_after_a_kill_writes_what_an_uninterrupted_run_does(tmp_path, questions, tiny_model):
    # float32 (the CPU default): a sequence's logits change in their last bits with its batch, so
    # before jobs were decoded in fixed groups this seed's resume from row 10 changed a later row.
    args = ["--model", f"hf:{tiny_model}", "--max-thinking-tokens", "48", "--max-answer-tokens", "8", "--n", "3",
            "--temperature", "0.7", "--seed", "11", "--batch-size", "4"]
    reference = tmp_path / "reference.jsonl"
    assert run_s1("generate", questions, reference, *args).exit_code == 0
    lines = reference.read_text().splitlines(keepends=True)
    assert len(lines) == 18
    untimed = lambda text: [{k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
                            for line in text.splitlines()]
    for kept in (4, 10, 17):
        out = tmp_path / f"cut{kept}.jsonl"
        out.write_text("".join(lines[:kept]) + lines[kept][:25])  # as a kill leaves it: a partial last line
        resumed = run_s1("generate", questions, out, *args)
        assert resumed.exit_code == 0 and f"resuming: {kept} rows" in resumed.stderr
        # Byte for byte but the timings: the same rows, in the same order.
        assert untimed(out.read_text()) == untimed(reference.read_text()), f"resumed after {kept} rows"


@pytest.mark.parametrize(("args", "message"), [
    (["--question-column", "problem"], "questions.jsonl:1: column 'problem' is missing"),
    (["--prompt-column", "problem"], "questions.jsonl:1: column 'problem' is missing"),  # the old name
    (["--format", "o1"], "unknown thinking format 'o1'; choose from auto, s1, r1, qwen3, custom"),
    (["--max-thinking-tokens", "0"], "--max-thinking-tokens must be at least 1, got 0"),
    (["--n", "0"], "--n must be at least 1, got 0"),
    (["--shard", "3/3"], "--shard '3/3': expected I/N with 0 <= I < N, e.g. --shard 0/4"),
    (["--temperature", "-1"], "--temperature must be 0 or more, got -1.0"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, questions, tiny_model, args, message):
    out = tmp_path / "out.jsonl"
    result = run_s1("generate", questions, out, "--model", f"hf:{tiny_model}", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith(message)
    assert not out.exists()


@pytest.mark.parametrize(("model", "args", "message"), [
    ("hf", ["--tensor-parallel-size", "2"], "--tensor-parallel-size applies to vllm: models, not hf:"),
    ("hf", ["--enforce-eager"], "--enforce-eager applies to vllm: models, not hf:"),
    ("hf", ["--engine-arg", "max_num_seqs=4"], "--engine-arg applies to vllm: models, not hf:"),
    ("anthropic", ["--max-model-len", "4096"], "--max-model-len applies to vllm: models, not anthropic:claude-x"),
    ("vllm", ["--engine-arg", "max_num_seqs"], "--engine-arg 'max_num_seqs': expected KEY=VALUE, e.g. --engine-arg "
                                               "max_num_seqs=64"),
    ("vllm", ["--engine-arg", "tensor-parallel-size=2"],
     "--engine-arg tensor_parallel_size: use --tensor-parallel-size"),
    ("vllm", ["--engine-arg", "dtype=half"], "--engine-arg dtype: use --dtype"),
    ("vllm", ["--engine-arg", "logits_processors=[]"], "--engine-arg logits_processors: s1 sets it (budget forcing "
                                                       "runs in its own logits processor)"),
    ("vllm", ["--engine-arg", "max_num_seqs=4", "--engine-arg", "max-num-seqs=8"], "--engine-arg max_num_seqs: given "
                                                                                    "twice"),
    ("vllm", ["--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization must be in (0, 1], got 1.5"),
    ("vllm", ["--tensor-parallel-size", "0"], "--tensor-parallel-size must be at least 1, got 0"),
])
def test_vllm_engine_options_are_checked_before_anything_loads(tmp_path, questions, tiny_model, model, args, message):
    ref = {"hf": f"hf:{tiny_model}", "vllm": f"vllm:{tiny_model}", "anthropic": "anthropic:claude-x"}[model]
    out = tmp_path / "out.jsonl"
    result = run_s1("generate", questions, out, "--model", ref, *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert not out.exists()


def test_a_missing_model_is_one_line_and_writes_nothing(tmp_path, questions):
    done = s1_process("generate", questions, "out.jsonl", "--model", "hf:./models/nowhere", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --model hf:./models/nowhere: no such model directory"
    assert not (tmp_path / "out.jsonl").exists()
    # A name shaped like a hub id is looked up on the hub, which is out of reach here.
    done = s1_process("generate", questions, "out.jsonl", "--model", "hf:nobody/nothing", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("error: --model hf:nobody/nothing: cannot load (")
    assert not (tmp_path / "out.jsonl").exists()
    done = s1_process("generate", questions, "out.jsonl", "--model", "vllm:" + str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.jsonl").exists()
