"""Progress where no terminal shows a bar (slurm logs, `| tee`, CI): plain lines at a steady interval."""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console

from s1cli.commands.ui import ProgressLines

from .conftest import REPO


def test_lines_come_at_the_interval_with_rate_eta_and_note():
    now = [0.0]
    console = Console(record=True, width=200)
    lines = ProgressLines(console, "generating", 100, every=10, clock=lambda: now[0])
    for step in range(1, 31):
        now[0] = step  # one item per second
        lines.advance(1, note=f"{step * 7} tok/s")
    printed = console.export_text().splitlines()
    assert printed == [
        "generating: 10/100 (10%) · 1.00/s · elapsed 10s · ETA 1m30s · 70 tok/s",
        "generating: 20/100 (20%) · 1.00/s · elapsed 20s · ETA 1m20s · 140 tok/s",
        "generating: 30/100 (30%) · 1.00/s · elapsed 30s · ETA 1m10s · 210 tok/s",
    ]


def test_no_total_and_nothing_before_the_interval():
    now = [0.0]
    console = Console(record=True, width=200)
    lines = ProgressLines(console, "grading", None, every=60, clock=lambda: now[0])
    now[0] = 5
    lines.advance(3)
    assert console.export_text() == ""  # a failing run's error stays its only line
    now[0] = 60
    lines.advance(1)
    assert console.export_text().strip() == "grading: 4 · 0.07/s · elapsed 1m00s"


def test_a_piped_run_logs_progress_lines(tmp_path, tiny_model):
    """A real `s1 generate` with stderr to a pipe: progress lines, no bar escape codes."""
    rows = tmp_path / "q.jsonl"
    rows.write_text("".join(f'{{"id": "q{i}", "question": "What is {i} + {i}?"}}\n' for i in range(4)))
    env = {**os.environ, "S1_PROGRESS_EVERY": "0", "TRANSFORMERS_VERBOSITY": "error"}
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "generate", str(rows), str(tmp_path / "g.jsonl"),
                           "--model", f"hf:{tiny_model}", "--max-thinking-tokens", "4", "--max-answer-tokens", "4",
                           "--batch-size", "1"], capture_output=True, text=True, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("generating: ")]
    assert [line.split(" · ")[0] for line in progress] == [f"generating: {i}/4 ({i * 25}%)" for i in (1, 2, 3, 4)]
    assert all("tok/s" in line for line in progress)
    assert "\x1b" not in done.stderr
