"""The client layer against a real HTTP server on 127.0.0.1 (fakes/anthropic_api.py): Anthropic Messages and
Message Batches, OpenAI-compatible chat, retries on injected faults, the cache, the budget, prices."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fakes.anthropic_api import KEY, FakeAPI, Fault
from s1cli.errors import ConfigError
from s1cli.llm import ModelRef, api_key, parse_model_ref
from s1cli.llm.accounting import Ledger, SpendCap, SpendCapReached
from s1cli.llm.anthropic import AnthropicBackend
from s1cli.llm.base import FatalRemoteError, Request, Usage, cache_scope
from s1cli.llm.batch import BatchRunner
from s1cli.llm.cache import ResponseCache
from s1cli.llm.client import Client, RequestFailed, RequestLog, RetryPolicy
from s1cli.llm.openai import OpenAIChatBackend
from s1cli.llm.prices import PriceTable

MODEL = "claude-3-5-sonnet-20241022"
FAST = RetryPolicy(attempts=6, base=0.01, cap=0.05)


def request(text: str = "is 2+2=4? <<yes>>", **params) -> Request:
    return Request.make(MODEL, [{"role": "user", "content": text}], 64, params=params or {"temperature": 0.0},
                        prompt_version="test@1")


def make_client(api: FakeAPI, tmp_path, *, backend=None, limit=None, retry=FAST, timeout=2.0) -> Client:
    prices = PriceTable()
    backend = backend or AnthropicBackend(KEY, base_url=api.url, timeout=timeout)
    return Client(backend, cache=ResponseCache(tmp_path / "cache.sqlite"), ledger=Ledger(prices),
                  budget=SpendCap(limit, prices), retry=retry, log=RequestLog(tmp_path / "log.jsonl", [KEY]))


@pytest.fixture
def api():
    with FakeAPI() as server:
        yield server


def test_anthropic_messages_round_trip_and_temperature_in_the_body(api, tmp_path):
    client = make_client(api, tmp_path)
    reply = client.ask(request())
    assert reply.text.endswith("Yes") and not reply.cached
    assert reply.usage == Usage(*api.usage[0])
    assert api.calls[0]["temperature"] == 0.0 and api.calls[0]["max_tokens"] == 64
    again = client.ask(request())
    assert again.cached and again.text == reply.text and len(api.calls) == 1
    usage = client.ledger.models()[0]
    assert (usage.requests, usage.cached, usage.input_tokens) == (1, 0, api.usage[0][0])  # paid this run
    rerun = make_client(api, tmp_path)
    assert rerun.ask(request()).cached
    assert [(m.requests, m.cached) for m in rerun.ledger.models()] == [(0, 1)]


def test_every_fault_is_retried_and_retry_after_is_honoured(api, tmp_path):
    client = make_client(api, tmp_path, timeout=0.4)
    api.fail(Fault("status", 429, {"retry-after-ms": "300"}), Fault("status", 529), Fault("status", 500),
             Fault("drop"), Fault("slow", seconds=1.0))
    started = time.monotonic()
    reply = client.ask(request())
    assert reply.text.endswith("Yes")
    assert len(api.calls) == 6 and sum(api.answered.values()) == 1
    assert time.monotonic() - started >= 0.3 + 0.4  # the retry-after wait, then the timed-out slow reply
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["outcome"] for e in events] == ["retry"] * 5 + ["ok"]
    assert "429" in events[0]["error"] and events[0]["wait"] >= 0.3
    assert "529" in events[1]["error"] and "500" in events[2]["error"]
    assert "connection" in events[3]["error"] and "timed out" in events[4]["error"]
    assert client.ledger.models()[0].requests == 1  # failed tries are not billed


def test_giving_up_rejections_and_bad_keys(api, tmp_path):
    client = make_client(api, tmp_path, retry=RetryPolicy(attempts=2, base=0.01))
    api.fail(Fault("status", 503), Fault("status", 503))
    with pytest.raises(RequestFailed, match="gave up after 2 tries: HTTP 503"):
        client.ask(request("a"))
    api.fail(Fault("status", 400))
    with pytest.raises(RequestFailed, match="HTTP 400"):
        client.ask(request("b"))
    assert len(api.calls) == 3  # a 400 is not retried
    assert client.budget.reserved == 0
    bad = make_client(api, tmp_path, backend=AnthropicBackend("sk-wrong", base_url=api.url))
    with pytest.raises(FatalRemoteError, match="401"):
        bad.ask(request("c"))


def test_concurrent_asks_share_one_call_and_the_cache_survives_a_restart(api, tmp_path):
    client = make_client(api, tmp_path)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: client.ask(request("same <<no>>")), range(8)))
        others = list(pool.map(lambda i: client.ask(request(f"q{i} <<yes>>")), range(20)))
    assert len({r.text for r in replies}) == 1 and len(others) == 20
    assert len(api.calls) == 21
    fresh = make_client(api, tmp_path)
    assert fresh.ask(request("q7 <<yes>>")).cached and len(api.calls) == 21
    assert len(ResponseCache(tmp_path / "cache.sqlite")) == 21


def test_the_cache_key_covers_everything_that_shapes_a_reply():
    base = request()
    assert base.key("anthropic") == request().key("anthropic")
    variants = [request(temperature=1.0), request("other"), Request.make(MODEL, list(base.messages), 65),
                Request.make(MODEL, list(base.messages), 64, system="be brief"),
                Request.make("claude-3-haiku", list(base.messages), 64),
                Request.make(MODEL, list(base.messages), 64, params=dict(base.params), prompt_version="test@2")]
    keys = {base.key("anthropic"), base.key("openai"), *(v.key("anthropic") for v in variants)}
    assert len(keys) == 8


def test_replies_from_another_server_are_cached_apart(api, tmp_path):
    """The same model name on another endpoint (a local server, a proxy) is not answered from the
    first one's cache; the provider's own endpoint keeps the plain backend name."""
    assert cache_scope("openai", None) == cache_scope("openai", "https://api.openai.com/v1/") == "openai"
    assert cache_scope("anthropic", "https://api.anthropic.com") == "anthropic"
    assert cache_scope("openai", "http://127.0.0.1:8000/v1/") == "openai@http://127.0.0.1:8000/v1"
    first = make_client(api, tmp_path)
    first.ask(request())
    with FakeAPI() as other:
        elsewhere = make_client(other, tmp_path)  # the same cache file
        reply = elsewhere.ask(request())
        assert not reply.cached and len(other.calls) == 1
    assert make_client(api, tmp_path).ask(request()).cached and len(api.calls) == 1
    assert len(ResponseCache(tmp_path / "cache.sqlite")) == 2


def test_budget_never_lets_spending_pass_the_limit(api, tmp_path):
    client = make_client(api, tmp_path, limit=0.004)
    answered = 0
    with pytest.raises(SpendCapReached, match=r"stopped before --max-cost 0\.004 USD"):
        for i in range(100):
            client.ask(request(f"question {i} <<yes>>"))
            answered += 1
    spent = client.ledger.total_cost()
    assert 0 < answered < 100 and spent <= 0.004
    input_tokens, output_tokens = map(sum, zip(*api.usage, strict=True))
    assert spent == pytest.approx((input_tokens * 3 + output_tokens * 15) / 1e6)
    assert client.budget.spent == pytest.approx(spent) and client.budget.reserved == pytest.approx(0)


def test_unknown_prices_block_a_budget_but_not_a_plain_run(api, tmp_path):
    client = make_client(api, tmp_path, limit=1.0)
    unpriced = Request.make("my-model", [{"role": "user", "content": "x"}], 16)
    with pytest.raises(SpendCapReached):
        client.ask(unpriced)
    free = make_client(api, tmp_path)
    free.ask(unpriced)
    assert free.ledger.total_cost() is None


def test_price_table_prefixes_overrides_and_batch_discount(tmp_path):
    table = PriceTable()
    assert table.cost("anthropic", "claude-3-5-sonnet-20241022", 1_000_000, 0) == 3.0
    assert table.cost("anthropic", "claude-3-5-sonnet-20241022", 0, 1_000_000, batch=True) == 7.5
    assert table.cost("openai", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.lookup("openai", "local") is None
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"openai:local": [1, 2], "anthropic:claude-3-5-sonnet": {"input": 1, "output": 1}}))
    custom = PriceTable.load(str(path))
    assert custom.cost("openai", "local", 1_000_000, 1_000_000) == 3.0
    assert custom.cost("anthropic", "claude-3-5-sonnet-x", 1_000_000, 0) == 1.0
    path.write_text('{"local": 1}')
    with pytest.raises(ConfigError, match="must be named backend:model"):
        PriceTable.load(str(path))


def test_openai_compatible_chat(api, tmp_path):
    backend = OpenAIChatBackend(KEY, base_url=api.url + "/v1", timeout=2)
    client = make_client(api, tmp_path, backend=backend)
    api.fail(Fault("status", 429, {"retry-after": "0"}), Fault("drop"))
    system = Request.make("gpt-4o", [{"role": "user", "content": "<<no>>"}], 32, system="grade")
    reply = client.ask(system)
    assert reply.text.endswith("**No**") and len(api.calls) == 3
    assert api.calls[-1]["messages"][0] == {"role": "system", "content": "grade"}
    assert client.key(system) != system.key("anthropic")
    nokey = make_client(api, tmp_path, backend=OpenAIChatBackend("wrong", base_url=api.url + "/v1"))
    with pytest.raises(FatalRemoteError, match="401"):
        nokey.ask(Request.make("gpt-4o", [{"role": "user", "content": "z"}], 8))


def test_model_refs_and_keys():
    assert parse_model_ref("anthropic:claude-x") == ModelRef("anthropic", "claude-x")
    assert parse_model_ref("openai:Qwen/Qwen2.5-7B") == ModelRef("openai", "Qwen/Qwen2.5-7B")
    for bad in ("claude", "gemini:x", "openai:"):
        with pytest.raises(ConfigError, match="expected anthropic:MODEL or openai:MODEL"):
            parse_model_ref(bad)
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        api_key("anthropic", environ={})
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        api_key("openai", environ={})
    assert api_key("openai", base_url="http://localhost:8000/v1", environ={}) is None


# -------------------------------------------------------------------------------------------- batches


def runner_for(api, tmp_path, client=None, **kwargs) -> BatchRunner:
    client = client or make_client(api, tmp_path)
    return BatchRunner(client, client.backend, tmp_path / "batches.json", poll_interval=0.01, **kwargs)


def test_batches_resubmit_only_failed_and_expired_requests(api, tmp_path):
    requests = {r.key("anthropic"): r for r in (request(f"b{i} <<yes>>") for i in range(6))}
    keys = sorted(requests)
    script = {keys[0]: ["errored:overloaded_error", "succeeded"], keys[1]: ["expired", "succeeded"],
              keys[2]: ["errored:invalid_request_error"]}
    api.batch_outcome = lambda cid, n: script.get(cid, ["succeeded"])[min(n, len(script.get(cid, [1])) - 1)]
    runner = runner_for(api, tmp_path)
    runner.run(requests)
    assert len(api.batches) == 2
    assert api.submissions[keys[0]] == api.submissions[keys[1]] == 2
    assert all(api.submissions[k] == 1 for k in keys[2:])  # succeeded ones (and the rejected one) only once
    assert set(runner.failures) == {keys[2]} and "invalid_request_error" in runner.failures[keys[2]]
    cache = runner.client.cache
    assert all(k in cache for k in keys if k != keys[2])
    usage = runner.client.ledger.models()[0]
    assert usage.requests == usage.batch_requests == 5
    tokens = [u for u in api.usage]
    expected = sum(i * 3 + o * 15 for i, o in tokens) / 1e6 / 2  # batch price: half
    assert runner.client.ledger.total_cost() == pytest.approx(expected)
    state = json.loads((tmp_path / "batches.json").read_text())
    assert [b["collected"] for b in state["batches"]] == [True, True]


def test_a_killed_batch_run_resumes_the_same_batch(api, tmp_path):
    api.batch_polls = 3
    requests = {r.key("anthropic"): r for r in (request(f"k{i} <<no>>") for i in range(4))}

    def crash(update):
        raise KeyboardInterrupt

    first = runner_for(api, tmp_path, on_progress=crash)
    with pytest.raises(KeyboardInterrupt):
        first.run(requests)
    assert len(api.batches) == 1 and first.pending_batches() == ["msgbatch_0001"]
    second = runner_for(api, tmp_path)
    assert second.pending_batches() == ["msgbatch_0001"]
    second.run(requests)
    assert len(api.batches) == 1 and all(n == 1 for n in api.submissions.values())
    assert all(k in second.client.cache for k in requests)
    assert second.pending_batches() == []


def test_a_batch_collected_again_after_a_kill_is_not_counted_twice(api, tmp_path):
    requests = {r.key("anthropic"): r for r in (request(f"c{i} <<yes>>") for i in range(4))}
    first = runner_for(api, tmp_path)
    first.run(requests)
    assert first.client.ledger.models()[0].requests == 4
    # as a run killed while collecting leaves it: the results stored (and logged), the batch not marked collected
    state = json.loads((tmp_path / "batches.json").read_text())
    state["batches"][0]["collected"] = False
    (tmp_path / "batches.json").write_text(json.dumps(state))
    logged = (tmp_path / "log.jsonl").read_text().count('"outcome": "ok"')
    second = runner_for(api, tmp_path)
    second.run(requests)
    assert second.pending_batches() == [] and len(api.batches) == 1
    assert second.client.ledger.models() == []  # paid once, counted by the run that stored them
    assert (tmp_path / "log.jsonl").read_text().count('"outcome": "ok"') == logged == 4


def test_batch_budget_submits_only_what_fits(api, tmp_path):
    client = make_client(api, tmp_path, limit=0.0015)
    requests = {r.key("anthropic"): r for r in (request(f"m{i} <<yes>>") for i in range(10))}
    runner = runner_for(api, tmp_path, client=client)
    with pytest.raises(SpendCapReached, match="batch request"):
        runner.run(requests)
    submitted = sum(api.submissions.values())
    assert 0 < submitted < 10 and client.ledger.total_cost() <= 0.0015


def test_the_request_log_masks_keys(tmp_path):
    log = RequestLog(tmp_path / "log.jsonl", [KEY])
    log.write(error=f"server said: bad key {KEY}")
    log.close()
    text = (tmp_path / "log.jsonl").read_text()
    assert KEY not in text and "***" in text


def test_threads_do_not_share_a_broken_sqlite_connection(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    from s1cli.llm.base import Response

    def put(i):
        r = request(f"t{i}")
        cache.put(r.key("x"), "x", r, Response(f"reply {i}", Usage(1, 1)))
        return cache.get(r.key("x")).text

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(put, range(50))) == [f"reply {i}" for i in range(50)]
    assert len(cache) == 50
    assert threading.active_count() >= 1
