"""What this machine's CPUs can do, read once: model, SIMD flags, usable cores, native bf16.

Used where a default depends on the machine (sft's precision warning, the thread count) and by the
benchmarks, which state the CPU flags and load beside every figure.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The flags that decide CPU speed for this work: SIMD width and native bf16 / AMX.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "bf16", "asimd", "sve")
NATIVE_BF16 = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX512-BF16 / AMX, Arm BF16


@dataclass(frozen=True)
class CPU:
    model: str
    flags: frozenset[str]


@cache
def cpu() -> CPU:
    """The CPU model and flags from /proc/cpuinfo (Linux); elsewhere the platform's name and no flags."""
    model, flags = "", frozenset()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = frozenset(value.split())
    except OSError:
        pass
    return CPU(model or platform.processor() or platform.machine(), flags)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or a job's share)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def native_cpu_bf16() -> bool:
    """Whether bf16 matmuls run natively here. They need the CPU's bf16 instructions *and* torch
    kernels built for them: under ``ATEN_CPU_CAPABILITY=avx2`` (or on an AVX2-only CPU) torch
    converts bf16 to fp32 and back around every operation, about 20× slower than fp32."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    flags = cpu().flags
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "bf16" in flags
    return capability.startswith("AVX512") and any(flag in flags for flag in NATIVE_BF16)


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile would use on CPU ($CXX, else g++), or None where there is none."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # a torch without inductor's builder: look the usual way
        return shutil.which(os.environ.get("CXX", "g++"))
    try:
        return get_cpp_compiler()
    except Exception:  # inductor's InvalidCxxCompiler: none found
        return None


def others_running(samples: int = 3, gap: float = 0.005) -> int:
    """Processes ready to run right now besides this one (the median of a few reads of /proc/stat's
    ``procs_running``), else the 1-minute load average; 0 where neither is known."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/stat", encoding="ascii") as fh:
                running = next((int(line.split()[1]) for line in fh if line.startswith("procs_running")), None)
        except (OSError, ValueError):
            running = None
        if running is None:
            break
        counts.append(max(0, running - 1))
        if i + 1 < samples:
            time.sleep(gap)
    if counts:
        return sorted(counts)[len(counts) // 2]
    try:
        return int(os.getloadavg()[0])
    except OSError:
        return 0


@dataclass(frozen=True)
class Threads:
    count: int
    reason: str


def choose_threads(requested: int | None = None, environ: Mapping[str, str] = os.environ) -> Threads:
    """How many CPU threads torch uses. A busy shared machine is the common case (laptops, CI, shared
    nodes), and torch's default of one thread per core then competes with the other work for the same
    cores: measured 3-15x slower than one thread on two cores beside one busy process. So: the cores
    this process may use, less those other processes are busy on now, at least 1; ``--threads`` or
    ``OMP_NUM_THREADS`` decide instead when given."""
    cores = usable_cores()
    if requested is not None:
        return Threads(requested, "as --threads says")
    given = environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return Threads(int(given), "as OMP_NUM_THREADS says; --threads N to choose")
    busy = min(others_running(), cores - 1)
    count = max(1, cores - busy)
    return Threads(count, f"{cores} usable core{'s' * (cores != 1)}, {busy} busy with other work; "
                          "--threads N to choose")


def apply_threads(threads: Threads) -> None:
    """Make torch use ``threads.count`` threads (intra-op; its inter-op pool is left as it is)."""
    import torch

    torch.set_num_threads(threads.count)
