"""The machine facts defaults depend on: threads beside other work, native bf16."""

from __future__ import annotations

import subprocess
import sys
import time

from s1cli.hardware import choose_threads, cpu, others_running, usable_cores

from .conftest import run_s1


def test_threads_given_or_from_omp_num_threads_are_taken_as_they_are():
    assert choose_threads(3).count == 3
    assert choose_threads(None, {"OMP_NUM_THREADS": "5"}).count == 5
    assert "OMP_NUM_THREADS" in choose_threads(None, {"OMP_NUM_THREADS": "5"}).reason


def test_threads_leave_the_cores_other_work_is_busy_on():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # until the spinner is scheduled and counts as running
        assert others_running() >= 1
        chosen = choose_threads(None, {})
        assert 1 <= chosen.count <= max(1, usable_cores() - 1), chosen
        assert "busy with other work" in chosen.reason
    finally:
        busy.kill()
        busy.wait()


def test_verbose_says_the_threads_and_bad_values_are_one_line(tmp_path):
    result = run_s1("--verbose", "--threads", "1", "tiny", tmp_path / "m")
    assert result.exit_code == 0, result.stderr
    assert "threads: 1 (as --threads says)" in result.stderr
    bad = run_s1("--threads", "0", "tiny", tmp_path / "n")
    assert bad.exit_code == 2 and "must be at least 1" in bad.stderr


def test_the_cpu_is_described():
    assert cpu().model
    assert usable_cores() >= 1
