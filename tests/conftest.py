"""Shared fixtures: one tiny model per session, and ways to run `s1` in-process and as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from s1cli.cli import app

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def run_s1(*args: str, input: str | None = None) -> Result:
    """Run `s1 ARGS` in-process through the real Typer app."""
    result = CliRunner().invoke(app, [str(a) for a in args], input=input)
    return Result(result.exit_code, result.stdout, result.stderr, result.exception)


def s1_process(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run `s1 ARGS` as a separate process (python -m s1cli.cli), capturing text output."""
    return subprocess.run([sys.executable, "-m", "s1cli.cli", *map(str, args)], capture_output=True, text=True,
                          env=subprocess_env(), **kwargs)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny Qwen2 model + tokenizer built once per test session (about 4 s)."""
    from s1cli.tiny import build_tiny

    return build_tiny(tmp_path_factory.mktemp("tiny") / "model")
