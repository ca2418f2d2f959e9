"""CCCS cut points from the AST, stages from a long prefix to the whole program."""

from __future__ import annotations

from corpusforge.tasks.apps.curriculum import curriculum, cut_points

SOURCE = """n = int(input())
total = 0
for i in range(n):
    if i % 2:
        total += i
    elif i % 3:
        total -= 1
while total > 100:
    total //= 2
if total:
    print(total)
else:
    print(0)
"""


def test_cut_points_are_conditional_statements() -> None:
    assert cut_points(SOURCE) == [(4, "If"), (6, "If"), (8, "While"), (10, "If")]
    assert cut_points("def f(:\n") == []


def test_stages_run_from_a_long_prefix_to_the_whole_program() -> None:
    pairs = curriculum(SOURCE, stages=3)
    assert [p.stage for p in pairs] == [1, 2, 3]
    assert [p.cut_line for p in pairs] == [10, 4, 1]  # spread over the cuts, then none
    assert pairs[-1].prefix == "" and pairs[-1].completion == SOURCE
    assert all(p.prefix + p.completion == SOURCE for p in pairs)
    lengths = [len(p.prefix) for p in pairs]
    assert lengths == sorted(lengths, reverse=True)


def test_every_cut_is_used_when_stages_allow() -> None:
    pairs = curriculum(SOURCE, stages=10)
    assert [p.cut_line for p in pairs] == [10, 8, 6, 4, 1]
    assert all(p.stages == 5 for p in pairs)


def test_a_program_without_conditionals_is_one_stage() -> None:
    (only,) = curriculum("print(1)\nprint(2)\n", stages=4)
    assert (only.stage, only.stages, only.prefix, only.cut_kind) == (1, 1, "", "start")
    assert [p.cut_line for p in curriculum(SOURCE, stages=1)] == [1]
