"""What the benchmarks share: a timer, a child process's time and peak memory, the machine every
figure was measured on (CPU, SIMD flags, load), plain-text tables and the JSON they write.

Each script puts the repository root first on ``sys.path`` and imports this as ``benchmarks.common``,
so the scripts run from anywhere against this checkout. Standard library only: the vLLM benchmark
imports it in its own environment, and vLLM's engine processes import it again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent

# The CPU features that decide which kernels torch, tokenizers and numpy can use (x86 and Arm).
FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "amx_bf16",
         "amx_int8", "asimd", "sve", "sve2")


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn()`` took, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass
class Finished:
    """A child process that ran to its end: wall seconds, its own peak resident memory, its output."""

    seconds: float
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(command: Sequence[str], **popen: Any) -> Finished:
    """Run ``command`` and measure it alone: wall time, and the peak RSS of that process (from
    ``wait4``, so neither this process nor earlier children count)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(list(command), stdout=out, stderr=err, text=True, **popen)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # ru_maxrss is in KiB on Linux, in bytes on macOS.
        peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
        return Finished(seconds, peak, process.returncode, out.read(), err.read())


def machine() -> dict[str, Any]:
    """What the figures depend on, now: CPU model, usable CPUs, SIMD flags, load averages (1, 5,
    15 min), and the GPU when the benchmark has imported torch and torch sees one."""
    from s1cli.hardware import cpu, usable_cores

    model, flags = cpu().model, cpu().flags
    cpus = usable_cores()
    facts: dict[str, Any] = {"cpu": model, "cpus": cpus, "flags": [f for f in FLAGS if f in flags],
                             "load": [round(x, 2) for x in os.getloadavg()]}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name()
    return facts


def machine_line(start: dict[str, Any] | None = None) -> str:
    """One line for a figure: ``machine: AMD EPYC, 2 CPUs (avx2 ...), load 0.61 at start, 1.93 at
    end (1-min average)``; without ``start``, the load now."""
    now = machine()
    flags = " ".join(now["flags"]) or "flags unknown"
    load = f"load {now['load'][0]:.2f}" if start is None else \
        f"load {start['load'][0]:.2f} at start, {now['load'][0]:.2f} at end"
    gpu = f", {now['gpu']}" if "gpu" in now else ""
    return f"machine: {now['cpu']}, {now['cpus']} CPUs ({flags}){gpu}, {load} (1-min average)"


def table(header: Sequence[str], rows: Iterable[Sequence[object]], *, align: str = "", markdown: bool = False) -> str:
    """Rows of formatted cells as an aligned table, plain text (header, rule, rows) or Markdown.
    ``align`` has an ``l`` or ``r`` per column; by default the first column is flush left, the others right."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(header)]
    left = [a == "l" for a in (align or "l".ljust(len(header), "r"))]

    def line(values: Sequence[str]) -> str:
        parts = [v.ljust(w) if lft else v.rjust(w) for v, w, lft in zip(values, widths, left, strict=True)]
        return f"| {' | '.join(parts)} |" if markdown else "  ".join(parts).rstrip()

    head = line(header)
    if markdown:
        dashes = ("-" * (w + 2) if lft else "-" * (w + 1) + ":" for w, lft in zip(widths, left, strict=True))
        rule = f"|{'|'.join(dashes)}|"
    else:
        rule = "-" * len(head)
    return "\n".join([head, rule, *(line(row) for row in cells)])


def rate_table(results: Iterable[tuple[str, int, float]]) -> str:
    """``(what, rows, seconds)`` figures as a table with rows per second."""
    return table(["what", "rows", "seconds", "rows/s"],
                 [(what, n, f"{seconds:.3f}", f"{n / seconds:,.1f}") for what, n, seconds in results])


def parse_args(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, dict[str, Any]]:
    """Add ``--json``, read the command line, and note the machine as the run starts."""
    parser.add_argument("--json", type=Path, help="also write the figures here, with the machine they came from")
    return parser.parse_args(), machine()


def write_json(path: Path | str | None, results: Any, start: dict[str, Any], **extra: Any) -> None:
    """Write the figures with the machine they came from (at the start, and the load at the end)."""
    if path is None:
        return
    facts = {**start, "load_at_end": machine()["load"]}
    Path(path).write_text(json.dumps({"machine": facts, **extra, "results": results}, indent=1) + "\n",
                          encoding="utf-8")
