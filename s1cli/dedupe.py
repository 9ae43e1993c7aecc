"""Matching questions: normalisation, exact and near duplicates, and n-gram decontamination.

Everything here compares *normalised* text (NFKC, lower-case, whitespace collapsed, as the s1
repository's ``normalize_string`` does, plus NFKC so that look-alike Unicode forms match); the
text a command stores is never changed.

- Exact duplicates share a 64-bit digest of the normalised text.
- Near duplicates are found with MinHash (datasketch) over word shingles and LSH banding; a
  candidate pair counts when its estimated Jaccard similarity reaches the threshold. Which pairs
  are compared depends only on the texts, never on the order rows arrive in.
- Decontamination drops a question sharing any word n-gram (default 8) with an evaluation
  question; an evaluation question shorter than n words matches only a question equal to it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: `s1` starts faster without it
    import numpy as np

DEFAULT_NGRAM = 8
DEFAULT_THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 3  # words per shingle for near-duplicate MinHash: short math questions need short shingles


def normalize(text: str) -> str:
    """The form two texts are compared in: NFKC, lower-case, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def digest(normalized: str) -> int:
    """A stable 64-bit digest of normalised text (the same on every machine and Python version)."""
    return int.from_bytes(hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).digest(), "big")


def short_hash(value: int) -> str:
    """A digest as 16 hex digits, for ids."""
    return f"{value:016x}"


def word_ngrams(tokens: Sequence[str], n: int) -> Iterator[str]:
    """Contiguous runs of ``n`` tokens, joined by single spaces."""
    for i in range(len(tokens) - n + 1):
        yield " ".join(tokens[i:i + n])


# ---------------------------------------------------------------------------- decontamination


@dataclass(frozen=True)
class EvalQuestion:
    benchmark: str
    id: str
    question: str


@dataclass(frozen=True)
class Match:
    """A pool question's overlap with one evaluation question."""

    benchmark: str
    benchmark_id: str
    ngram: str  # the first shared n-gram in the pool question (or the whole text for a short one)
    shared: int  # how many distinct n-grams the two share


class Decontaminator:
    """An index of evaluation questions' word n-grams, to test pool questions against."""

    def __init__(self, questions: Iterable[EvalQuestion], n: int = DEFAULT_NGRAM) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n = n
        self._grams: dict[str, list[tuple[str, str]]] = {}
        self._whole: dict[str, list[tuple[str, str]]] = {}
        self.benchmarks: list[str] = []
        self.sizes: dict[str, int] = {}
        for q in questions:
            if q.benchmark not in self.sizes:
                self.benchmarks.append(q.benchmark)
                self.sizes[q.benchmark] = 0
            self.sizes[q.benchmark] += 1
            tokens = normalize(q.question).split()
            ref = (q.benchmark, q.id)
            if len(tokens) < n:
                if tokens:
                    self._whole.setdefault(" ".join(tokens), []).append(ref)
                continue
            for gram in set(word_ngrams(tokens, n)):
                self._grams.setdefault(gram, []).append(ref)

    def matches(self, tokens: Sequence[str]) -> list[Match]:
        """The evaluation questions a pool question (as normalised tokens) overlaps; [] when clean."""
        n = self.n
        grams = self._grams
        # The common case, a clean question, in one pass that stops at nothing.
        clean = grams.keys().isdisjoint(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
        whole = self._whole.get(" ".join(tokens)) if self._whole else None
        if clean and not whole:
            return []
        first: dict[tuple[str, str], str] = {}
        shared: dict[tuple[str, str], int] = {}
        if whole:
            text = " ".join(tokens)
            for ref in whole:
                first.setdefault(ref, text)
                shared[ref] = 1
        if not clean:
            for gram in dict.fromkeys(word_ngrams(tokens, n)):
                for ref in grams.get(gram, ()):
                    first.setdefault(ref, gram)
                    shared[ref] = shared.get(ref, 0) + 1
        return [Match(bench, qid, first[(bench, qid)], shared[(bench, qid)]) for bench, qid in sorted(first)]


# ---------------------------------------------------------------------------- near duplicates


class MinHasher:
    """MinHash signatures (datasketch) of word shingles of normalised text."""

    def __init__(self, num_perm: int = NUM_PERM, shingle: int = SHINGLE, seed: int = 1) -> None:
        import xxhash
        from datasketch import MinHash

        self._minhash = MinHash
        self._hash = xxhash.xxh32_intdigest
        # Deriving the permutations costs more than hashing a question; derive them once.
        self._permutations = MinHash(num_perm=num_perm, seed=seed).permutations
        self.num_perm = num_perm
        self.shingle = shingle

    def signature(self, tokens: Sequence[str]) -> np.ndarray:
        k = self.shingle
        shingles = [" ".join(tokens[i:i + k]).encode() for i in range(len(tokens) - k + 1)]
        shingles = shingles or [" ".join(tokens).encode()]
        m = self._minhash(num_perm=self.num_perm, hashfunc=self._hash, permutations=self._permutations,
                          scheme="affine32")
        m.update_batch(shingles)
        return m.hashvalues


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's MinHashLSH picks for this threshold, weighted
    against missed pairs: every candidate is verified on its signatures, so a false candidate
    costs a comparison while a missed one leaves a duplicate in the pool. At 0.8 this finds a
    pair at Jaccard 0.8 with probability 0.95 and at 0.85 with 0.99 (equal weights: 0.40, 0.69)."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.05, 0.95))
    return lsh.b, lsh.r


def similarity(signatures: np.ndarray, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray | float:
    """Estimated Jaccard similarity of rows a and b of a signature matrix."""
    return (signatures[a] == signatures[b]).mean(axis=-1)


def near_clusters(signatures: np.ndarray, keys: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Cluster texts whose MinHash signatures (one row each) estimate Jaccard >= threshold.

    ``keys`` are distinct content keys (the digests), so the pairs compared, and hence the
    clusters, do not depend on the row order. Returns each row's cluster label (the index of
    one member). Clusters are transitive: a chain of similar texts forms one cluster.
    """
    import numpy as np

    count, num_perm = signatures.shape
    parent = list(range(count))
    if count < 2:
        return np.arange(count)
    bands, rows = lsh_bands(threshold, num_perm)
    order = np.argsort(keys, kind="stable")
    left, right = [], []
    for band in range(bands):
        block = signatures[order, band * rows:(band + 1) * rows].astype(np.uint64)
        # A 64-bit fingerprint of the band; a collision only adds a candidate, which is verified.
        fingerprint = np.zeros(count, dtype=np.uint64)
        for column in range(rows):
            fingerprint = fingerprint * np.uint64(0x100000001B3) + block[:, column]
        at = np.argsort(fingerprint, kind="stable")  # stable: ties keep content order
        runs = fingerprint[at]
        same = np.flatnonzero(runs[1:] == runs[:-1]) + 1  # positions continuing a bucket
        if not len(same):
            continue
        starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
        first = starts[np.searchsorted(starts, same, side="right") - 1]
        # Each member against its bucket's first member, and against its neighbour.
        left += [order[at[first]], order[at[same - 1]]]
        right += [order[at[same]], order[at[same]]]
    if not left:
        return np.arange(count)
    pairs = np.unique(np.sort(np.stack([np.concatenate(left), np.concatenate(right)], axis=1), axis=1), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    for start in range(0, len(pairs), 65536):
        chunk = pairs[start:start + 65536]
        for a, b in chunk[similarity(signatures, chunk[:, 0], chunk[:, 1]) >= threshold].tolist():
            _union(parent, a, b)
    return np.array([_find(parent, i) for i in range(count)])


def _find(parent: list[int], i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def _union(parent: list[int], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)
