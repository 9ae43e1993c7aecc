"""`s1 sft` on the tiny model: packed = unpacked (no cross-contamination), memorising 8 rows then
generating their answers, exact resume after an interrupt, several processes = one, the preflight
report, OUTDIR rules, and bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from s1cli.hardware import native_cpu_bf16
from s1cli.table import read_rows, write_table
from s1cli.thinking import FORMATS
from s1cli.training.config import SFTConfig
from s1cli.training.data import IGNORE, build_examples
from s1cli.training.trainer import CHECKPOINTS, Reporter, train

from .conftest import REPO, run_s1, subprocess_env


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny model gains nothing from threads, and on a shared, busy CPU OpenMP threads that wait on
    each other make a step ten times slower: one thread keeps these tests fast and steady."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def quiet_env() -> dict[str, str]:
    return {**subprocess_env(), "OMP_NUM_THREADS": "1"}


QUESTIONS = [(3, 4), (5, 2), (6, 7), (8, 1), (9, 9), (4, 6), (2, 8), (7, 5)]


def training_rows() -> list[dict]:
    return [{"id": f"q{i}", "question": f"What is {a} + {b}?", "thinking": f"Add {a} and {b}. The sum is {a + b}.",
             "response": f"\\boxed{{{a + b}}}"} for i, (a, b) in enumerate(QUESTIONS)]


def training_examples(tokenizer):
    """The training rows as `s1 sft --block-size 1024` prepares them (s1 format)."""
    _, prepared = build_examples(training_rows(), tokenizer, FORMATS["s1"], block_size=1024, long_rows="truncate",
                                 source="train.jsonl")
    return prepared.examples


@pytest.fixture
def rows_file(tmp_path) -> Path:
    path = tmp_path / "train.jsonl"
    write_table(path, training_rows())
    return path


def metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def sft(rows_file, out, tiny_model, *extra):
    result = run_s1("sft", rows_file, out, "--model", f"hf:{tiny_model}", "--block-size", "1024", *extra)
    assert result.exit_code == 0, result.stderr
    return result


def reference_loss(model_dir, examples, average) -> float:
    """The loss of a batch computed the plain way: each example alone through a stock sdpa model."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    per_example = []
    with torch.no_grad():
        for ex in examples:
            logits = model(input_ids=torch.tensor([ex.ids])).logits[0]
            targets = torch.tensor(ex.targets())
            losses = torch.nn.functional.cross_entropy(logits, targets, ignore_index=IGNORE, reduction="none")
            per_example.append((losses.sum().item(), int((targets != IGNORE).sum())))
    if average == "token":
        return sum(s for s, _ in per_example) / sum(n for _, n in per_example)
    return sum(s / n for s, n in per_example) / len(per_example)


@pytest.mark.parametrize("average", ["token", "sequence"])
def test_packed_and_unpacked_training_give_the_same_losses(tmp_path, rows_file, tiny_model, average):
    """The proof of no cross-contamination: one packed row of 8 examples, 8 one-example passes, and
    2-example passes give the same loss, step after step (fp32), equal to a plain per-example loss."""
    common = ("--batch-size", "8", "--max-steps", "3", "--lr", "1e-2", "--warmup-ratio", "0", "--loss-average", average)
    sft(rows_file, tmp_path / "packed", tiny_model, *common)
    sft(rows_file, tmp_path / "single", tiny_model, *common, "--no-packing")
    sft(rows_file, tmp_path / "pairs", tiny_model, *common, "--no-packing", "--micro-batch-size", "2")
    packed, single, pairs = (metrics(tmp_path / name) for name in ("packed", "single", "pairs"))
    for a, b, c in zip(packed, single, pairs, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5) and a["loss"] == pytest.approx(c["loss"], abs=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], abs=1e-5)
    assert packed[2]["loss"] < packed[0]["loss"] - 0.1  # the steps in between really trained
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    examples = training_examples(tokenizer)
    assert packed[0]["loss"] == pytest.approx(reference_loss(tiny_model, examples, average), abs=1e-5)


def test_gradient_checkpointing_recomputes_the_same_step(tmp_path, rows_file, tiny_model, recwarn):
    common = ("--batch-size", "4", "--max-steps", "3", "--lr", "1e-2", "--warmup-ratio", "0")
    sft(rows_file, tmp_path / "kept", tiny_model, *common)
    recomputed = sft(rows_file, tmp_path / "recomputed", tiny_model, *common, "--gradient-checkpointing")
    for a, b in zip(metrics(tmp_path / "kept"), metrics(tmp_path / "recomputed"), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    assert "Warning" not in recomputed.stderr
    assert not [w for w in recwarn if "checkpointing" in str(w.message)]  # no deprecated-name FutureWarning


def run_record(out: Path) -> dict:
    return json.loads((out / "s1_sft.json").read_text())


def test_compiled_layers_train_like_eager_ones(tmp_path, rows_file, tiny_model):
    """--compile (torch.compile of each decoder layer) changes how a step is computed, not what; a short
    run with the default (auto) stays eager."""
    common = ("--batch-size", "4", "--max-steps", "3", "--lr", "1e-2", "--warmup-ratio", "0")
    sft(rows_file, tmp_path / "eager", tiny_model, *common)
    sft(rows_file, tmp_path / "compiled", tiny_model, *common, "--compile")
    eager, compiled = metrics(tmp_path / "eager"), metrics(tmp_path / "compiled")
    for a, b in zip(eager, compiled, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)
    assert compiled[2]["loss"] < compiled[0]["loss"] - 0.1
    assert run_record(tmp_path / "compiled")["config"]["compile"] == "on"
    assert run_record(tmp_path / "compiled")["result"]["compiled_from_step"] == 1
    assert run_record(tmp_path / "eager")["config"]["compile"] == "auto"
    assert run_record(tmp_path / "eager")["result"]["compiled_from_step"] is None  # 3 steps: not worth it


def test_auto_compiles_once_the_first_steps_show_the_run_is_long(tmp_path, rows_file, tiny_model, monkeypatch):
    """The default measures two steps, then compiles when the rest would take longer than the threshold
    (0 here, so that 5 steps qualify); the compiled steps train as the eager ones do."""
    common = ("--batch-size", "4", "--max-steps", "5", "--lr", "1e-2", "--warmup-ratio", "0")
    sft(rows_file, tmp_path / "eager", tiny_model, *common, "--no-compile")
    monkeypatch.setenv("S1_AUTO_COMPILE_SECONDS", "0")
    result = sft(rows_file, tmp_path / "auto", tiny_model, *common)
    assert "torch.compile: auto: each decoder layer from step 3 if the remaining steps would take 0 s" in result.stderr
    assert "compiling each decoder layer: the remaining 3 steps would take ~" in result.stderr
    assert run_record(tmp_path / "auto")["result"]["compiled_from_step"] == 3
    assert run_record(tmp_path / "eager")["result"]["compiled_from_step"] is None
    for a, b in zip(metrics(tmp_path / "eager"), metrics(tmp_path / "auto"), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-3)


def sft_process(rows_file, out, tiny_model, env: dict, *extra) -> subprocess.CompletedProcess:
    """`s1 sft` in its own process; ``env`` entries set to None are removed."""
    env = {k: v for k, v in {**quiet_env(), **env}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "s1cli.cli", "sft", str(rows_file), str(out), "--model",
                           f"hf:{tiny_model}", "--block-size", "1024", "--batch-size", "4", *extra],
                          capture_output=True, text=True, env=env)


def test_auto_without_a_cpp_compiler_trains_eagerly_and_says_why(tmp_path, rows_file, tiny_model):
    env = {"CXX": str(tmp_path / "no-such-g++"), "S1_AUTO_COMPILE_SECONDS": "0"}
    result = sft_process(rows_file, tmp_path / "out", tiny_model, env, "--max-steps", "4")
    assert result.returncode == 0, result.stderr
    assert "torch.compile: no (no C++ compiler for torch.compile: set $CXX or install g++" in result.stderr
    assert run_record(tmp_path / "out")["result"]["compiled_from_step"] is None


def test_auto_compile_that_fails_reruns_the_step_eagerly(tmp_path, rows_file, tiny_model):
    """A compiler that is there but fails (here: one that answers --version and nothing else) costs a
    line, not the run: the step that failed runs again eagerly and trains as an eager run does."""
    broken = tmp_path / "broken-g++"
    broken.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "g++ (broken) 1.0" && exit 0\nexit 1\n')
    broken.chmod(0o755)
    env = {"CXX": str(broken), "S1_AUTO_COMPILE_SECONDS": "0", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    common = ("--max-steps", "4", "--lr", "1e-2", "--warmup-ratio", "0")
    result = sft_process(rows_file, tmp_path / "auto", tiny_model, env, *common)
    assert result.returncode == 0, result.stderr
    assert "torch.compile failed (" in result.stderr and "): training on without it" in result.stderr
    assert run_record(tmp_path / "auto")["result"]["compiled_from_step"] is None
    sft(rows_file, tmp_path / "eager", tiny_model, "--block-size", "1024", "--batch-size", "4", *common)
    for a, b in zip(metrics(tmp_path / "eager"), metrics(tmp_path / "auto"), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)


def test_compiled_kernels_of_one_cpu_isa_are_not_loaded_under_another(tmp_path, rows_file, tiny_model):
    """Under torch 2.13 a run with ATEN_CPU_CAPABILITY=avx2 and then one without, sharing inductor's
    default cache, crashed the second; s1 keeps one cache per ISA."""
    common = ("--max-steps", "1", "--compile")
    for isa in ("avx2", "default"):
        env = {"TMPDIR": str(tmp_path), "TORCHINDUCTOR_CACHE_DIR": None, "ATEN_CPU_CAPABILITY": None}
        env |= {"ATEN_CPU_CAPABILITY": "avx2"} if isa == "avx2" else {}
        result = sft_process(rows_file, tmp_path / isa, tiny_model, env, *common)
        assert result.returncode == 0, result.stderr[-2000:]
    (default,) = tmp_path.glob("torchinductor_*")
    assert {p.name for p in default.iterdir()} >= {"s1-avx2", f"s1-{torch.backends.cpu.get_cpu_capability().lower()}"}


def test_compile_without_a_cpp_compiler_is_one_line_exit_2(tmp_path, rows_file, tiny_model):
    env = {**quiet_env(), "CXX": str(tmp_path / "no-such-g++"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "s1cli.cli", "-q", "sft", str(rows_file), str(tmp_path / "out"),
                             "--model", f"hf:{tiny_model}", "--block-size", "1024", "--max-steps", "1", "--compile"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --compile: torch.compile failed (") and line.endswith("run without --compile")


def test_no_shuffle_trains_on_the_rows_in_table_order(tmp_path, rows_file, tiny_model):
    """--no-shuffle: step 1 takes the table's first rows; by default it takes the seeded permutation's."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    examples = training_examples(tokenizer)
    common = ("--batch-size", "2", "--max-steps", "1", "--loss-average", "token")
    sft(rows_file, tmp_path / "ordered", tiny_model, *common, "--no-shuffle")
    sft(rows_file, tmp_path / "shuffled", tiny_model, *common)
    first_two = reference_loss(tiny_model, examples[:2], "token")
    assert metrics(tmp_path / "ordered")[0]["loss"] == pytest.approx(first_two, abs=1e-5)
    assert metrics(tmp_path / "shuffled")[0]["loss"] != pytest.approx(first_two, abs=1e-5)
    record = json.loads((tmp_path / "ordered" / "s1_sft.json").read_text())
    assert record["config"]["shuffle"] is False


def test_sixty_steps_memorise_eight_rows_and_generation_reproduces_their_answers(tmp_path, rows_file, tiny_model):
    out = tmp_path / "model"
    result = sft(rows_file, out, tiny_model, "--batch-size", "8", "--max-steps", "60", "--lr", "3e-3")
    assert "trained 60 steps" in result.stderr
    losses = [m["loss"] for m in metrics(out)]
    assert len(losses) == 60 and losses[-1] <= 0.2 * losses[0], losses
    first = metrics(out)[0]
    assert set(first) >= {"step", "epoch", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "seconds", "elapsed"}
    elapsed = [m["elapsed"] for m in metrics(out)]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= sum(m["seconds"] for m in metrics(out))
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "generation_config.json"):
        assert (out / name).exists(), name
    record = json.loads((out / "s1_sft.json").read_text())
    assert record["result"]["steps"] == 60 and record["config"]["lr"] == 3e-3

    gens = tmp_path / "gens.jsonl"
    generated = run_s1("generate", rows_file, gens, "--model", f"hf:{out}", "--max-thinking-tokens", "48",
                       "--max-answer-tokens", "16")
    assert generated.exit_code == 0, generated.stderr
    rows = {r["id"]: r for r in training_rows()}
    reproduced = [g for g in read_rows(gens)
                  if g["response"] == "Answer: " + rows[g["id"]]["response"] and g["finish"] == "stop"
                  and g["thinking"].strip() == rows[g["id"]]["thinking"]]
    assert len(reproduced) >= 6, [(g["thinking"], g["response"]) for g in read_rows(gens)]


class StopAfter(Reporter):
    def __init__(self, step: int) -> None:
        self.at = step

    def step(self, record: dict) -> None:
        if record["step"] == self.at:
            raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a run


def test_interrupt_then_resume_gives_the_same_losses_as_an_uninterrupted_run(tmp_path, rows_file, tiny_model):
    options = ("--batch-size", "4", "--max-steps", "10", "--lr", "5e-3")
    sft(rows_file, tmp_path / "whole", tiny_model, *options)
    whole = metrics(tmp_path / "whole")

    out = tmp_path / "stopped"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    examples = training_examples(tokenizer)
    config = SFTConfig.build(model=str(tiny_model), batch_size=4, max_steps=10, lr=5e-3, block_size=1024)
    with pytest.raises(KeyboardInterrupt):
        train(config, examples, tokenizer, out, reporter=StopAfter(4))
    assert [p.name for p in (out / CHECKPOINTS).iterdir()] == ["step-000004"]
    assert not (out / "model.safetensors").exists()

    # the same command again continues the run, as the interrupt message says (no --resume needed)
    resumed = sft(rows_file, out, tiny_model, *options)
    assert "resuming from" in resumed.stderr and "step 4 of 10" in resumed.stderr
    continued = metrics(out)
    assert [m["step"] for m in continued] == list(range(1, 11))
    for a, b in zip(continued, whole, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=0, abs=1e-6), (a, b)
        assert a["lr"] == b["lr"]

    again = sft(rows_file, out, tiny_model, *options, "--resume")
    assert "already finished" in again.stderr and "nothing to do" in again.stderr
    assert "already finished" in sft(rows_file, out, tiny_model, *options).stderr
    changed = run_s1("sft", rows_file, tmp_path / "whole", "--model", f"hf:{tiny_model}", "--block-size", "1024",
                     *options, "--overwrite", "--save-every", "3", "--keep-checkpoints", "2")
    assert changed.exit_code == 0, changed.stderr
    assert sorted(p.name for p in (tmp_path / "whole" / CHECKPOINTS).iterdir()) == ["step-000006", "step-000009"]


def test_resume_refuses_a_checkpoint_from_other_settings(tmp_path, rows_file, tiny_model):
    out = tmp_path / "run"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    examples = training_examples(tokenizer)
    config = SFTConfig.build(model=str(tiny_model), batch_size=4, max_steps=6, lr=5e-3, block_size=1024)
    with pytest.raises(KeyboardInterrupt):
        train(config, examples, tokenizer, out, reporter=StopAfter(2))
    result = run_s1("sft", rows_file, out, "--model", f"hf:{tiny_model}", "--block-size", "1024", "--batch-size", "4",
                    "--max-steps", "6", "--lr", "1e-3", "--resume")
    assert result.exit_code == 2
    assert "the checkpoint was trained with --lr 0.005, not 0.001" in result.stderr.strip().splitlines()[-1]


def test_sigint_saves_a_checkpoint_and_resume_completes_the_run(tmp_path, rows_file, tiny_model):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "s1cli.cli", "sft", str(rows_file), str(out), "--model", f"hf:{tiny_model}",
               "--block-size", "1024", "--batch-size", "2", "--max-steps", "40", "--lr", "1e-3"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=quiet_env(), cwd=REPO)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (out / "metrics.jsonl").exists() and len((out / "metrics.jsonl").read_text().splitlines()) >= 3:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "rerun the same command to resume" in stderr
    saved = sorted((out / CHECKPOINTS).iterdir())
    assert len(saved) == 1, stderr
    step = int(saved[0].name.removeprefix("step-"))
    assert step >= 3 and f"at step {step}" in stderr
    logged = metrics(out)
    assert logged[-1]["step"] >= step  # a step that finished after the checkpoint is logged, then dropped on resume
    result = subprocess.run(command, capture_output=True, text=True, env=quiet_env(), cwd=REPO)  # the same command
    assert result.returncode == 0, result.stderr
    assert [m["step"] for m in metrics(out)] == list(range(1, 41))


def test_two_processes_train_like_one(tmp_path, rows_file, tiny_model):
    """DDP on CPU (gloo) through torchrun: each process takes its share of every step."""
    options = ["--model", f"hf:{tiny_model}", "--block-size", "1024", "--batch-size", "8", "--max-steps", "3",
               "--lr", "1e-2", "--warmup-ratio", "0"]
    sft(rows_file, tmp_path / "one", tiny_model, *options[2:])
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "s1cli.cli",
                           "sft", str(rows_file), str(tmp_path / "two"), *options], capture_output=True, text=True,
                          env=quiet_env(), cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "two" / "s1_sft.json").read_text())["processes"] == 2
    for a, b in zip(metrics(tmp_path / "one"), metrics(tmp_path / "two"), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], abs=1e-5)


def test_preflight_only_reports_and_writes_nothing(tmp_path, rows_file, tiny_model):
    out = tmp_path / "never"
    result = run_s1("sft", rows_file, out, "--model", f"hf:{tiny_model}", "--preflight-only", "--block-size", "51",
                    "--batch-size", "3")
    assert result.exit_code == 0, result.stderr
    text = result.stderr
    assert "8 rows → 8 examples" in text
    assert "rows longer than the block:" in text and "truncated to the block (--long-rows truncate)" in text
    assert "learns to stop on: '<|im_end|>'; generation stops on:" in text
    assert "steps: 3 per epoch, 15 in all, 1 warmup" in text
    assert "memory (rough, per process)" in text and "first example (green carries loss)" in text
    assert "> 51" in text  # the histogram's bin past the block
    assert not out.exists()
    dropped = run_s1("sft", rows_file, out, "--model", f"hf:{tiny_model}", "--preflight-only", "--block-size", "51",
                     "--long-rows", "drop")
    assert dropped.exit_code == 0 and "dropped (--long-rows drop)" in dropped.stderr


def test_accelerate_cpu_on_a_gpu_host_is_reported_as_it_trains(tmp_path, rows_file, tiny_model, monkeypatch):
    """`accelerate launch --cpu` on a GPU host (one with bf16 and flash-attention, faked) trains in fp32
    with per-example SDPA, and the preflight report describes that run, not the GPU's."""
    from s1cli.training.attention import FLASH, PACKED_SDPA
    from s1cli.training.trainer import decide_device

    def preflight() -> str:
        result = run_s1("sft", rows_file, tmp_path / "out", "--model", f"hf:{tiny_model}", "--preflight-only")
        assert result.exit_code == 0, result.stderr
        return result.stderr

    monkeypatch.setenv("ACCELERATE_USE_CPU", "1")
    on_cpu = preflight()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    monkeypatch.setattr("transformers.utils.is_flash_attn_2_available", lambda: True)
    on = decide_device("auto", "auto", str(tiny_model))
    assert (on.cpu, on.precision, on.attention.implementation) == (True, "fp32", PACKED_SDPA)
    assert "attention: SDPA per example" in on_cpu and preflight() == on_cpu  # memory too: fp32's
    monkeypatch.delenv("ACCELERATE_USE_CPU")
    on = decide_device("auto", "auto", str(tiny_model))
    assert (on.cpu, on.precision, on.attention.implementation) == (False, "bf16", FLASH)
    assert decide_device("fp32", "auto", str(tiny_model)).precision == "fp32"


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, rows_file, tiny_model):
    out = tmp_path / "out"
    model = f"hf:{tiny_model}"
    no_thinking = tmp_path / "no_thinking.jsonl"
    write_table(no_thinking, [{k: v for k, v in r.items() if k != "thinking"} for r in training_rows()])
    assert one_error_line(run_s1("sft", no_thinking, out, "--model", model)) == \
        f"error: {no_thinking}:1: column 'thinking' is missing"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "no rows" in one_error_line(run_s1("sft", empty, out, "--model", model))
    assert "the prompt alone is" in one_error_line(run_s1("sft", rows_file, out, "--model", model,
                                                          "--block-size", "16"))
    blank = tmp_path / "blank.jsonl"
    write_table(blank, [*training_rows()[:2], {**training_rows()[2], "thinking": " "}])
    assert one_error_line(run_s1("sft", blank, out, "--model", model)) == \
        f"error: {blank}: row 3 (id 'q2'): column 'thinking' is empty"
    assert "--lr: must be a positive number" in one_error_line(run_s1("sft", rows_file, out, "--model", model,
                                                                      "--lr", "-1"))
    assert "s1 sft trains transformers models" in one_error_line(run_s1("sft", rows_file, out, "--model", "vllm:x"))
    assert "no such model directory" in one_error_line(run_s1("sft", rows_file, out, "--model", "hf:./missing"))
    assert "unknown thinking format" in one_error_line(run_s1("sft", rows_file, out, "--model", model,
                                                              "--format", "nope"))
    assert "--liger" in one_error_line(run_s1("sft", rows_file, out, "--model", model, "--liger"))
    assert not out.exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert "holds no s1 sft run" in one_error_line(run_s1("sft", rows_file, foreign, "--model", model, "--overwrite"))
    assert (foreign / "notes.txt").read_text() == "mine"


def test_the_module_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "sft", "--help"], capture_output=True, text=True,
                          env=quiet_env(), cwd=REPO)
    assert done.returncode == 0 and "accelerate launch" in done.stdout


def test_bf16_on_a_cpu_without_bf16_instructions_is_called_out(rows_file, tmp_path, tiny_model):
    """Under ATEN_CPU_CAPABILITY=avx2 torch runs as on an AVX2-only CPU, where bf16 is emulated (~20x slower):
    the preflight says so; fp32 (what auto picks on a CPU) gets no such warning."""
    command = [sys.executable, "-m", "s1cli.cli", "sft", str(rows_file), str(tmp_path / "out"),
               "--model", f"hf:{tiny_model}", "--preflight-only"]
    env = {**quiet_env(), "ATEN_CPU_CAPABILITY": "avx2"}
    emulated = subprocess.run([*command, "--precision", "bf16"], capture_output=True, text=True, env=env, cwd=REPO)
    assert emulated.returncode == 0, emulated.stderr
    assert "bf16 is emulated, about 20x slower than fp32 here; use --precision fp32" in emulated.stderr
    fp32 = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    assert fp32.returncode == 0 and "emulated" not in fp32.stderr
    if native_cpu_bf16():  # this machine has avx512_bf16 / AMX: no warning without the AVX2 limit
        native = run_s1("sft", rows_file, tmp_path / "out", "--model", f"hf:{tiny_model}", "--preflight-only",
                        "--precision", "bf16")
        assert native.exit_code == 0 and "emulated" not in native.stderr


def test_paper_sets_the_s1_runs_procedure_and_explicit_options_still_win(rows_file, tmp_path, tiny_model):
    base = ("--max-steps", "1", "--batch-size", "4")
    default = sft(rows_file, tmp_path / "default", tiny_model, *base)
    assert "packed blocks, loss averaged per token of the step" in default.stderr
    assert "not the s1 run's (--paper for its exact procedure)" in default.stderr
    paper = sft(rows_file, tmp_path / "paper", tiny_model, *base, "--paper", "--adam-betas", "0.9,0.98")
    assert "one example per sequence, loss averaged per example" in paper.stderr
    config = json.loads((tmp_path / "paper" / "s1_sft.json").read_text())["config"]
    assert (config["packing"], config["loss_average"], config["micro_batch_size"]) == (False, "sequence", 1)
    assert config["adam_betas"] == [0.9, 0.98]
    sft(rows_file, tmp_path / "mixed", tiny_model, *base, "--paper", "--packing")
    config = json.loads((tmp_path / "mixed" / "s1_sft.json").read_text())["config"]
    assert (config["packing"], config["loss_average"]) == (True, "sequence")
    bad = run_s1("sft", rows_file, tmp_path / "bad", "--model", f"hf:{tiny_model}", "--adam-betas", "0.9")
    assert bad.exit_code == 2 and "expected two numbers B1,B2" in bad.stderr


def test_fsdp_on_two_cpu_processes_trains_like_one(tmp_path, rows_file, tiny_model):
    """examples/accelerate/fsdp.yaml run for real on CPU: gloo, 2 processes, full shard. FSDP1 needs an
    accelerator device, so the CPU run takes FSDP2 (fully_shard) with the file's other settings."""
    import yaml

    config = yaml.safe_load((REPO / "examples" / "accelerate" / "fsdp.yaml").read_text())
    config.update(num_processes=2, use_cpu=True, mixed_precision="no")
    fsdp = config["fsdp_config"]
    for fsdp1_only in ("fsdp_sharding_strategy", "fsdp_backward_prefetch", "fsdp_forward_prefetch",
                       "fsdp_sync_module_states", "fsdp_use_orig_params"):
        fsdp.pop(fsdp1_only, None)
    fsdp.update(fsdp_version=2, fsdp_reshard_after_forward=True)
    (tmp_path / "fsdp_cpu.yaml").write_text(yaml.safe_dump(config))
    options = ["--model", f"hf:{tiny_model}", "--block-size", "1024", "--batch-size", "4", "--max-steps", "2",
               "--lr", "1e-2", "--warmup-ratio", "0"]
    sft(rows_file, tmp_path / "one", tiny_model, *options[2:])
    accelerate = Path(sys.executable).with_name("accelerate")
    done = subprocess.run([str(accelerate), "launch", "--config_file", str(tmp_path / "fsdp_cpu.yaml"), "-m",
                           "s1cli.cli", "--threads", "1", "sft", str(rows_file), str(tmp_path / "two"), *options],
                          capture_output=True, text=True, env=quiet_env(), cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "two" / "s1_sft.json").read_text())["processes"] == 2
    for a, b in zip(metrics(tmp_path / "one"), metrics(tmp_path / "two"), strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], abs=1e-5)
    one = AutoModelForCausalLM.from_pretrained(tmp_path / "one")
    two = AutoModelForCausalLM.from_pretrained(tmp_path / "two")  # gathered on rank 0 into plain HF weights
    for (name, a), (_, b) in zip(one.state_dict().items(), two.state_dict().items(), strict=True):
        assert torch.allclose(a, b, atol=1e-5), name
