"""The cost record beside an output (``OUT-stem.cost.json``): one entry per run, and running totals.

A run writes its entry while it goes (status ``running``, rewritten every so often) and at its end
(its final status). A run killed outright (SIGKILL, a lost machine) never writes its end, and its
last provisional entry may lag behind what it paid. Every paid reply is in the request log
(``OUT-stem.llm-log.jsonl``) under the id of the run that paid for it, written before the reply is
stored, so the next run to record itself rebuilds each such run's entry from the log (status
``killed``). A rebuilt entry is final and never rebuilt again: however many times an output is
resumed, each paid call is counted once, by the run that paid for it. Cache hits are not in the
log; they are free. Log lines without a run id (written before runs had one) are not read.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from .accounting import ModelUsage

RUNNING = "running"
KILLED = "killed"


def iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def load(path: Path) -> dict[str, Any]:
    """The record, or an empty one when there is none (or it is not one s1 wrote)."""
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("runs"), list):
                return data
        except ValueError:
            pass
    return {"runs": []}


def save(path: Path, data: dict[str, Any]) -> None:
    """Write the record with fresh totals, atomically (a kill mid-write leaves the previous one)."""
    costs = [r.get("cost_usd") for r in data["runs"]]
    data["total_cost_usd"] = None if None in costs else round(sum(costs), 6)
    data["total_requests"] = sum(m.get("requests", 0) for r in data["runs"] for m in r.get("models", []))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def upsert(data: dict[str, Any], run: dict[str, Any]) -> None:
    """Put ``run`` in the record in place of its earlier (provisional) entry, or at the end."""
    for i, entry in enumerate(data["runs"]):
        if entry.get("run_id") == run["run_id"]:
            data["runs"][i] = run
            return
    data["runs"].append(run)


def paid_calls(log_path: Path) -> dict[str, list[dict[str, Any]]]:
    """The paid replies in a request log, by the id of the run that paid for them. A line cut short by
    a kill is skipped (the reply it was about was not stored either, so it will be asked again)."""
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not log_path.exists():
        return runs
    with open(log_path, encoding="utf-8") as fh:
        for line in fh:
            if '"outcome": "ok"' not in line:  # most lines of a long log are retries; skip them unparsed
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("run") and event.get("outcome") == "ok" and "input_tokens" in event:
                runs[event["run"]].append(event)
    return runs


def rebuilt(run_id: str, events: list[dict[str, Any]], earlier: dict[str, Any] | None) -> dict[str, Any]:
    """A killed run's entry from its paid replies in the log; cache hits counted in its last provisional
    entry are kept (free, and not in the log)."""
    models: dict[tuple[str, str], ModelUsage] = {}
    for event in events:
        key = (str(event.get("backend", "")), str(event.get("model", "")))
        usage = models.setdefault(key, ModelUsage(*key))
        usage.requests += 1
        usage.batch_requests += int("batch" in event)
        usage.input_tokens += int(event.get("input_tokens") or 0)
        usage.output_tokens += int(event.get("output_tokens") or 0)
        cost = event.get("cost_usd")
        usage.cost_usd = None if cost is None or usage.cost_usd is None else usage.cost_usd + cost
    for model in (earlier or {}).get("models", []):
        key = (model.get("backend", ""), model.get("model", ""))
        models.setdefault(key, ModelUsage(*key)).cached = int(model.get("cached") or 0)
    entries = [m.as_dict() for m in models.values()]
    costs = [m["cost_usd"] for m in entries]
    times = [float(e["time"]) for e in events if isinstance(e.get("time"), int | float)]
    started = (earlier or {}).get("started") or (iso(min(times)) if times else None)
    return {"run_id": run_id, "started": started, "finished": iso(max(times)) if times else started,
            "status": KILLED, "models": entries, "cost_usd": None if None in costs else round(sum(costs), 6),
            "from_log": True}


def reconcile(data: dict[str, Any], log_path: Path, *, current: str) -> int:
    """Rebuild from the request log the entry of every run other than ``current`` that never recorded
    its end: one missing from the record, or left ``running``. Returns how many were rebuilt."""
    entries = {r.get("run_id"): r for r in data["runs"] if r.get("run_id")}
    count = 0
    for run_id, events in sorted(paid_calls(log_path).items(), key=lambda item: item[1][0].get("time", 0)):
        earlier = entries.get(run_id)
        if run_id == current or (earlier is not None and earlier.get("status") != RUNNING):
            continue
        entry = rebuilt(run_id, events, earlier)
        if earlier is not None:
            data["runs"][data["runs"].index(earlier)] = entry
        else:  # where it started (before the current run), so the runs stay in the order they ran
            later = (i for i, r in enumerate(data["runs"])
                     if r.get("run_id") == current or str(r.get("started") or "") > str(entry["started"]))
            data["runs"].insert(next(later, len(data["runs"])), entry)
        count += 1
    for entry in data["runs"]:  # provisional entries of runs that paid nothing logged: they ended too
        if entry.get("status") == RUNNING and entry.get("run_id") != current:
            entry["status"] = KILLED
    return count
