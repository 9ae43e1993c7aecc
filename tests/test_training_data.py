"""Training data: rendering per thinking format with hand-checked label masks, answer prefixes, long
rows, the step schedule, the packing plan, collation, the per-example attention, and which option a
bad setting's error names."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from s1cli.errors import ConfigError, InputError
from s1cli.thinking import FORMATS, get_format
from s1cli.training.config import SFTConfig
from s1cli.training.data import (
    IGNORE,
    Example,
    Renderer,
    Schedule,
    check_rows,
    collate,
    fit_to_block,
    pack,
    plan_step,
    step_normalizer,
)

ROW = {"id": "a", "question": "What is 2+2?", "thinking": "  Two plus two is four. \n", "response": " 4 "}


@pytest.fixture(scope="module")
def tok(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def regions(tok, ex):
    return (tok.decode(ex.ids[:ex.train_start]), tok.decode(ex.ids[ex.train_start:ex.train_end]),
            tok.decode(ex.ids[ex.train_end:]))


# The prompt is exactly what `s1 generate` sends; the loss covers thinking, delimiter, answer and
# <|im_end|>; the opener before the thinking and the newline after <|im_end|> carry none.
HAND_CHECKED = {
    "s1": ("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n",
           "Two plus two is four.\n<|im_start|>answer\nAnswer: 4<|im_end|>"),
    "r1": ("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n",
           "Two plus two is four.\n</think>\n\n4<|im_end|>"),
    "qwen3": ("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n",
              "Two plus two is four.\n</think>\n\n4<|im_end|>"),
}


@pytest.mark.parametrize("name", ["s1", "r1", "qwen3"])
def test_label_masks_are_exactly_the_thinking_delimiter_answer_and_end_token(tok, name):
    renderer = Renderer(tok, FORMATS[name], eos_ids=[tok.convert_tokens_to_ids("<|im_end|>")])
    ex = renderer.encode([ROW])[0]
    prompt, trained = HAND_CHECKED[name]
    assert regions(tok, ex) == (prompt, trained, "\n")
    # Token level: the prompt is tokenized alone (as at inference), then the completion, then the turn end.
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    completion = trained.removesuffix("<|im_end|>")
    assert ex.ids == [*ids(tok, prompt), *ids(tok, completion), im_end, *ids(tok, "\n")]
    assert ex.train_start == len(ids(tok, prompt))
    assert ex.train_end == ex.train_start + len(ids(tok, completion)) + 1
    # Targets: position t predicts ids[t+1]; only the trained tokens are targets, nothing else.
    targets = ex.targets()
    expected = [ex.ids[t + 1] if ex.train_start <= t + 1 < ex.train_end else IGNORE for t in range(len(ex.ids))]
    assert targets == expected
    trained_ids = [t for t in targets if t != IGNORE]
    assert tok.decode(trained_ids) == trained
    assert trained_ids[-1] == im_end
    delimiter = FORMATS[name].stop
    assert tok.convert_tokens_to_ids(delimiter) in trained_ids  # the end-of-thinking delimiter carries loss
    opener = tok.convert_tokens_to_ids("<|im_start|>" if name == "s1" else "<think>")
    assert opener not in trained_ids[:1]  # the thinking opener is prompt, not target


def test_the_s1_answer_prefix_as_the_s1_repository_and_overrides(tok):
    s1 = Renderer(tok, FORMATS["s1"])
    assert s1.completion("t", "42").endswith("<|im_start|>answer\nAnswer: 42")
    assert s1.completion("t", "Answer: 42").endswith("<|im_start|>answer\nAnswer: 42")  # not doubled
    assert Renderer(tok, FORMATS["s1"], answer_prefix="").completion("t", "42").endswith("answer\n42")
    assert Renderer(tok, FORMATS["r1"]).completion("t", "42") == "t\n</think>\n\n42"
    assert Renderer(tok, FORMATS["r1"], answer_prefix="Final: ").completion("t", "42").endswith("Final: 42")


def test_custom_format_and_system_message(tok):
    fmt = get_format("custom", start="<reasoning>", end="</reasoning>")
    renderer = Renderer(tok, fmt, system="Be brief.")
    prompt, trained, _ = regions(tok, renderer.encode([ROW])[0])
    assert prompt == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n" \
                     "<|im_start|>assistant\n<reasoning>"
    assert trained == "Two plus two is four.\n</reasoning>4<|im_end|>"


def test_a_tokenizer_without_chat_template_stops_on_its_eos(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = None
    renderer = Renderer(tok, FORMATS["r1"])
    prompt, trained, after = regions(tok, renderer.encode([ROW])[0])
    assert prompt == "What is 2+2?\n<think>\n"
    assert trained == "Two plus two is four.\n</think>\n\n4<|im_end|>" and after == ""
    assert renderer.conversation("q", "c") is None


def test_a_template_that_drops_the_thinking_does_not_lose_it(tiny_model):
    """R1-distill templates cut everything before </think> out of assistant messages. Training follows
    the generation prompt instead, so the thinking is still trained on, and the mismatch is visible."""
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = (
        "{% for m in messages %}{% if m.role == 'assistant' %}"
        "{{ '<|im_start|>assistant\\n' + m.content.split('</think>')[-1].lstrip() + '<|im_end|>\\n' }}"
        "{% else %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    renderer = Renderer(tok, FORMATS["r1"])
    _, trained, _ = regions(tok, renderer.encode([ROW])[0])
    assert trained == "Two plus two is four.\n</think>\n\n4<|im_end|>"
    whole = renderer.conversation(ROW["question"], renderer.completion(ROW["thinking"], ROW["response"]))
    assert "Two plus two" not in whole


def test_a_template_that_ignores_assistant_content_is_a_config_error(tiny_model):
    tok = AutoTokenizer.from_pretrained(tiny_model)
    tok.chat_template = "{% for m in messages %}{{ m.role }}{% endfor %}"
    with pytest.raises(ConfigError, match="does not render an assistant message's content"):
        Renderer(tok, FORMATS["s1"])


def test_check_rows_names_file_row_and_column():
    check_rows([ROW], "t.jsonl")
    with pytest.raises(InputError, match=r"^t\.jsonl: row 2 \(id 'b'\): column 'thinking' is empty$"):
        check_rows([ROW, {**ROW, "id": "b", "thinking": "  "}], "t.jsonl")


def example(length, prompt=2, row=1, trained=None):
    end = length if trained is None else prompt + trained
    return Example(row=row, id=str(row), ids=list(range(100, 100 + length)), train_start=prompt, train_end=end)


def test_long_rows_are_truncated_or_dropped_and_a_prompt_filling_the_block_is_an_error():
    rows = [example(10, row=1), example(40, row=2), example(20, prompt=12, row=3)]
    cut = fit_to_block(rows, 16, "truncate", "t.jsonl")
    assert [len(e) for e in cut.examples] == [10, 16, 16]
    assert [e.row for e in cut.truncated] == [2, 3] and cut.truncated[0].train_end == 16
    assert cut.lengths == [10, 40, 20]
    dropped = fit_to_block(rows, 16, "drop", "t.jsonl")
    assert [e.row for e in dropped.examples] == [1] and dropped.dropped == [2, 3]
    with pytest.raises(InputError, match=r"t\.jsonl: row 3 \(id '3'\): the prompt alone is 12 tokens and "
                                         r"--block-size is 12: nothing would be trained on"):
        fit_to_block(rows, 12, "truncate", "t.jsonl")
    with pytest.raises(InputError, match="every row is longer than --block-size 8"):
        fit_to_block(rows, 8, "drop", "t.jsonl")


def test_schedule_covers_every_example_once_per_epoch_in_a_seeded_order():
    s = Schedule(n_examples=10, batch_size=4, epochs=3, seed=1)
    assert s.steps_per_epoch == 3 and s.total_steps == 9
    for epoch in range(3):
        seen = [i for step in range(3 * epoch, 3 * epoch + 3) for i in s.examples_for(step)]
        assert sorted(seen) == list(range(10))
        assert [len(s.examples_for(step)) for step in range(3 * epoch, 3 * epoch + 3)] == [4, 4, 2]
    assert s.examples_for(0) != s.examples_for(3)  # a new order each epoch
    assert Schedule(10, 4, 3, seed=1).examples_for(4) == s.examples_for(4)
    assert Schedule(10, 4, 3, seed=2).examples_for(0) != s.examples_for(0)
    assert Schedule(10, 4, 3, max_steps=7).total_steps == 7
    assert Schedule(10, 4, 3, shuffle=False).examples_for(1) == [4, 5, 6, 7]


def test_plan_step_packs_within_blocks_and_balances_processes():
    examples = [example(n, row=i) for i, n in enumerate([50, 30, 30, 20, 10, 60, 5, 45])]
    indices = list(range(8))
    for world in (1, 2, 3):
        for micro in (1, 2):
            plan = plan_step(examples, indices, world_size=world, micro_batch_size=micro, block_size=64, packing=True)
            assert len(plan) == world and len({len(p) for p in plan}) == 1  # same number of passes everywhere
            placed = sorted(i for share in plan for m in share for i in m)
            assert placed == indices
            for share in plan:
                for m in share:
                    assert sum(len(examples[i]) for i in m) <= 64 * micro
    plan = plan_step(examples, indices, world_size=1, micro_batch_size=1, block_size=64, packing=True)
    assert len(plan[0]) == 5  # 250 tokens in blocks of 64: first-fit decreasing needs 5
    unpacked = plan_step(examples, indices, world_size=2, micro_batch_size=3, block_size=64, packing=False)
    assert all(len(m) <= 3 for share in unpacked for m in share)
    loads = [sum(len(examples[i]) for m in share for i in m) for share in unpacked]
    assert abs(loads[0] - loads[1]) <= 10  # longest first to the least loaded process
    lonely = plan_step(examples, [0], world_size=2, micro_batch_size=1, block_size=64, packing=True)
    assert lonely == [[[0]], [[]]]  # the idle process gets a placeholder pass


def test_pack_never_exceeds_the_block():
    examples = [example(n, row=i) for i, n in enumerate([7, 3, 9, 1, 4, 4, 8])]
    blocks = pack(examples, range(7), 10)
    assert sorted(i for b in blocks for i in b) == list(range(7))
    assert all(sum(len(examples[i]) for i in b) <= 10 for b in blocks)
    assert len(blocks) == 4


def test_collate_lays_examples_back_to_back_with_restarting_positions():
    examples = [example(5, prompt=2, row=1), example(4, prompt=3, row=2)]
    batch = collate([0, 1], examples, pad_id=0, loss_average="token")
    assert batch.input_ids.tolist() == [[100, 101, 102, 103, 104, 100, 101, 102, 103]]
    assert batch.position_ids.tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 3]]
    assert batch.cu_seq_lens.tolist() == [0, 5, 9] and batch.max_length == 5 and batch.tokens == 9
    # The last token of the first example never predicts the next example's first token.
    assert batch.targets.tolist() == [[IGNORE, 102, 103, 104, IGNORE, IGNORE, IGNORE, 103, IGNORE]]
    assert batch.weights.tolist() == [[0, 1, 1, 1, 0, 0, 0, 1, 0]]
    per_example = collate([0, 1], examples, pad_id=0, loss_average="sequence").weights.tolist()[0]
    assert per_example == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 1.0, 0])
    assert step_normalizer(examples, [0, 1], "token") == 4 and step_normalizer(examples, [0, 1], "sequence") == 2
    placeholder = collate([], examples, pad_id=7, loss_average="token")
    assert placeholder.input_ids.tolist() == [[7]] and placeholder.targets.tolist() == [[IGNORE]]
    assert placeholder.tokens == 0


def test_a_bad_setting_names_its_option_or_the_field_no_option_sets():
    def error(**options) -> str:
        with pytest.raises(ConfigError) as caught:
            SFTConfig.build(model="m", **options)
        return str(caught.value)

    assert error(micro_batch_size=0) == "--micro-batch-size: must be at least 1, got 0"
    assert error(adam_betas=(0.9, 1.5)) == "--adam-betas: must be in [0, 1), got (0.9, 1.5)"
    assert error(liger=True, loss_average="sequence").startswith("--liger computes a token-mean loss")
