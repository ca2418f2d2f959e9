"""CCCS (StepCoder's curriculum of code completion subtasks) from a solution's AST.

Cut points are the first lines of conditional statements (`if`, `while`, and the
conditional clauses `elif`/`else` open, as `if` nodes nested in `orelse`). Each cut splits
the source into a prefix the model is given and a completion it must write. Stages run
from a long prefix (a short completion near the end) down to an empty prefix (the whole
program); with more cut points than stages, cuts are spread evenly over the program.
Prefix + completion always reassembles the solution exactly.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Pair:
    stage: int  # 1 = longest prefix ... stages = empty prefix
    stages: int
    cut_line: int  # 1-based first line of the completion (1 for the whole program)
    cut_kind: str  # If | While | start
    prefix: str
    completion: str


def cut_points(source: str) -> list[tuple[int, str]]:
    """(line, kind) of every conditional statement after the first line, in order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.While) and node.lineno > 1:
            found.setdefault(node.lineno, type(node).__name__)
    return sorted(found.items())


def _spread(points: list[tuple[int, str]], wanted: int) -> list[tuple[int, str]]:
    """`wanted` points evenly over `points` (always the last one, the shortest task)."""
    if len(points) <= wanted:
        return points
    if wanted == 1:
        return [points[-1]]
    step = (len(points) - 1) / (wanted - 1)
    picked = sorted({round(i * step) for i in range(wanted)})
    return [points[i] for i in picked]


def curriculum(source: str, stages: int) -> list[Pair]:
    """Pairs from the longest prefix (stage 1) to the whole program (last stage)."""
    lines = source.splitlines(keepends=True)
    cuts = _spread(cut_points(source), stages - 1) if stages > 1 else []
    cuts = [(line, kind) for line, kind in cuts if line <= len(lines)]
    ordered = [*sorted(cuts, reverse=True), (1, "start")]
    total = len(ordered)
    return [Pair(stage=i, stages=total, cut_line=line, cut_kind=kind,
                 prefix="".join(lines[:line - 1]), completion="".join(lines[line - 1:]))
            for i, (line, kind) in enumerate(ordered, start=1)]
