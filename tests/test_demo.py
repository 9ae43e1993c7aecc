"""`make demo`'s script, reduced: the whole s1 recipe in miniature runs end to end through the real
`s1` command, every output is what the next step needs, and a rerun skips every finished step."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from s1cli.table import read_rows

from .conftest import REPO, subprocess_env

REDUCED = {"POOL_N": "150", "SOLVER_N": "120", "SHORT": "2", "EVAL_N": "8", "EASY_N": "4", "MAX_STEPS": "5",
           "WEAK_STEPS": "2", "STRONG_STEPS": "4", "STUDENT_STEPS": "4", "SIZE": "30", "BUDGETS": "8,32",
           "WAITS": "1", "WAIT_BUDGET": "48", "ATTEMPT_TOKENS": "16"}
# Budgets stay capped: a model trained for 4 steps may never end its thinking by itself.


def run_demo(out: Path) -> subprocess.CompletedProcess:
    script_dir = Path(sys.executable).parent
    if not (script_dir / "s1").exists():
        pytest.skip("s1cli is not installed in this environment (run through `make test`)")
    env = {**subprocess_env(), **REDUCED, "PATH": f"{script_dir}{os.pathsep}{os.environ['PATH']}"}
    # Its own process group, so a timeout stops the s1 commands the script started, not just bash.
    with subprocess.Popen(["bash", str(REPO / "examples" / "demo.sh"), str(out)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo") / "out"
    done = run_demo(out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done


def test_the_pool_is_decontaminated_and_labelled_from_real_runs(demo):
    out, _ = demo
    evals = [out / "data" / f"{name}.jsonl" for name in ("toy-hard", "toy-easy")]
    eval_questions = {r["question"] for path in evals for r in read_rows(path)}
    pool = read_rows(out / "pool.parquet")
    assert not eval_questions & {r["question"] for r in pool}
    bundled_matches = read_rows(out / "pool.raw.contamination.parquet")  # the 8-gram pass
    assert {r["benchmark"] for r in bundled_matches} >= {"aime24", "aime25", "math500"}
    assert not {r["pool_id"] for r in bundled_matches} & {r["id"] for r in pool}
    labelled = read_rows(out / "labelled.parquet")
    assert [r["id"] for r in labelled] == [r["id"] for r in pool]
    toy = [r for r in labelled if r["source"].startswith("toy-")]
    bundled = [r for r in labelled if not r["source"].startswith("toy-")]
    assert toy and bundled
    for row in toy:
        assert row["reference_correct"] is True and row["thinking_tokens"] > 0
        assert isinstance(row["weak_correct"], bool) and isinstance(row["strong_correct"], bool)
    assert all(r["thinking_tokens"] is None for r in bundled)  # no trace: select's quality stage drops them
    attempts = read_rows(out / "attempts" / "strong.graded.jsonl")
    assert {r["id"] for r in attempts} == {r["id"] for r in pool}
    assert all(r["model"].endswith("models/strong") for r in attempts)


def test_the_selections_follow_the_recipe(demo):
    out, _ = demo
    s1k, random = read_rows(out / "s1k.jsonl"), read_rows(out / "random.jsonl")
    assert len(s1k) == len(random) == 30
    for row in s1k:  # difficulty: neither solver got it right
        assert row["source"].startswith("toy-") and not row["weak_correct"] and not row["strong_correct"]
    assert {r["domain"] for r in s1k} == {"arithmetic", "counting", "number line"}
    assert {r["selected_by"] for r in random} == {"random"}
    assert "difficulty" in (out / "s1k.report.md").read_text()


def test_students_are_trained_and_benched_at_every_budget(demo):
    out, _ = demo
    for model in ("strong", "student-s1k", "student-random"):
        assert (out / "models" / model / "s1_sft.json").exists()
        with open(out / "bench" / model / "summary.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        for task in ("toy-hard", "toy-easy"):
            settings = [r for r in rows if r["task"] == task and r["run"] == model]
            assert [r["budget"] for r in settings] == ["8", "32"]
            assert float(settings[0]["thinking_tokens"]) <= 8 and float(settings[1]["thinking_tokens"]) <= 32
    report = (out / "report.md").read_text()
    for label in ("student-s1k", "student-random", "strong", "student-s1k + Wait"):
        assert label in report
    assert (out / "scaling.png").stat().st_size > 1000


def test_a_rerun_skips_every_finished_step(demo):
    out, first = demo
    steps = first.stdout.count("\n== ")
    again = run_demo(out)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count(": done (") == steps - 1  # every step but the closing report
    assert "preflight" not in again.stderr
