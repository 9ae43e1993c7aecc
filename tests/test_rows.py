"""llm/rows.py, the one runner for model calls over table rows, against a real HTTP server on
127.0.0.1: input order, resume, stdout capture, the cost record, batches with a follow-up round,
and the errors that say how to finish."""

from __future__ import annotations

import io
import json

import pytest

from fakes.anthropic_api import KEY, FakeAPI, Fault
from s1cli.errors import RemoteError, S1Error
from s1cli.llm.base import Request
from s1cli.llm.client import RetryPolicy
from s1cli.llm.prices import PriceTable
from s1cli.llm.rows import BatchOptions, Pending, RowCalls, RowJob
from s1cli.llm.session import LLMSession, SessionOptions
from s1cli.refs import ModelRef
from s1cli.table import read_rows

MODEL = ModelRef("anthropic", "claude-x")


@pytest.fixture
def api():
    with FakeAPI() as server:
        yield server


def session(api: FakeAPI, tmp_path, *, max_cost: float | None = None, prices: PriceTable | None = None):
    return LLMSession(SessionOptions(cache_path=tmp_path / "cache.sqlite", prices=prices or PriceTable(),
                                     max_cost=max_cost, retry=RetryPolicy(attempts=1, base=0.01),
                                     base_url=api.url),
                      environ={"ANTHROPIC_API_KEY": KEY})


def verdict_calls(*, follow_up: bool = False) -> RowCalls:
    """Ask whether each row's text says yes; with ``follow_up``, an unclear reply is asked again."""

    def work(asks):
        def one(row):
            first = Request.make(MODEL.model, [{"role": "user", "content": row["text"]}], 64)
            reply = asks["judge"](first).text
            if follow_up and not reply.rstrip("*").endswith(("Yes", "No")):
                reply = asks["judge"](first.follow_up(reply, "Answer Yes or No.")).text
            return reply.rstrip("*").endswith("Yes")

        return one

    return RowCalls({"judge": MODEL}, work, lambda row, yes: {**row, "yes": yes})


ROWS = [{"id": f"q{i}", "text": f"question {i} {'<<yes>>' if i % 2 else '<<no>>'}"} for i in range(12)]


def test_direct_calls_write_every_row_in_input_order_and_record_the_run(api, tmp_path):
    out = str(tmp_path / "out.jsonl")
    job = RowJob(ROWS, out, done="graded", undone="ungraded")
    s = session(api, tmp_path)
    with job:
        stats = job.call(verdict_calls(), s, concurrency=4)
    s.close()
    assert (stats.done, stats.failed, stats.status) == (12, 0, "completed")
    written = read_rows(out)
    assert [r["id"] for r in written] == [r["id"] for r in ROWS]
    assert [r["yes"] for r in written] == [bool(i % 2) for i in range(12)]
    record = json.loads((tmp_path / "out.cost.json").read_text())
    assert record["runs"][0]["status"] == "completed" and record["runs"][0]["rows_graded"] == 12
    assert record["total_requests"] == 12 == len(api.calls)
    job.raise_if_incomplete()  # nothing left: no error


def test_a_rerun_resumes_and_sends_nothing_for_rows_already_written(api, tmp_path):
    out = str(tmp_path / "out.jsonl")
    with RowJob(ROWS[:5], out) as job:
        job.call(verdict_calls(), session(api, tmp_path), concurrency=2)
    again = RowJob(ROWS, out)
    assert again.resumed == 5 and [r["id"] for r in again.todo] == [r["id"] for r in ROWS[5:]]
    calls_before = len(api.calls)
    with again:
        again.call(verdict_calls(), session(api, tmp_path), concurrency=2)
    assert len(api.calls) - calls_before == 7
    assert [r["id"] for r in again.output()] == [r["id"] for r in ROWS]


def test_stdout_rows_are_kept_for_the_report_and_no_side_files_are_written(api, tmp_path, monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stdout", buffer)
    with RowJob(ROWS[:3], "-") as job:
        job.call(verdict_calls(), session(api, tmp_path), concurrency=2)
    assert [r["id"] for r in job.output()] == ["q0", "q1", "q2"]
    assert [json.loads(line)["id"] for line in buffer.getvalue().splitlines()] == ["q0", "q1", "q2"]
    assert job.side_path("cost.json") is None and not list(tmp_path.glob("*.cost.json"))


def test_failed_calls_leave_their_rows_for_a_rerun_with_one_clear_error(api, tmp_path):
    out = str(tmp_path / "out.jsonl")
    api.fail(Fault("status", 400))  # the first call (q0's, one call at a time) is rejected
    job = RowJob(ROWS[:4], out, done="labelled", undone="unlabelled")
    with job:
        stats = job.call(verdict_calls(), session(api, tmp_path), concurrency=1)
    assert (stats.done, stats.failed, stats.status) == (3, 1, "incomplete")
    assert [r["id"] for r in read_rows(out)] == ["q1", "q2", "q3"]
    with pytest.raises(RemoteError, match=r"^1 rows not labelled \(.*400.*\); rerun the same command"):
        job.raise_if_incomplete()
    assert json.loads((tmp_path / "out.cost.json").read_text())["runs"][0]["status"] == "incomplete"
    with RowJob(ROWS[:4], out) as rerun:  # the rerun asks only for the failed row
        assert [r["id"] for r in rerun.todo] == ["q0"]
        assert rerun.call(verdict_calls(), session(api, tmp_path), concurrency=1).status == "completed"


def test_the_spending_cap_stops_the_run_and_says_how_many_rows_are_left(api, tmp_path):
    out = str(tmp_path / "out.jsonl")
    price_file = tmp_path / "prices.json"
    price_file.write_text(json.dumps({"anthropic:claude-x": {"input": 3000.0, "output": 15000.0}}))
    prices = PriceTable.load(str(price_file))
    job = RowJob(ROWS, out, done="graded", undone="ungraded")
    with job:
        stats = job.call(verdict_calls(), session(api, tmp_path, max_cost=1.5, prices=prices), concurrency=1)
    assert stats.stopped and 0 < stats.done < len(ROWS)
    with pytest.raises(S1Error, match=rf"{len(ROWS) - stats.done} rows left ungraded; rerun with a higher --max-cost"):
        job.raise_if_incomplete()
    assert json.loads((tmp_path / "out.cost.json").read_text())["runs"][0]["status"] == "stopped"


def test_batches_take_one_more_round_for_a_follow_up_question(api, tmp_path):
    rows = [{"id": "a", "text": "x <<yes>>"}, {"id": "b", "text": "y <<garbled>>"}, {"id": "c", "text": "z <<no>>"}]
    out = str(tmp_path / "out.jsonl")
    with RowJob(rows, out) as job:
        stats = job.call(verdict_calls(follow_up=True), session(api, tmp_path), concurrency=1,
                         batch=BatchOptions(poll_interval=0.0))
    assert stats.status == "completed"
    # Rows finish round by round (in input order within a round): b waited for its follow-up.
    assert [(r["id"], r["yes"]) for r in read_rows(out)] == [("a", True), ("c", False), ("b", False)]
    assert len(api.batches) == 2  # the first questions, then the one follow-up
    assert (tmp_path / "out.batches.json").exists()


def test_pending_merges_the_requests_of_every_model_a_row_waits_for():
    first = Pending("a", "k1", Request.make("m", [{"role": "user", "content": "1"}], 8))
    second = Pending("b", "k2", Request.make("m", [{"role": "user", "content": "2"}], 8))
    merged = second.merge(first)
    assert merged is second and [(label, key) for label, key, _ in merged.items] == [("b", "k2"), ("a", "k1")]
    assert second.merge(None) is second and second.merge(second).items == merged.items


def test_runs_that_never_recorded_their_end_are_rebuilt_from_the_request_log_once(api, tmp_path):
    out = str(tmp_path / "out.jsonl")
    log, record = tmp_path / "out.llm-log.jsonl", tmp_path / "out.cost.json"

    price_file = tmp_path / "prices.json"
    price_file.write_text(json.dumps({"anthropic:claude-x": {"input": 3.0, "output": 15.0}}))
    prices = PriceTable.load(str(price_file))

    def run(rows, *, finish: bool):
        s = LLMSession(SessionOptions(cache_path=tmp_path / "cache.sqlite", prices=prices, log_path=log,
                                      retry=RetryPolicy(attempts=1), base_url=api.url),
                       environ={"ANTHROPIC_API_KEY": KEY})
        job = RowJob(rows, out)
        with job:
            if finish:
                job.call(verdict_calls(), s, concurrency=2)
            else:  # as a killed run: its calls paid and logged, its end never recorded
                ask = s.client(MODEL).ask
                for row in rows:
                    job.write({**row, "yes": verdict_calls().work({"judge": ask})(row)})
        s.close()
        return s

    first = run(ROWS[:3], finish=False)  # killed before its first checkpoint: no entry at all
    second = run(ROWS[:6], finish=False)
    second.checkpoint(record, details={})  # killed after a provisional entry that lags behind its calls
    data = json.loads(record.read_text())
    data["runs"][0]["models"][0]["requests"] = 1
    record.write_text(json.dumps(data))
    with log.open("a") as fh:
        fh.write('{"time": 1, "run": "' + second.run_id + '", "outcome": "ok", "input_tok')  # cut short by a kill
    run(ROWS, finish=True)
    data = json.loads(record.read_text())
    runs = {r["run_id"]: (r["status"], r["models"][0]["requests"]) for r in data["runs"]}
    assert runs.pop(first.run_id) == runs.pop(second.run_id) == ("killed", 3)  # from the log: 3 calls each
    assert list(runs.values()) == [("completed", 6)] and data["runs"][-1]["status"] == "completed"
    assert data["total_requests"] == len(api.usage) == 12
    models = [m for r in data["runs"] for m in r["models"]]
    assert sum(m["input_tokens"] for m in models) == sum(i for i, _ in api.usage)
    assert sum(m["output_tokens"] for m in models) == sum(o for _, o in api.usage)
    assert data["total_cost_usd"] == pytest.approx(sum(i * 3 + o * 15 for i, o in api.usage) / 1e6, abs=1e-6)
    before = data
    run(ROWS, finish=True)  # everything written: nothing asked, nothing rebuilt again
    after = json.loads(record.read_text())
    assert after["runs"][:3] == before["runs"] and after["total_cost_usd"] == before["total_cost_usd"]
    assert after["runs"][3]["models"] == [] and after["total_requests"] == 12
