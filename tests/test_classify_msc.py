"""`s1 classify-msc` end to end: the offline classifier, API models against a real HTTP server on 127.0.0.1
(fakes/anthropic_api.py: valid answers, an invalid answer then a valid one, invalid twice, faults, cache,
resume after a kill, batches, cost), a local tiny model, --compare, and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fakes.anthropic_api import KEY, FakeAPI, Fault
from s1cli.bundled import load_table
from s1cli.msc import all_classes, normalize_label
from s1cli.table import read_rows, write_table

from .conftest import kill_after_answers, run_s1

MODEL = "claude-3-5-sonnet-20241022"
NAMES = {c.code: c.name for c in all_classes()}
# What the fake model answers, turn by turn, for each question (a marker in the question):
#   one answer: valid at once; "x|05": invalid, then valid; "99|00": invalid twice (00 is not an s1 candidate)
SCRIPT = ["11", "51", "05", "60", "maybe|05", "Number theory, I think|11", "99|00", "none|none", "12", "26"]
EXPECTED = ["11", "51", "05", "60", "05", "11", None, None, "12", "26"]


def msc_reply(prompt: str, turns: int) -> str:
    """The fake model: a rationale, then the scripted last line for this turn."""
    match = re.search(r"<<msc:([^>]*)>>", prompt)
    script = match.group(1).split("|") if match else ["11"]
    return f"The question needs ideas from this field.\n\n{script[min(turns, len(script)) - 1]}"


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeAPI(reply=msc_reply) as server:
        yield server


def write_questions(tmp_path: Path, script: list[str] = SCRIPT, name: str = "q.jsonl") -> Path:
    rows = [{**row, "question": f"{row['question']}\n<<msc:{answer}>>"}
            for row, answer in zip(load_table("math500"), script, strict=False)]
    path = tmp_path / name
    write_table(path, rows)
    return path


def llm_args(api: FakeAPI, tmp_path: Path, *extra: str) -> list[str]:
    return ["--classifier", f"anthropic:{MODEL}", "--base-url", api.url, "--cache", str(tmp_path / "cache.sqlite"),
            "--backoff", "0.01", "--timeout", "2", "--poll-interval", "0.01", *extra]


def assert_labels_exist(rows: list[dict]) -> None:
    for row in rows:
        assert row["msc"] is None or (row["msc"] in NAMES and row["msc_name"] == NAMES[row["msc"]])
        assert (row["msc"] is None) == (row["msc_name"] is None)


# ------------------------------------------------------------------------------------------ offline


def test_offline_labels_every_row_keeps_columns_and_prints_the_distribution(tmp_path):
    rows = load_table("math500")[:80]
    write_table(tmp_path / "q.parquet", rows)
    done = run_s1("classify-msc", tmp_path / "q.parquet", tmp_path / "out.parquet")
    assert done.exit_code == 0, done.stderr
    out = read_rows(tmp_path / "out.parquet")
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert all(r["solution"] == s["solution"] and r["metadata"] == s["metadata"]
               for r, s in zip(out, rows, strict=True))
    assert all(r["msc"] is not None and r["msc"] not in ("00", "01") for r in out)
    assert all(r["msc_detail"].startswith(f"offline: {r['msc']} ") for r in out)
    assert_labels_exist(out)
    assert "MSC classes of 80 rows" in done.stderr and "Geometry" in done.stderr
    assert "candidate classes used" in done.stderr
    piped = run_s1("--quiet", "classify-msc", tmp_path / "q.parquet", "-", "--candidates", "05,11,51,60")
    assert piped.exit_code == 0 and piped.stderr == ""
    lines = [json.loads(line) for line in piped.stdout.splitlines()]
    assert len(lines) == 80 and {r["msc"] for r in lines} <= {"05", "11", "51", "60"}


def test_offline_empty_question_is_null(tmp_path):
    write_table(tmp_path / "q.jsonl", [{"id": "a", "question": "  "}, {"id": "b", "question": "Is 91 prime?"}])
    done = run_s1("classify-msc", tmp_path / "q.jsonl", tmp_path / "out.jsonl")
    assert done.exit_code == 0, done.stderr
    out = read_rows(tmp_path / "out.jsonl")
    assert (out[0]["msc"], out[0]["msc_name"], out[0]["msc_detail"]) == (None, None, "empty question")
    assert out[1]["msc"] == "11"
    assert "warning: 1 of 2 rows got no valid MSC code (msc is null; see msc_detail), e.g. row 'a': " \
           "'empty question'" in done.stderr
    write_table(tmp_path / "blank.jsonl", [{"id": "a", "question": " "}, {"id": "b", "question": "\n"}])
    blank = run_s1("classify-msc", tmp_path / "blank.jsonl", tmp_path / "blank-out.jsonl")
    assert blank.exit_code == 2 and blank.stderr.strip().splitlines()[-1].startswith(
        f"error: none of the 2 rows in {tmp_path / 'blank-out.jsonl'} got a valid MSC code from offline; the first "
        "reply, for row 'a': 'empty question'")
    assert len(read_rows(tmp_path / "blank-out.jsonl")) == 2


def test_offline_resume_and_overwrite(tmp_path):
    rows = load_table("math500")[:30]
    write_table(tmp_path / "q.jsonl", rows)
    out = tmp_path / "out.jsonl"
    write_table(out, [{**rows[0], "msc": "97", "msc_name": NAMES["97"], "msc_detail": "earlier run"}])
    done = run_s1("classify-msc", tmp_path / "q.jsonl", out)
    assert done.exit_code == 0 and "resuming: 1 of 30 rows" in done.stderr
    written = read_rows(out)
    assert len(written) == 30 and written[0]["msc_detail"] == "earlier run"
    again = run_s1("classify-msc", tmp_path / "q.jsonl", out, "--overwrite")
    assert again.exit_code == 0 and read_rows(out)[0]["msc_detail"].startswith("offline: ")


def test_compare_prints_agreement_and_writes_the_disagreeing_rows(tmp_path):
    rows = load_table("math500")[:40]
    labels = run_s1("--quiet", "classify-msc", "-", "-", input="".join(json.dumps(r) + "\n" for r in rows))
    assert labels.exit_code == 0, labels.stderr
    ours = [json.loads(line)["msc"] for line in labels.stdout.splitlines()]
    # the existing labels: titles as the s1 featurized release stores them, with 3 changed and 2 missing
    theirs = [NAMES[code] for code in ours]
    theirs[3], theirs[7], theirs[9] = "Statistics" if ours[3] != "62" else "Geometry", "92", "Number Theory"
    theirs[5] = theirs[6] = None
    for row, label in zip(rows, theirs, strict=True):
        row["domain"] = label
    write_table(tmp_path / "labelled.csv", rows)
    done = run_s1("classify-msc", tmp_path / "labelled.csv", tmp_path / "audit.csv", "--compare", "domain")
    assert done.exit_code == 0, done.stderr
    changed = [i for i in (3, 7, 9) if normalize_label(theirs[i]) != ours[i]]
    assert changed
    assert f"agreement with domain: {(38 - len(changed)) / 38:.1%} ({38 - len(changed)} of 38 rows)" in done.stderr
    assert "2 rows without a label on one side were not compared" in done.stderr
    audit = read_rows(tmp_path / "audit.disagreements.csv")
    assert [r["id"] for r in audit] == [rows[i]["id"] for i in changed]
    assert set(audit[0]) == {"id", "question", "domain", "msc", "msc_name", "msc_detail"}


def test_compare_with_the_column_this_run_writes_is_refused(tmp_path):
    write_table(tmp_path / "q.jsonl", [{"id": "a", "question": "Is 7 prime?", "msc": "11"}])
    done = run_s1("classify-msc", tmp_path / "q.jsonl", tmp_path / "out.jsonl", "--compare", "msc")
    assert done.exit_code == 2
    assert done.stderr.strip() == ("error: --compare msc: this run writes 'msc'; rename the existing labels as they "
                                   "are read, e.g. --map old_msc=msc --compare old_msc")
    mapped = run_s1("classify-msc", tmp_path / "q.jsonl", tmp_path / "out.jsonl", "--map", "old_msc=msc",
                    "--compare", "old_msc")
    assert mapped.exit_code == 0 and "agreement with old_msc: 100.0% (1 of 1 rows)" in mapped.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--classifier", "gpt4"], "error: --classifier 'gpt4': expected offline, anthropic:MODEL, openai:MODEL, hf:PATH "
                               "or vllm:PATH (e.g. anthropic:claude-3-5-sonnet-20241022)"),
    (["--level", "3"], "error: --level 3: only level 2 (the 63 two-digit MSC2020 classes) is bundled"),
    (["--candidates", "05,1x"], "error: --candidates: '1x' is not a top-level MSC2020 code (two digits, e.g. 05, 11, "
                                "51; or use s1 or all)"),
    (["--message-batches"],
     "error: --message-batches applies to API classifiers (anthropic:MODEL, openai:MODEL), not offline"),
    (["--compare", "claude"], "error: --compare claude: no row of {src} has a column 'claude'"),
    (["--question-column", "problem"], "error: {src}:1: column 'problem' is missing"),
    (["--classifier", "anthropic:claude-x", "--message-batches", "--dry-run", "--max-cost", "1"],
     "error: --max-cost: no price for anthropic:claude-x; add one with --prices FILE, "
     'e.g. {{"anthropic:claude-x": {{"input": 3.0, "output": 15.0}}}}'),
    (["--classifier", "hf:./no/such/model"], "error: --classifier hf:./no/such/model: no such model directory"),
])
def test_bad_options_and_input_are_one_line_exit_2_and_write_nothing(tmp_path, args, message):
    src = tmp_path / "q.jsonl"
    write_table(src, load_table("math500")[:3])
    out = tmp_path / "out.jsonl"
    done = run_s1("classify-msc", src, out, *args)
    assert done.exit_code == 2, done.stderr
    assert done.stderr.strip() == message.format(src=src)
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_a_bad_row_stops_before_any_work(tmp_path):
    rows = load_table("math500")[:5]
    rows[3]["question"] = None
    src = tmp_path / "q.jsonl"
    write_table(src, rows)
    done = run_s1("classify-msc", src, tmp_path / "out.parquet")
    assert done.exit_code == 2 and done.stderr.strip() == f"error: {src}:4: column 'question' is null"
    assert not (tmp_path / "out.parquet").exists()


def test_missing_api_key_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    src = write_questions(tmp_path)
    done = run_s1("classify-msc", src, tmp_path / "out.jsonl", "--classifier", f"anthropic:{MODEL}")
    assert done.exit_code == 2
    assert done.stderr.strip() == "error: anthropic judge needs an API key: set ANTHROPIC_API_KEY in the environment"


# ------------------------------------------------------------------------------------------ API models


def test_llm_answers_retry_an_invalid_one_once_then_record_null_and_cache_everything(api, tmp_path):
    src = write_questions(tmp_path)
    out = tmp_path / "out.jsonl"
    done = run_s1("classify-msc", src, out, *llm_args(api, tmp_path), "--concurrency", "3")
    assert done.exit_code == 0, done.stderr
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [r["id"] for r in read_rows(src)]
    assert [r["msc"] for r in rows] == EXPECTED
    assert_labels_exist(rows)
    assert rows[0]["msc_detail"] == "The question needs ideas from this field.\n\n11"
    assert rows[6]["msc_detail"] == "no valid code after a retry: The question needs ideas from this field.\n\n00"
    assert len(api.calls) == 14 and set(api.answered.values()) == {1}  # 10 questions + 4 follow-ups
    # the first request lists the 61 s1 classes; a follow-up quotes the invalid answer and says why
    first = api.calls[0]["messages"][0]["content"]
    assert first.count("* Code: ") == 61 and "* Code: 00" not in first and "### Number theory" in first
    follow_ups = [c["messages"] for c in api.calls if len(c["messages"]) == 3]
    quoted = {m[2]["content"].split(", which")[0] for m in follow_ups}
    assert quoted == {'Your reply ended with "maybe"', 'Your reply ended with "Number theory, I think"',
                      'Your reply ended with "99"', 'Your reply ended with "none"'}
    assert any("99 is not one of the listed classes" in m[2]["content"] for m in follow_ups)
    assert "2 rows" in done.stderr or "no valid code (see msc_detail)" in done.stderr
    cost = json.loads((tmp_path / "out.cost.json").read_text())
    assert cost["runs"][0]["status"] == "completed" and cost["runs"][0]["models"][0]["requests"] == 14
    assert KEY not in (tmp_path / "out.llm-log.jsonl").read_text()

    again = run_s1("classify-msc", src, tmp_path / "again.jsonl", *llm_args(api, tmp_path))
    assert again.exit_code == 0 and len(api.calls) == 14  # every reply from the cache
    assert read_rows(tmp_path / "again.jsonl") == rows
    resumed = run_s1("classify-msc", src, out, *llm_args(api, tmp_path))
    assert resumed.exit_code == 0 and "resuming: 10 of 10 rows" in resumed.stderr and len(api.calls) == 14


def test_no_valid_code_in_any_row_fails_with_one_line_and_keeps_the_rows(api, tmp_path):
    src = write_questions(tmp_path, ["maybe|none", "99|00", "Number theory|geometry"])
    out = tmp_path / "out.jsonl"
    done = run_s1("classify-msc", src, out, *llm_args(api, tmp_path))
    assert done.exit_code == 2
    first = read_rows(src)[0]["id"]
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: none of the 3 rows in {out} got a valid MSC code from anthropic:{MODEL}; the first reply, for "
        f"row {first!r}: 'no valid code after a retry: The question needs ideas from this field. none'; the rows "
        "are kept, with each reply in msc_detail: check the classifier (a larger model, --max-tokens, "
        "--candidates), then rerun with --overwrite")
    rows = read_rows(out)  # a record of what the model said
    assert [r["msc"] for r in rows] == [None] * 3 and all(r["msc_detail"] for r in rows)
    assert json.loads((tmp_path / "out.cost.json").read_text())["runs"][0]["models"][0]["requests"] == 6
    again = run_s1("classify-msc", src, out, *llm_args(api, tmp_path))  # OUT still holds no code: still an error
    assert again.exit_code == 2 and "none of the 3 rows" in again.stderr and len(api.calls) == 6


def test_some_rows_without_a_valid_code_warn_and_exit_0(api, tmp_path):
    src = write_questions(tmp_path, ["11", "99|00", "51", "none|none"])
    done = run_s1("classify-msc", src, tmp_path / "out.jsonl", *llm_args(api, tmp_path))
    assert done.exit_code == 0, done.stderr
    second = read_rows(src)[1]["id"]
    assert (f"warning: 2 of 4 rows got no valid MSC code (msc is null; see msc_detail), e.g. row {second!r}: 'no "
            "valid code after a retry: The question needs ideas from this field. 00'") in done.stderr
    quiet = run_s1("--quiet", "classify-msc", src, tmp_path / "out.jsonl", *llm_args(api, tmp_path))
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_openai_compatible_server_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeAPI(reply=msc_reply, key="") as api:
        src = write_questions(tmp_path, SCRIPT[:5])
        done = run_s1("classify-msc", src, tmp_path / "out.jsonl", "--classifier", "openai:qwen2.5-72b",
                      "--base-url", f"{api.url}/v1", "--cache", str(tmp_path / "c.sqlite"))
        assert done.exit_code == 0, done.stderr
        assert [r["msc"] for r in read_rows(tmp_path / "out.jsonl")] == EXPECTED[:5]
        assert api.paths[0] == "POST /v1/chat/completions"


def test_faults_are_retried_and_a_hopeless_row_is_left_for_a_rerun(api, tmp_path):
    src = write_questions(tmp_path, SCRIPT[:4])
    api.fail(Fault("status", 429, {"retry-after": "0"}), Fault("status", 529), Fault("status", 500), Fault("drop"))
    done = run_s1("classify-msc", src, tmp_path / "out.jsonl", *llm_args(api, tmp_path), "--concurrency", "1")
    assert done.exit_code == 0, done.stderr
    assert [r["msc"] for r in read_rows(tmp_path / "out.jsonl")] == EXPECTED[:4]
    events = [json.loads(line) for line in (tmp_path / "out.llm-log.jsonl").read_text().splitlines()]
    assert [e["outcome"] for e in events].count("retry") == 4

    api.fail(*[Fault("status", 503)] * 2)
    src2 = write_questions(tmp_path, ["33", "34"], name="q2.jsonl")
    failed = run_s1("classify-msc", src2, tmp_path / "out2.jsonl", *llm_args(api, tmp_path), "--retries", "2",
                    "--concurrency", "1")
    assert failed.exit_code == 2
    assert "1 rows not labelled" in failed.stderr and "rerun the same command to retry them" in failed.stderr
    assert [r["msc"] for r in read_rows(tmp_path / "out2.jsonl")] == ["34"]
    rerun = run_s1("classify-msc", src2, tmp_path / "out2.jsonl", *llm_args(api, tmp_path))
    assert rerun.exit_code == 0 and sorted(r["msc"] for r in read_rows(tmp_path / "out2.jsonl")) == ["33", "34"]


def test_a_run_killed_mid_way_repeats_no_answered_request(api, tmp_path):
    src = write_questions(tmp_path)
    out = tmp_path / "out.jsonl"
    # answered 6 times, then killed while later calls hang
    kill_after_answers(api, ["classify-msc", src, out, *llm_args(api, tmp_path), "--concurrency", "2"], 6)
    answered_before = set(api.answered)
    assert len(answered_before) == 6
    api.release()
    done = run_s1("classify-msc", src, out, *llm_args(api, tmp_path))
    assert done.exit_code == 0, done.stderr
    assert all(api.answered[d] == 1 for d in answered_before)  # nothing paid for was asked again
    rows = {r["id"]: r["msc"] for r in read_rows(out)}
    assert rows == {r["id"]: code for r, code in zip(read_rows(src), EXPECTED, strict=True)}
    # the cost record counts every reply the server sent once: the killed run's from its request log
    record = json.loads((tmp_path / "out.cost.json").read_text())
    assert [r["status"] for r in record["runs"]] == ["killed", "completed"]
    models = [m for run in record["runs"] for m in run["models"]]
    assert record["total_requests"] == len(api.usage) == 14
    assert sum(m["input_tokens"] for m in models) == sum(i for i, _ in api.usage)
    assert sum(m["output_tokens"] for m in models) == sum(o for _, o in api.usage)
    assert record["total_cost_usd"] == pytest.approx(sum(i * 3 + o * 15 for i, o in api.usage) / 1e6, abs=1e-6)


def test_batches_and_dry_run(api, tmp_path):
    src = write_questions(tmp_path)
    dry = run_s1("classify-msc", src, tmp_path / "out.jsonl", *llm_args(api, tmp_path), "--message-batches",
                 "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "would send 10 calls" in dry.stderr and not api.calls and not api.paths
    assert not (tmp_path / "out.jsonl").exists()
    done = run_s1("classify-msc", src, tmp_path / "out.jsonl", *llm_args(api, tmp_path), "--message-batches")
    assert done.exit_code == 0, done.stderr
    out = read_rows(tmp_path / "out.jsonl")  # in the order rows finish: retried ones after a second batch
    assert {r["id"]: r["msc"] for r in out} == {r["id"]: code for r, code in zip(read_rows(src), EXPECTED,
                                                                                   strict=True)}
    assert not api.calls and len(api.batches) == 2  # questions, then the four follow-ups
    assert [len(b["requests"]) for b in api.batches.values()] == [10, 4]
    model = json.loads((tmp_path / "out.cost.json").read_text())["runs"][0]["models"][0]
    assert model["batch_requests"] == 14
    cached = run_s1("classify-msc", src, tmp_path / "out.jsonl", *llm_args(api, tmp_path), "--dry-run")
    assert "would send 0 calls" in cached.stderr


def test_dry_run_says_when_max_cost_would_stop_the_run(api, tmp_path):
    src = write_questions(tmp_path)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({f"anthropic:{MODEL}": [1000, 1000]}))  # the prompt lists 61 classes: ~$3 a call
    args = [*llm_args(api, tmp_path), "--prices", str(prices), "--max-tokens", "16", "--dry-run"]
    at_once = run_s1("classify-msc", src, tmp_path / "out.jsonl", *args, "--max-cost", "1")
    assert at_once.exit_code == 0, at_once.stderr
    assert "--max-cost 1 would stop the run at once: its first call could cost up to $" in at_once.stderr
    batched = run_s1("classify-msc", src, tmp_path / "out.jsonl", *args, "--max-cost", "20", "--message-batches")
    assert "--max-cost 20 would stop the run before the end: the input alone is estimated at $" in batched.stderr
    assert "(batch prices)" in batched.stderr
    assert not api.paths and not (tmp_path / "out.jsonl").exists()


def test_max_cost_stops_cleanly(api, tmp_path):
    src = write_questions(tmp_path, ["11"] * 10)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({f"anthropic:{MODEL}": [1000, 1000]}))
    args = [*llm_args(api, tmp_path), "--prices", str(prices), "--max-tokens", "16", "--concurrency", "1"]
    done = run_s1("classify-msc", src, tmp_path / "out.jsonl", *args, "--max-cost", "10")
    assert done.exit_code == 2 and "stopped before --max-cost 10 USD" in done.stderr
    assert "rows left unlabelled" in done.stderr
    kept = read_rows(tmp_path / "out.jsonl")
    assert 0 < len(kept) < 10 and json.loads((tmp_path / "out.cost.json").read_text())["total_cost_usd"] <= 10
    rest = run_s1("classify-msc", src, tmp_path / "out.jsonl", *args)
    assert rest.exit_code == 0 and len(read_rows(tmp_path / "out.jsonl")) == 10 and set(api.answered.values()) == {1}


# ------------------------------------------------------------------------------------------ local model


def test_local_tiny_model_answers_garbage_so_every_row_is_retried_then_null_and_the_run_fails(tmp_path, tiny_model):
    src = write_questions(tmp_path, SCRIPT[:3])
    out = tmp_path / "out.jsonl"
    done = run_s1("classify-msc", src, out, "--classifier", f"hf:{tiny_model}", "--candidates", "05,11,51,60",
                  "--max-tokens", "6", "--batch-size", "2")
    assert done.exit_code == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: none of the 3 rows in {out} got a valid MSC code from hf:{tiny_model}; the "
                           "first reply, for row ") and "'no valid code after a retry: " in last
    rows = read_rows(out)  # kept as a record of the replies
    assert [r["id"] for r in rows] == [r["id"] for r in read_rows(src)]
    assert all(r["msc"] is None and r["msc_name"] is None for r in rows)
    assert all(r["msc_detail"].startswith("no valid code after a retry: ") for r in rows)
    assert "no valid code (see msc_detail)" in done.stderr
    again = run_s1("classify-msc", src, out, "--classifier", f"hf:{tiny_model}")
    assert again.exit_code == 2 and "resuming: 3 of 3 rows" in again.stderr
