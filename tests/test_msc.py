"""The MSC label set (candidates, descriptions, reply parsing, label normalisation, agreement) and the
offline classifier (hand-written questions per field, candidate restriction, the lexicon format)."""

from __future__ import annotations

import pytest

from s1cli.bundled import load_table, msc_classes
from s1cli.errors import ConfigError, InputError
from s1cli.msc import agreement, all_classes, candidates, distribution, normalize_label, parse_reply
from s1cli.msc_llm import render_classes
from s1cli.msc_offline import OfflineClassifier, parse_lexicon, stem, words

# Questions written for these tests, one or more per field; none comes from a benchmark.
FIELD_QUESTIONS = [
    ("70", "A block of mass 2 kg slides down a frictionless incline of angle 30 degrees. Find its acceleration."),
    ("81", "Find the ground state energy of a particle in a one-dimensional infinite square well of width L using "
           "the Schrodinger equation."),
    ("92", "Calculate the pH of a 0.1 M solution of acetic acid, given that its Ka is 1.8e-5."),
    ("85", "A star has a luminosity 100 times that of the Sun and a surface temperature of 10000 K. What is its "
           "radius?"),
    ("78", "A parallel-plate capacitor with plate area A and separation d is connected to a battery of voltage V. "
           "Find the charge stored."),
    ("80", "One mole of an ideal gas expands isothermally at 300 K from 10 L to 20 L. Compute the work done and the "
           "change in entropy."),
    ("83", "A spaceship travels at 0.8c relative to Earth. How much time passes on the ship while 10 years pass on "
           "Earth? Use time dilation."),
    ("92", "In a population of rabbits, the allele for brown fur is dominant. If 16% of the population shows the "
           "recessive phenotype, what fraction is heterozygous?"),
    ("68", "What is the time complexity of the merge sort algorithm on an array of n elements?"),
    ("34", "Solve the differential equation y'' + 4y = 0 with y(0) = 1 and y'(0) = 0."),
    ("15", "Find the eigenvalues of the matrix $\\begin{pmatrix} 2 & 1 \\\\ 1 & 2 \\end{pmatrix}$."),
    ("20", "Prove that every group of order 15 is cyclic."),
    ("76", "Water flows through a pipe of diameter 2 cm at 3 m/s. Using Bernoulli's equation, find the pressure drop "
           "where the pipe narrows."),
    ("62", "A sample of 25 students has a mean score of 72 and a standard deviation of 8. Construct a 95% confidence "
           "interval for the population mean."),
    ("60", "A fair die is rolled three times. What is the probability that the sum is 10?"),
    ("05", "How many ways are there to arrange the letters of the word BANANA?"),
    ("11", "Find the remainder when $3^{100}$ is divided by 7."),
    ("51", "In triangle $ABC$, $AB = 5$, $BC = 12$ and $\\angle B = 90^\\circ$. Find the radius of the circumcircle."),
    ("30", "Find all complex numbers $z$ such that $z^4 = -16$."),
    ("12", "Let $p(x)$ be a monic cubic polynomial with roots 1, 2 and 3. Find $p(4)$."),
    ("26", "Find the minimum value of $f(x) = x + \\frac{4}{x}$ for $x > 0$."),
    ("91", "Two firms compete in a Cournot duopoly with demand P = 100 - Q. Find the Nash equilibrium quantities."),
    ("94", "A binary symmetric channel flips each bit with probability 0.1. What is its channel capacity?"),
    ("53", "Compute the Gaussian curvature of the surface z = x^2 + y^2 at the origin."),
    ("54", "Show that a compact subset of a Hausdorff topological space is closed."),
    ("97", "Tom buys 3 apples at $2 each and 2 oranges at $1 each. How much money does he spend?"),
    ("39", "Find all functions $f:\\mathbb{R}\\to\\mathbb{R}$ such that $f(x+y) = f(x) + f(y)$ for all real numbers "
           "$x$ and $y$."),
    ("40", "Determine whether the series $\\sum_{n=1}^\\infty \\frac{1}{n^2}$ converges."),
]


def test_candidate_lists():
    s1 = candidates("s1")
    assert len(s1) == 61 and "00" not in s1 and "01" not in s1 and {"05", "11", "97"} <= set(s1.codes)
    every = candidates("all")
    assert every.codes == tuple(code for code, _ in msc_classes()) and len(every) == 63
    four = candidates("60, 5,11,51")
    assert four.codes == ("05", "11", "51", "60") and four.name("05") == "Combinatorics"
    assert four.name("12") is None and four.name(None) is None
    with pytest.raises(ConfigError, match="'99' is not a top-level MSC2020 code"):
        candidates("05,99")
    with pytest.raises(ConfigError, match="at least two"):
        candidates("11,11")


def test_every_class_has_a_description_of_its_subfields():
    classes = all_classes()
    assert [c.code for c in classes] == [code for code, _ in msc_classes()]
    assert all(len(c.subfields) >= 1 and c.description for c in classes)
    number_theory = next(c for c in classes if c.code == "11")
    assert any("Diophantine" in s for s in number_theory.subfields)
    listing = render_classes(candidates("05,11"))
    assert listing.startswith("### Combinatorics\n* Code: 05\n* Description: enumerative combinatorics")
    assert "### Number theory\n* Code: 11\n" in listing and "51" not in listing


@pytest.mark.parametrize(("reply", "code"), [
    ("Counting arrangements.\n\n05", "05"),
    ("The question is number theory.\n**11**", "11"),
    ("Reasoning...\nFinal answer: \\boxed{51}", "51"),
    ("Reasoning...\nCode: 60.", "60"),
    ("11 (Number theory)", "11"),
    ("It is 05.\n11-XX", "11"),
])
def test_reply_ending_with_a_listed_code_is_read(reply, code):
    assert parse_reply(reply, candidates("s1")).code == code


@pytest.mark.parametrize(("reply", "problem"), [
    ("", "the reply is empty"),
    ("I think it is number theory.", "its last line holds no two-digit code"),
    ("Either 05 or 60", "its last line names several codes (05, 60)"),
    ("This is general.\n00", "00 is not one of the listed classes"),
    ("99", "99 is not one of the listed classes"),
    ("Answer: 123", "its last line holds no two-digit code"),
])
def test_reply_without_a_listed_code_is_invalid(reply, problem):
    parsed = parse_reply(reply, candidates("s1"))
    assert parsed.code is None and parsed.problem == problem
    assert parsed.answer == (reply.strip().splitlines()[-1] if reply else "")


@pytest.mark.parametrize(("value", "code"), [
    ("11", "11"), (11, "11"), (5, "05"), ("5", "05"), (5.0, "05"), ("11-XX", "11"), ("11A41", "11"),
    ("Number theory", "11"), ("NUMBER THEORY ", "11"), ("Geometry", "51"),
    ("Game theory, economics, social and behavioral sciences", "91"),  # s1's MSC2010 wording
    ("Information and communication, circuits", "94"), ("$K$-theory", "19"), ("K-theory", "19"),
    ("Special functions (33-XX deals with the properties of functions as functions)", "33"),
    ("Algebra", None), ("02", None), (99, None), (True, None), (None, None), ([11], None),
])
def test_existing_labels_normalise_to_codes(value, code):
    assert normalize_label(value) == code


def test_every_s1_title_maps_back_to_its_code():
    # s1's data/msc.json titles: the bundled names, with its three differing spellings covered above
    for c in candidates("s1").classes:
        assert normalize_label(c.name) == c.code


def test_agreement_and_distribution():
    ours = ["11", "05", "51", None, "60", "11"]
    theirs = ["Number theory", "60", "51", "11", "not a class", 5]
    result = agreement(ours, theirs)
    assert (result.compared, result.agreed, result.missing, result.unreadable) == (4, 2, 1, 1)
    assert result.rate == 0.5 and result.disagreeing == [1, 5]
    assert result.confusions == {("05", "60"): 1, ("11", "05"): 1}
    dist = distribution(ours)
    assert dist.counts == {"11": 2, "05": 1, "51": 1, "60": 1} and dist.unlabelled == 1 and dist.total == 6


def test_stemmer_and_words():
    assert [stem(w) for w in ("divisors", "series", "boxes", "classes", "axis", "gas", "ways")] == [
        "divisor", "sery", "box", "class", "axis", "gas", "way"]
    assert words("Newton's second law: \\frac{d}{dt} Schrödinger's k-theory") == [
        "newton", "second", "law", "d", "dt", "schrodinger", "k", "theory"]


@pytest.mark.parametrize(("code", "question"), FIELD_QUESTIONS, ids=[f"{c}-{i}" for i, (c, _) in
                                                                   enumerate(FIELD_QUESTIONS)])
def test_offline_classifier_finds_the_field(code, question):
    result = OfflineClassifier(candidates("s1")).classify(question)
    assert result.code == code, result.scores
    assert result.detail().startswith(f"offline: {code} ")


def test_offline_codes_are_always_candidates_and_deterministic():
    rows = load_table("math500")[:120] + load_table("pool_sample")[:60]
    for spec in ("s1", "all", "05,11,51,60"):
        labels = candidates(spec)
        classifier = OfflineClassifier(labels)
        codes = [classifier.classify(r["question"]).code for r in rows]
        assert set(codes) <= set(labels.codes)
        assert codes == [OfflineClassifier(labels).classify(r["question"]).code for r in rows]
    assert OfflineClassifier(candidates("05,11")).classify("A star orbits a black hole.").code in ("05", "11")
    assert OfflineClassifier(candidates("s1")).classify("").code in candidates("s1")


def test_offline_classifier_on_math500_subjects_that_map_to_one_class():
    # The figure benchmarks/msc.py reports; held here so a lexicon change that breaks it fails a test.
    expected = {"Number Theory": {"11"}, "Geometry": {"51"}, "Counting & Probability": {"05", "60"}}
    classifier = OfflineClassifier(candidates("s1"))
    rows = [r for r in load_table("math500") if r["metadata"]["subject"] in expected]
    right = sum(classifier.classify(r["question"]).code in expected[r["metadata"]["subject"]] for r in rows)
    assert len(rows) == 141 and right / len(rows) >= 0.80


def test_lexicon_format_and_its_errors():
    lexicon = parse_lexicon("# a comment\n11\t3\tprime; re:\\bmod\\b; \\pmod\n05\t-1\tprobability\n97\t0.5\t@bias\n")
    assert lexicon.phrases[("prime",)] == (("11", 3.0),) and lexicon.commands["\\pmod"] == (("11", 3.0),)
    assert lexicon.bias == {"97": 0.5} and lexicon.size == 5
    classifier = OfflineClassifier(candidates("05,11,97"), lexicon)
    assert classifier.classify("Is 7 prime?").code == "11"
    assert classifier.classify("nothing to see").code == "97"  # the bias decides
    for text, message in [("11\t3\n", "lex.tsv:1: expected CODE<TAB>WEIGHT<TAB>terms, got 2 fields"),
                          ("\n02\t3\tx\n", "lex.tsv:2: '02' is not a top-level MSC2020 code"),
                          ("11\theavy\tx\n", "lex.tsv:1: weight 'heavy' is not a number"),
                          ("11\t1\tre:(\n", "lex.tsv:1: bad regular expression '('"),
                          ("11\t1\ta b c d e f g h\n", "lex.tsv:1: term 'a b c d e f g h' must have 1 to 7 words")]:
        with pytest.raises(InputError) as info:
            parse_lexicon(text, "lex.tsv")
        assert str(info.value).startswith(message)
