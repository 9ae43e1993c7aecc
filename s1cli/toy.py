"""A toy reasoning world: seeded question families whose number of reasoning steps varies by
question, with step-by-step thinking traces, so a tiny model can learn to think on a CPU in
minutes and accuracy can rise with the thinking budget.

Every family keeps a running state and writes one line of thinking per step, so a question with
k steps needs about k lines of thinking; cut the thinking short and the model has to guess.
Some traces make a deliberate slip, write "Wait", and correct it, and some write "Wait" and check a
step that was right, so that extending thinking with "Wait" (budget forcing's extension) is
something the model has seen, and "Wait" does not always mean the step before it was wrong.

The rows follow the table contract: ``id``, ``question``, ``answer``, ``thinking``, ``response``,
``source``, ``domain`` and ``metadata`` (``task``, ``steps``, ``slip``, ``check``, ``seed``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .errors import ConfigError
from .schema import Row

WAIT = "Wait"
LETTERS = "abcd"


@dataclass(frozen=True)
class Problem:
    question: str
    answer: int
    states: list[int]  # the running state after each step
    steps: list[str]  # "3+5" for each step: what is applied to the state
    line: Callable[[str, int], str]  # the thinking line of a step with a given result


def sum_problem(rng: random.Random, steps: int) -> Problem:
    # Small addends keep the addition table a 1M-parameter model must learn small: the number of
    # steps, not the size of the numbers, is what makes a question hard here.
    numbers = [rng.randint(1, 9)] + [rng.randint(1, 3) for _ in range(steps)]
    states, moves, total = [], [], numbers[0]
    for n in numbers[1:]:
        moves.append(f"{total}+{n}")
        total += n
        states.append(total)
    question = f"What is {' + '.join(map(str, numbers))}?"
    return Problem(question, total, states, moves, lambda move, value: f"{move}={value}")


def count_problem(rng: random.Random, steps: int) -> Problem:
    target = rng.choice(LETTERS)
    letters = [rng.choice(LETTERS) for _ in range(steps)]
    states, moves, count = [], [], 0
    for letter in letters:
        hit = letter == target
        count += hit
        moves.append(f"{letter} {'yes' if hit else 'no'}")
        states.append(count)
    question = f"How many times does the letter {target} appear in: {' '.join(letters)}?"
    return Problem(question, count, states, moves, lambda move, value: f"{move} {value}")


def walk_problem(rng: random.Random, steps: int) -> Problem:
    start = rng.randint(10, 40)
    jumps = [rng.randint(1, 3) for _ in range(steps)]
    states, moves, position = [], [], start
    for jump in jumps:
        moves.append(f"{position}+{jump}")
        position += jump
        states.append(position)
    question = (f"A frog sits at {start} on a number line and jumps forward {', '.join(map(str, jumps))}. "
                f"Where does it land?")
    return Problem(question, position, states, moves, lambda move, value: f"{move}={value}")


@dataclass(frozen=True)
class Family:
    name: str
    domain: str
    make: Callable[[random.Random, int], Problem]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("sum", "arithmetic", sum_problem),
        Family("count", "counting", count_problem),
        Family("walk", "number line", walk_problem),
    )
}


def slip_value(rng: random.Random, value: int) -> int:
    return rng.choice([value + d for d in (-2, -1, 1, 2) if value + d >= 0])


def thinking_for(problem: Problem, rng: random.Random, slip: bool, check: bool) -> tuple[str, bool, bool]:
    """One line per step. With ``slip``, one step first gets a wrong result, then a line with
    "Wait" and the right one; the state carried on is the right one. With ``check``, one step is
    followed by "Wait" and the same line again: a check that finds nothing wrong, so that "Wait"
    does not always mean the line before it was wrong. "Wait" starts its line, as it does when
    budget forcing appends it after the thinking."""
    where = rng.randrange(len(problem.steps)) if slip else -1
    checked = rng.randrange(len(problem.steps)) if check else -1
    lines = []
    for i, (move, value) in enumerate(zip(problem.steps, problem.states, strict=True)):
        line = problem.line(move, value)
        if i == where:
            line = f"{problem.line(move, slip_value(rng, value))}\n{WAIT}, {line}"
        elif i == checked:
            line = f"{line}\n{WAIT}, {line}"
        lines.append(line)
    return "\n".join(lines), where >= 0, checked >= 0 and checked != where


def parse_tasks(tasks: str | Sequence[str]) -> list[Family]:
    names = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if not names:
        raise ConfigError("--tasks is empty; choose from " + ", ".join(FAMILIES))
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ConfigError(f"unknown toy task {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
    return [FAMILIES[n] for n in dict.fromkeys(names)]


def toy_rows(n: int, *, tasks: str | Sequence[str] = tuple(FAMILIES), seed: int = 0, min_steps: int = 1,
             max_steps: int = 8, slip_rate: float = 0.2, check_rate: float = 0.2) -> Iterator[Row]:
    """``n`` rows, the families taken in turn, steps uniform in [min_steps, max_steps]; no
    question repeats within one call. The same arguments give the same rows on every machine."""
    families = parse_tasks(tasks)
    if n < 0:
        raise ConfigError(f"--n must be 0 or more, got {n}")
    if not 1 <= min_steps <= max_steps:
        raise ConfigError(f"--min-steps {min_steps} and --max-steps {max_steps}: need 1 <= min <= max")
    for name, rate in (("--slip-rate", slip_rate), ("--check-rate", check_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"{name} must be between 0 and 1, got {rate}")
    rng = random.Random(f"s1cli-toy/{seed}")
    seen: set[str] = set()
    made = attempts = 0
    while made < n:
        family = families[made % len(families)]
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ConfigError(f"could not make {n} distinct toy questions with steps {min_steps}..{max_steps}; "
                              f"ask for fewer rows or more steps")
        steps = rng.randint(min_steps, max_steps)
        problem = family.make(rng, steps)
        if problem.question in seen:
            continue
        seen.add(problem.question)
        thinking, slipped, checked = thinking_for(problem, rng, rng.random() < slip_rate, rng.random() < check_rate)
        digest = hashlib.blake2b(problem.question.encode(), digest_size=6).hexdigest()
        made += 1
        yield {
            "id": f"toy-{family.name}-{digest}",
            "question": problem.question,
            "answer": str(problem.answer),
            "thinking": thinking,
            "response": f"Answer: {problem.answer}",
            "source": f"toy-{family.name}",
            "domain": family.domain,
            "metadata": {"task": family.name, "steps": steps, "slip": slipped, "check": checked, "seed": seed},
        }
