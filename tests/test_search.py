"""The rate control's search for the shortest last iteration (``search.first_reaching``)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from pillow_rgc.search import first_reaching


def probing(scores):
    """``score_at`` over ``scores``, with the list of probed indices."""
    probes = []

    def score_at(index):
        probes.append(index)
        return scores[index]

    return score_at, probes


def bisection(scores, target):
    """The answer the writer's earlier bisection gave: the first index reaching, else the last."""
    return next((i for i, s in enumerate(scores) if s >= target), len(scores) - 1)


@given(
    steps=st.lists(st.floats(0, 1), min_size=1, max_size=40),
    target=st.floats(0, 40),
    before_known=st.booleans(),
    last_known=st.booleans(),
)
def test_finds_what_bisection_finds_on_growing_scores(steps, target, before_known, last_known):
    scores = [sum(steps[: i + 1]) for i in range(len(steps))]
    before = -1.0 if before_known and target > -1.0 else None
    last = scores[-1] if last_known else None
    score_at, probes = probing(scores)
    assert first_reaching(len(scores), score_at, target, before, last) == bisection(scores, target)
    assert len(probes) <= len(scores)
    assert len(probes) <= 3 * math.ceil(math.log2(len(scores)))  # never much worse than bisection


def test_interpolation_needs_fewer_probes_than_bisection_on_a_straight_run():
    scores = [0.90 + 0.004 * (i + 1) for i in range(17)]  # 16 segments and the whole iteration
    counts = []
    for target in [0.9005 + 0.004 * k for k in range(17)]:
        score_at, probes = probing(scores)
        assert first_reaching(17, score_at, target, before=0.90, last=scores[-1]) == bisection(scores, target)
        counts.append(len(probes))
    assert max(counts) <= 2 and sum(counts) / len(counts) < 2  # bisection needs 4 or 5


def test_a_single_candidate_needs_no_probe():
    score_at, probes = probing([0.5])
    assert first_reaching(1, score_at, 0.9) == 0 and probes == []
