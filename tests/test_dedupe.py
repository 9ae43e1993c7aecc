"""Matching questions: normalisation, n-gram decontamination and MinHash/LSH near duplicates."""

from __future__ import annotations

import random

import numpy as np
import pytest

from s1cli.bundled import load_table
from s1cli.dedupe import (
    Decontaminator,
    EvalQuestion,
    MinHasher,
    digest,
    lsh_bands,
    near_clusters,
    normalize,
    short_hash,
    similarity,
    word_ngrams,
)

QUESTION = ("Every morning Aya goes for a nine kilometer walk and stops at a coffee shop afterwards, "
            "and the walk takes her four hours including the minutes spent in the shop.")


def test_normalize_folds_case_whitespace_and_unicode_forms():
    assert normalize("  Find\tthe   VALUE\nof x.  ") == "find the value of x."
    # NFKC: full-width digits and letters, a non-breaking space, a ligature.
    assert normalize("Ｆｉｎｄ\u00a0１２ ﬁrst") == "find 12 first"
    assert normalize("") == ""


def test_digest_is_64_bits_and_the_same_for_equal_normal_forms():
    assert digest(normalize("What is  2+2?")) == digest(normalize("what is 2+2?"))
    assert digest(normalize("What is 2+2?")) != digest(normalize("What is 2+3?"))
    value = digest("what is 2+2?")
    assert 0 <= value < 2**64 and short_hash(value) == f"{value:016x}" and len(short_hash(value)) == 16


def test_word_ngrams():
    assert list(word_ngrams(["a", "b", "c", "d"], 3)) == ["a b c", "b c d"]
    assert list(word_ngrams(["a", "b"], 3)) == []


def eval_index(n=8):
    return Decontaminator([EvalQuestion("aime", "aime-1", QUESTION), EvalQuestion("tiny", "t-1", "Compute 2+2.")], n)


def test_a_verbatim_copy_matches_and_names_the_benchmark_question_and_ngram():
    found = eval_index().matches(normalize(QUESTION).split())
    assert len(found) == 1
    match = found[0]
    assert (match.benchmark, match.benchmark_id) == ("aime", "aime-1")
    assert match.ngram == "every morning aya goes for a nine kilometer"
    assert match.shared == len(normalize(QUESTION).split()) - 8 + 1


def test_eight_shared_words_match_seven_do_not():
    index = eval_index()
    words = normalize(QUESTION).split()
    eight = "Completely different start " + " ".join(words[5:13]) + " and a different end."
    seven = "Completely different start " + " ".join(words[5:12]) + " and a different end."
    assert [m.ngram for m in index.matches(normalize(eight).split())] == [" ".join(words[5:13])]
    assert index.matches(normalize(seven).split()) == []
    assert eval_index(n=7).matches(normalize(seven).split()) != []


def test_case_and_whitespace_do_not_hide_a_copy():
    shouted = "  " + QUESTION.upper().replace(" ", "\n  ") + "  "
    assert [m.benchmark for m in eval_index().matches(normalize(shouted).split())] == ["aime"]


def test_a_short_evaluation_question_matches_only_an_equal_question():
    index = eval_index()
    assert [m.benchmark_id for m in index.matches(normalize("COMPUTE   2+2.").split())] == ["t-1"]
    assert index.matches(normalize("Compute 2+2. Then compute 3+3.").split()) == []
    assert index.matches([]) == []


def test_every_bundled_evaluation_question_matches_itself_and_only_its_own_set_mostly():
    questions = [EvalQuestion(name, row["id"], row["question"])
                 for name in ("aime24", "aime25", "math500") for row in load_table(name)]
    index = Decontaminator(questions)
    assert index.sizes == {"aime24": 30, "aime25": 30, "math500": 500}
    for q in questions:
        ids = {(m.benchmark, m.benchmark_id) for m in index.matches(normalize(q.question).split())}
        assert (q.benchmark, q.id) in ids


def test_bundled_pool_sample_gsm8k_questions_are_clean():
    index = Decontaminator([EvalQuestion("math500", r["id"], r["question"]) for r in load_table("math500")])
    gsm8k = [r for r in load_table("pool_sample") if r["source"] == "gsm8k"]
    assert len(gsm8k) == 200
    assert all(index.matches(normalize(r["question"]).split()) == [] for r in gsm8k)


# -- near duplicates -------------------------------------------------------------------------------


def words(seed: int, count: int = 40) -> list[str]:
    rng = random.Random(seed)
    vocabulary = ["sum", "of", "the", "integers", "prime", "triangle", "area", "find", "x", "y", "n", "circle",
                  "radius", "$5$", "$n$", "equal", "less", "than", "greater", "real"]
    return [rng.choice(vocabulary) + str(rng.randrange(50)) for _ in range(count)]


def signatures(texts: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    hasher = MinHasher()
    sigs = np.stack([hasher.signature(t) for t in texts])
    keys = np.array([digest(" ".join(t)) for t in texts], dtype=np.uint64)
    return sigs, keys


def partition(labels: np.ndarray, names: list) -> set[frozenset]:
    groups: dict[int, set] = {}
    for label, name in zip(labels.tolist(), names, strict=True):
        groups.setdefault(label, set()).add(name)
    return {frozenset(g) for g in groups.values()}


def test_minhash_estimates_jaccard_of_word_shingles():
    base = words(1)
    one_word_changed = [*base[:20], "changed", *base[21:]]
    sigs, _ = signatures([base, one_word_changed, words(2)])
    shingles = [{" ".join(t[i:i + 3]) for i in range(len(t) - 2)} for t in (base, one_word_changed)]
    true_jaccard = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
    assert abs(similarity(sigs, 0, 1) - true_jaccard) < 0.12
    assert similarity(sigs, 0, 2) < 0.1
    assert similarity(sigs, 0, 0) == 1.0


def test_near_copies_cluster_and_different_questions_do_not():
    base, other = words(1), words(2)
    texts = {"base": base, "one_word": [*base[:20], "changed", *base[21:]], "appended": [*base, "please"],
             "other": other, "other_typo": [*other[:-1], "typo"], "unrelated": words(3)}
    sigs, keys = signatures(list(texts.values()))
    labels = near_clusters(sigs, keys, threshold=0.8)
    assert partition(labels, list(texts)) == {frozenset({"base", "one_word", "appended"}),
                                              frozenset({"other", "other_typo"}), frozenset({"unrelated"})}


def test_the_threshold_decides_how_near_is_near():
    base = words(4)
    half = [*base[:20], *words(5, 20)]  # shares about a third of its shingles
    sigs, keys = signatures([base, half])
    assert len(set(near_clusters(sigs, keys, threshold=0.8).tolist())) == 2
    assert len(set(near_clusters(sigs, keys, threshold=0.2).tolist())) == 1


def test_clusters_do_not_depend_on_the_order_of_the_rows():
    rng = random.Random(0)
    texts, names = [], []
    for i in range(60):
        base = words(100 + i)
        texts.append(base)
        names.append(f"q{i}")
        for j in range(rng.randrange(3)):
            copy = list(base)
            copy[rng.randrange(len(copy))] = f"edit{j}"
            texts.append(copy)
            names.append(f"q{i}-copy{j}")
    sigs, keys = signatures(texts)
    expected = partition(near_clusters(sigs, keys, 0.8), names)
    assert len(expected) < len(texts)  # some copies did cluster
    for seed in range(3):
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        shuffled = partition(near_clusters(sigs[order], keys[order], 0.8), [names[i] for i in order])
        assert shuffled == expected


def test_lsh_bands_fit_the_signature():
    for threshold in (0.5, 0.8, 0.95):
        bands, rows = lsh_bands(threshold, 128)
        assert bands >= 1 and rows >= 1 and bands * rows <= 128


def test_degenerate_inputs():
    with pytest.raises(ValueError):
        Decontaminator([], 0)
    sigs, keys = signatures([words(1)])
    assert near_clusters(sigs, keys).tolist() == [0]
    assert MinHasher().signature(["one"]).shape == (128,)
