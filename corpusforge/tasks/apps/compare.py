"""The APPS output comparison, ported step by step from the reference harness
(hendrycks/apps, eval/testing_util.py, `run_test`), quirks included: a verdict here must
mean what it means in every APPS number ever published.

Stdin programs: `output` is the captured stdout split into lines; the first comparison
that matches wins:
1. the lines joined with "\\n", stripped, equal the stripped expected text (or the lines
   each stripped first);
2. list equality of the lines with [expected] / expected;
3. expected split on "\\n", empty lines dropped, each stripped; equality again;
4. every line a float and np.allclose on equal-length lists;
5. the set of each line's whitespace-token set, order-insensitive over lines and tokens;
6. the same with every token rounded to 3 decimals.
(In the reference, dropping empty output lines before step 4 does not re-run step 3: a
known quirk, kept.)

Call-based programs: the return value (a tuple becomes a list) passes if it equals the
expected value or, when that is a non-empty list, its first element; also when it is a
list of tuples equal to the first element with the tuples as lists.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any


def _stripped_equal(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def _custom_compare(output: list[str], expected: str) -> bool:
    if _stripped_equal("\n".join(output), expected):
        return True
    return _stripped_equal("\n".join(o.strip() for o in output), expected)


def _allclose(a: list[float], b: list[float]) -> bool:
    """np.allclose(a, b) with its defaults (rtol 1e-05, atol 1e-08), NaN unequal."""
    return all(abs(x - y) <= 1e-08 + 1e-05 * abs(y) and not (math.isnan(x) or math.isnan(y))
               if math.isfinite(x) and math.isfinite(y) else x == y
               for x, y in zip(a, b, strict=True))


def compare_stdin(stdout: str, expected: Any) -> bool:
    """APPS verdict for a stdin program's output against one test's expected output."""
    if isinstance(expected, list):
        expected = "\n".join(expected)
    if not isinstance(expected, str):
        expected = str(expected)
    output: Any = stdout.splitlines()
    if _custom_compare(output, expected):
        return True
    result = output == [expected]
    if result:
        return True
    lines = [x.strip() for x in filter(len, expected.split("\n"))]
    result = output in ([lines], lines)
    if result:
        return True
    output = list(filter(len, output))
    with contextlib.suppress(ValueError, TypeError):
        got = [float(e) for e in output]
        want = [float(e) for e in lines]
        if len(got) == len(want) and _allclose(got, want):
            return True
    expected_sets = [set(line.split()) for line in lines]
    if output == expected_sets:  # list of str vs list of sets: never true, as upstream
        return True
    output_sets = [set(tokens) for tokens in (line.split() for line in output) if tokens]
    try:
        if {frozenset(s) for s in output_sets} == {frozenset(s) for s in expected_sets}:
            return True
    except TypeError:
        return False
    with contextlib.suppress(ValueError, TypeError, OverflowError):
        def rounded(sets: list[set[str]]) -> set[frozenset[float]]:
            return {frozenset(round(float(t), 3) for t in s) for s in sets}
        if rounded(output_sets) == rounded(expected_sets):
            return True
    return False


def compare_exact(stdout: str, expected: Any) -> bool:
    """The strict alternative, what most judges without a checker accept: the same lines,
    each with trailing whitespace removed (blank lines at the ends ignored), or the same
    tokens line by line with every numeric token within np.allclose tolerance. No
    reordering: a permuted answer fails."""
    if isinstance(expected, list):
        expected = "\n".join(map(str, expected))

    def lines(text: str) -> list[str]:
        return [line.rstrip() for line in str(text).strip("\n").splitlines()]

    got, want = lines(stdout.rstrip()), lines(str(expected).rstrip())
    if got == want:
        return True
    got_tokens = [line.split() for line in got]
    want_tokens = [line.split() for line in want]
    if [len(t) for t in got_tokens] != [len(t) for t in want_tokens]:
        return False
    for a, b in zip((t for ts in got_tokens for t in ts),
                    (t for ts in want_tokens for t in ts), strict=True):
        if a == b:
            continue
        try:
            if not _allclose([float(a)], [float(b)]):
                return False
        except ValueError:
            return False
    return True


def int_keys(value: Any) -> Any:
    """JSON forces dict keys to strings; APPS turns them back into ints (one level)."""
    if isinstance(value, dict):
        try:
            return {int(k): v for k, v in value.items()}
        except (ValueError, TypeError):
            return value
    return value


def fix_call_args(args: Any) -> Any:
    """The reference's input fix: a leading dict argument gets int keys, and (as upstream)
    becomes the only argument."""
    if isinstance(args, list) and args and isinstance(args[0], dict):
        fixed = int_keys(args[0])
        if fixed is not args[0]:
            return [fixed]
    return args


def fix_call_expected(expected: Any) -> Any:
    if isinstance(expected, dict):
        fixed = int_keys(expected)
        return [fixed] if fixed is not expected else expected
    if isinstance(expected, list) and expected and isinstance(expected[0], dict):
        fixed = int_keys(expected[0])
        return [fixed] if fixed is not expected[0] else expected
    return expected


def compare_call(value: Any, expected: Any) -> bool:
    """APPS verdict for a call-based program's return value (already decoded)."""
    expected = fix_call_expected(expected)
    if isinstance(value, tuple):
        value = list(value)
    try:
        if value == expected:
            return True
        if isinstance(expected, list) and expected and value == expected[0]:
            return True
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            return [list(x) for x in value] == expected[0]
    except (TypeError, IndexError, KeyError, RecursionError):
        return False
    return False
