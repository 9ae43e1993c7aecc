"""Writers killed mid-run: outputs are complete or hold whole rows, and reruns complete them.

The child processes read their rows from a pipe the test controls, so the test knows how far
they got when it kills them; nothing depends on timing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s1cli.table import read_rows, write_table

from .conftest import interruptible, subprocess_env

# A row-by-row worker like `generate`: reads ids on stdin, writes a large row per id, acks.
WORKER = """
import sys
from s1cli.table import ResumableWriter
with ResumableWriter(sys.argv[1]) as writer:
    print("resumed", writer.resumed, flush=True)
    for line in sys.stdin:
        key = line.strip()
        if writer.has((key, None, None)):
            print("skip", key, flush=True)
            continue
        writer.write({"id": key, "payload": key * 20000})
        print("wrote", key, flush=True)
"""


def start_worker(out: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env())
    return proc


def feed(proc: subprocess.Popen, key: str) -> str:
    proc.stdin.write(key + "\n")
    proc.stdin.flush()
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_killed_row_writer_keeps_whole_rows_and_rerun_completes_without_duplicates(tmp_path, name):
    out = tmp_path / name
    ids = [f"r{i:02d}" for i in range(12)]
    proc = start_worker(out)
    assert proc.stdout.readline().strip() == "resumed 0"
    for key in ids[:6]:
        assert feed(proc, key) == f"wrote {key}"
    proc.stdin.write(ids[6] + "\n")  # possibly mid-write when the kill lands
    proc.stdin.flush()
    proc.kill()
    proc.wait()

    written = out if name.endswith(".jsonl") else Path(str(out) + ".partial.jsonl")
    assert not (name.endswith(".parquet") and out.exists()), "a Parquet output appears only when complete"
    lines = written.read_bytes().split(b"\n")
    whole = [json.loads(line) for line in lines[:-1]]  # every newline-terminated line is a whole row
    assert [row["id"] for row in whole][:6] == ids[:6]

    proc = start_worker(out)
    resumed = int(proc.stdout.readline().split()[1])
    assert resumed in (6, 7)
    replies = [feed(proc, key) for key in ids]
    proc.stdin.close()
    assert proc.wait() == 0, proc.stderr.read()
    assert replies[:6] == [f"skip {key}" for key in ids[:6]]
    assert replies[7:] == [f"wrote {key}" for key in ids[7:]]
    rows = read_rows(out)  # duplicate keys would raise here
    assert [row["id"] for row in rows] == ids
    assert all(row["payload"] == row["id"] * 20000 for row in rows)


def wait_for(predicate, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the child process")
        time.sleep(0.02)  # polling a child we do not control; bounded by the deadline above


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_killed_whole_table_write_leaves_the_previous_file(tmp_path, sig, code):
    out = tmp_path / "out.parquet"
    write_table(out, [{"id": "previous"}])
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "s1cli.cli", "convert", "-", str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
                            preexec_fn=interruptible)
    for i in range(50):
        proc.stdin.write(json.dumps({"id": f"new{i}"}) + "\n")
    proc.stdin.flush()
    wait_for(lambda: any(p.name.endswith(".tmp") for p in tmp_path.iterdir()))
    proc.send_signal(sig)
    returncode = proc.wait(timeout=120)
    proc.stdin.close()
    assert returncode == code, proc.stderr.read()
    assert out.read_bytes() == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    if sig != signal.SIGKILL:  # SIGKILL allows no cleanup; the others remove the temp file
        assert leftovers == []
        assert "interrupted" in proc.stderr.read()
    # A rerun after any of these writes the whole table.
    rows = [{"id": f"new{i}"} for i in range(50)]
    write_table(tmp_path / "in.jsonl", rows)
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", "convert", str(tmp_path / "in.jsonl"), str(out)],
                          capture_output=True, text=True, env=subprocess_env())
    assert done.returncode == 0
    assert read_rows(out) == rows
