"""What this machine's CPUs can do, read once: model, SIMD flags, usable cores, native bf16.

Used where a default depends on the machine (sft's precision warning, the thread count) and by the
benchmarks, which state the CPU flags and load beside every figure.
"""

from __future__ import annotations

import os
import platform
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
