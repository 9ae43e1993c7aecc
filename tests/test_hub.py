"""Hub look-ups fail fast when the Hub cannot be reached: one probe, then the hub libraries work
from the cache, so a missing dataset or model is one line in seconds and a cached model still loads."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import pytest

from s1cli import hub
from s1cli.table import read_rows, write_table

from .conftest import subprocess_env


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unreachable_env(tmp_path) -> dict[str, str]:
    env = subprocess_env()
    for flag in hub.OFFLINE_FLAGS:
        env.pop(flag, None)
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{closed_port()}"
    env["HF_HOME"] = str(tmp_path / "hf-home")  # an empty cache
    return env


def s1(env: dict[str, str], *args) -> tuple[subprocess.CompletedProcess, float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "s1cli.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)
    return done, time.monotonic() - began


def test_the_probe_tells_a_listening_host_from_a_refused_or_unknown_one():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert hub.reachable(f"http://127.0.0.1:{server.getsockname()[1]}")
    assert not hub.reachable(f"http://127.0.0.1:{closed_port()}")
    assert not hub.reachable("https://no-such-host.invalid", timeout=1.0)


def test_offline_mode_is_switched_on_only_when_the_hub_does_not_answer(monkeypatch):
    import datasets.config
    import huggingface_hub.constants

    # The switch is process-wide; put the imported libraries' flags back after this test.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", huggingface_hub.constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", datasets.config.HF_HUB_OFFLINE)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", datasets.config.HF_DATASETS_OFFLINE)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        answering = {"HF_ENDPOINT": f"http://127.0.0.1:{server.getsockname()[1]}"}
        assert hub.offline_unless_reachable(answering) is False
        assert not hub.is_offline(answering) and hub.offline_hint("model", answering) == ""
    already = {"TRANSFORMERS_OFFLINE": "1"}
    assert hub.offline_unless_reachable(already) is True and "HF_HUB_OFFLINE" not in already
    silent = {"HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    assert hub.offline_unless_reachable(silent) is True
    assert all(silent[flag] == "1" for flag in hub.OFFLINE_FLAGS)
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True
    assert "save_to_disk" in hub.offline_hint("dataset", silent)


@pytest.mark.parametrize("kind", ["dataset", "model", "tokenizer"])
def test_a_missing_hub_item_fails_in_seconds_with_one_line(tmp_path, kind):
    env = unreachable_env(tmp_path)
    questions = tmp_path / "q.jsonl"
    write_table(questions, [{"id": "a", "question": "What is 1 + 1?"}])
    if kind == "dataset":
        done, seconds = s1(env, "collect", tmp_path / "pool.jsonl", "--source", "hf:nosuch/dataset")
        hint = "save one with Dataset.save_to_disk"
    elif kind == "model":
        done, seconds = s1(env, "generate", questions, tmp_path / "out.jsonl", "--model", "hf:nosuch/model")
        hint = "pass a local model directory"
    else:
        done, seconds = s1(env, "grade", questions, tmp_path / "out.jsonl", "--count-tokens", "question",
                           "--tokenizer", "hf:nosuch/tokenizer")
        hint = "pass a local tokenizer directory"
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and hint in lines[0], done.stderr
    assert "Retrying" not in done.stderr and "Traceback" not in done.stderr
    assert seconds < 20  # was 25 s (datasets) and 50 s (transformers) of retries; about 2-4 s here


def test_a_cached_model_still_loads_when_the_hub_does_not_answer(tmp_path, tiny_model):
    env = unreachable_env(tmp_path)
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf-home" / "hub" / "models--s1test--tiny"
    shutil.copytree(tiny_model, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    questions = tmp_path / "q.jsonl"
    write_table(questions, [{"id": "a", "question": "What is 1 + 1?"}])
    done, _ = s1(env, "generate", questions, tmp_path / "out.jsonl", "--model", "hf:s1test/tiny",
                 "--max-thinking-tokens", "4", "--max-answer-tokens", "4")
    assert done.returncode == 0, done.stderr
    assert "Retrying" not in done.stderr
    rows = read_rows(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == ["a"] and rows[0]["model"] == "hf:s1test/tiny"
