"""The offline MSC classifier: a linear scorer over hand-written cues and the class descriptions.

Every candidate class scores the sum of the weights of its cues found in the question (words and
phrases, LaTeX commands, regular expressions; ``s1cli/data/msc_lexicon.tsv``), plus a smaller term
for how much the question's vocabulary overlaps the class's title and subfield description (TF-IDF
cosine). The highest score wins; ties go to the lower code. No network, no model, thousands of
questions a second on one core, and the same answer every time.

How good it is, on questions whose field is known: ``benchmarks/msc.py``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .bundled import data_dir
from .errors import InputError
from .msc import LabelSet, MSCResult, all_classes

LEXICON_FILE = "msc_lexicon.tsv"
MAX_PHRASE = 7  # words
REPEAT_BONUS = 0.25  # each repeat of a cue adds this share of its weight, up to REPEAT_CAP repeats
REPEAT_CAP = 3
DESCRIPTION_WEIGHT = 2.0  # weight of the description similarity (a cosine in [0, 1])

# Stemmed words too common in the class descriptions to tell classes apart.
STOPWORDS = frozenset({"and", "the", "for", "with", "other", "their", "its", "all", "any", "are", "not", "into", "from",
                       "over", "under", "general", "theory", "method", "topic", "aspect", "application", "special",
                       "related"})
_COMMAND = re.compile(r"\\([a-zA-Z]+)")
_WORD = re.compile(r"[a-z0-9]+")
_POSSESSIVE = re.compile(r"'s\b")


def fold(text: str) -> str:
    """Lower case, accents removed, curly apostrophes straightened."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def stem(word: str) -> str:
    """A light plural stemmer, applied to the text and the lexicon alike ("divisors" = "divisor")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("es") and (word[-3] in "sxz" or word.endswith(("ches", "shes"))):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The stemmed words of a text, LaTeX commands left out (they are matched on their own)."""
    text = _POSSESSIVE.sub("", fold(text))
    return [stem(w) for w in _WORD.findall(_COMMAND.sub(" ", text))]


def commands(text: str) -> Counter[str]:
    return Counter("\\" + name for name in _COMMAND.findall(text))


@dataclass(frozen=True)
class Lexicon:
    phrases: dict[tuple[str, ...], tuple[tuple[str, float], ...]]  # stemmed words -> (code, weight)
    commands: dict[str, tuple[tuple[str, float], ...]]
    patterns: tuple[tuple[re.Pattern[str], str, float], ...]
    bias: dict[str, float]

    @property
    def size(self) -> int:
        return (sum(len(v) for v in self.phrases.values()) + sum(len(v) for v in self.commands.values())
                + len(self.patterns) + len(self.bias))


def parse_lexicon(text: str, name: str = LEXICON_FILE) -> Lexicon:
    """Read the lexicon format (see the header of ``s1cli/data/msc_lexicon.tsv``)."""
    known = {c.code for c in all_classes()}
    phrases: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    cmds: dict[str, dict[str, float]] = defaultdict(dict)
    patterns: list[tuple[re.Pattern[str], str, float]] = []
    bias: dict[str, float] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{name}:{lineno}"
        parts = line.split("\t")
        if len(parts) != 3:
            raise InputError(f"{where}: expected CODE<TAB>WEIGHT<TAB>terms, got {len(parts)} fields")
        code, weight_text, terms = (p.strip() for p in parts)
        if code not in known:
            raise InputError(f"{where}: {code!r} is not a top-level MSC2020 code")
        try:
            weight = float(weight_text)
        except ValueError:
            raise InputError(f"{where}: weight {weight_text!r} is not a number") from None
        for term in (t.strip() for t in terms.split(";")):
            if not term:
                continue
            if term == "@bias":
                bias[code] = bias.get(code, 0.0) + weight
            elif term.startswith("re:"):
                try:
                    patterns.append((re.compile(term[3:]), code, weight))
                except re.error as exc:
                    raise InputError(f"{where}: bad regular expression {term[3:]!r} ({exc})") from None
            elif re.fullmatch(r"\\[a-zA-Z]+", term):
                cmds[term][code] = weight
            else:
                key = tuple(words(term))
                if not key or len(key) > MAX_PHRASE:
                    raise InputError(f"{where}: term {term!r} must have 1 to {MAX_PHRASE} words")
                phrases[key][code] = weight
    return Lexicon({k: tuple(v.items()) for k, v in phrases.items()}, {k: tuple(v.items()) for k, v in cmds.items()},
                   tuple(patterns), bias)


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> Lexicon:
    file = Path(path) if path else data_dir() / LEXICON_FILE
    return parse_lexicon(file.read_text(encoding="utf-8"), file.name)


@dataclass(frozen=True)
class Scored:
    code: str
    scores: tuple[tuple[str, float], ...]  # the best few (code, score), best first

    def detail(self, top: int = 3) -> str:
        shown = ", ".join(f"{code} {score:.1f}" for code, score in self.scores[:top])
        return f"offline: {shown}"


class OfflineClassifier:
    """Scores each question against the candidate classes; see the module docstring."""

    def __init__(self, labels: LabelSet, lexicon: Lexicon | None = None) -> None:
        self.labels = labels
        self.lexicon = lexicon or load_lexicon()
        self.codes = labels.codes
        self._allowed = set(self.codes)
        self._idf, self._postings = self._description_index()

    def _description_index(self) -> tuple[dict[str, float], dict[str, list[tuple[str, float]]]]:
        """TF-IDF unit vectors of the class descriptions, indexed by word: word -> [(code, weight)]."""
        documents = {c.code: Counter(w for w in words(f"{c.name}; {c.description}") if _content(w))
                     for c in self.labels.classes}
        frequency = Counter(w for doc in documents.values() for w in doc)
        n = len(documents)
        idf = {w: math.log((1 + n) / (1 + df)) + 1.0 for w, df in frequency.items()}
        postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for code, doc in documents.items():
            for word, weight in _unit({w: c * idf[w] for w, c in doc.items()}).items():
                postings[word].append((code, weight))
        return idf, dict(postings)

    def scores(self, text: str) -> dict[str, float]:
        """Every candidate's score for ``text``."""
        lex = self.lexicon
        totals = dict.fromkeys(self.codes, 0.0)
        for code, weight in lex.bias.items():
            if code in totals:
                totals[code] += weight
        found: Counter[tuple] = Counter()
        tokens = words(text)
        for start in range(len(tokens)):
            for end in range(start + 1, min(start + MAX_PHRASE, len(tokens)) + 1):
                key = tuple(tokens[start:end])
                if key in lex.phrases:
                    found[key] += 1
        for key, count in found.items():
            self._add(totals, lex.phrases[key], count)
        for command, count in commands(text).items():
            if command in lex.commands:
                self._add(totals, lex.commands[command], count)
        for pattern, code, weight in lex.patterns:
            if code in totals:
                hits = len(pattern.findall(text))
                if hits:
                    totals[code] += weight * _repeat(hits)
        query = _unit({w: c * self._idf[w] for w, c in Counter(tokens).items() if w in self._idf})
        for word, value in query.items():
            for code, weight in self._postings[word]:
                totals[code] += DESCRIPTION_WEIGHT * value * weight
        return totals

    def _add(self, totals: dict[str, float], entries: Iterable[tuple[str, float]], count: int) -> None:
        factor = _repeat(count)
        for code, weight in entries:
            if code in self._allowed:
                totals[code] += weight * factor

    def classify(self, text: str) -> Scored:
        totals = self.scores(text or "")
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return Scored(ranked[0][0], tuple((c, round(s, 3)) for c, s in ranked[:5]))

    def result(self, question: str) -> MSCResult:
        """The label ``s1 classify-msc`` writes: the best-scoring class, or none for an empty question."""
        if not question.strip():
            return MSCResult(None, "empty question")
        scored = self.classify(question)
        return MSCResult(scored.code, scored.detail())


def _content(word: str) -> bool:
    """Words that carry meaning in a class description (not "of", "and", or a letter such as the K of K-theory)."""
    return len(word) > 2 and word not in STOPWORDS and not word.isdigit()


def _repeat(count: int) -> float:
    return 1.0 + REPEAT_BONUS * min(count - 1, REPEAT_CAP)


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {k: v / norm for k, v in vector.items()} if norm else {}
