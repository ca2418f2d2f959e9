"""APPS execution semantics on top of the sandbox: programs in, result codes out.

What the reference harness does and this module reproduces:
- a fixed import prelude (the reference's, plus bisect, string and re as the spec lists);
- stdin programs: lines not starting with `import `/`from ` are indented into
  `def code():` (so a top-level `return` is legal, and `nonlocal` at the top level
  refers to the wrapper, as the apps-sal solutions expect); the test input is stdin;
- call-based programs (`fn_name` present): the module is executed and `fn_name` called
  with the test's argument list unpacked, on `Solution()` when the source contains
  `class Solution`;
- result codes: -2 compile error (anything failing before the call, as upstream),
  -1 runtime error, timeout or any limit, True / False from the comparison (compare.py).

Deliberate differences, each for safety or sanity: every test runs in a fresh child (no
state leaks from one test into the next), stdin is a real file (EOF raises EOFError as in
a real run), `__name__` is "__main__", non-daemon threads are joined as at interpreter
exit, and a returned object that is not plain data equals nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from corpusforge.tasks.apps.compare import (
    compare_call,
    compare_exact,
    compare_stdin,
    fix_call_args,
)
from corpusforge.tasks.apps.sandbox import codec

PRELUDE = """import sys
import time
import itertools
from itertools import accumulate, product, permutations, combinations
import collections
from collections import Counter, OrderedDict, deque, defaultdict, ChainMap
from functools import lru_cache
import math
from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2
import fractions
from typing import List, Tuple
import numpy as np
import random
import heapq
from heapq import *
import bisect
import string
import re
"""
# Imported once in the zygote so a program's own `import` of them costs nothing.
WARM_MODULES = ("numpy.random", "threading", "secrets", "decimal", "functools", "operator",
                "copy", "datetime", "statistics", "queue", "array", "io", "json", "typing",
                "dataclasses", "enum", "cmath", "pprint", "textwrap", "calendar", "struct",
                "numbers", "traceback")

PASS, FAIL, RUNTIME_ERROR, COMPILE_ERROR = 1, 0, -1, -2
STATUS_CODES = {"compile_error": COMPILE_ERROR}


@dataclass(frozen=True)
class TestCase:
    """One test. `input` is the stdin text or the argument list; `expected` the output;
    `index` its position in the problem's input_output (or among generated tests)."""

    __test__ = False  # a data class, not a pytest test class

    input: Any
    expected: Any
    index: int = 0
    origin: str = "original"  # original | generated


def wrap_stdin_program(source: str) -> str:
    """The reference's transformation of a stdin program into `def code():`."""
    lines = []
    for line in source.split("\n"):
        if line.startswith("from ") or line.startswith("import "):
            lines.append(line + "\n")
        else:
            lines.append("\t" + line + "\n")
    wrapped = ""
    started = False
    for line in lines:
        if line.startswith("\t") and not started:
            wrapped += "stdin = sys.stdin\nstdout = sys.stdout\n"
            wrapped += "def code():\n"
            wrapped += line
            started = True
        elif started and (line.startswith("from ") or line.startswith("import ")):
            wrapped += "\t" + line
        else:
            wrapped += line
    return wrapped


def build_program(source: str, fn_name: str | None) -> dict[str, Any]:
    if fn_name is None:
        return {"source": wrap_stdin_program(source), "mode": "stdin", "fn_name": None,
                "use_class": False}
    return {"source": source, "mode": "call", "fn_name": fn_name,
            "use_class": "class Solution" in source}


def stdin_text(value: Any) -> str:
    return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)


def encode_test(test: TestCase, fn_name: str | None) -> dict[str, Any]:
    if fn_name is None:
        return {"stdin": stdin_text(test.input)}
    args = fix_call_args(test.input)
    if not isinstance(args, list):
        args = [args]
    return {"args": codec.encode(args)}


@dataclass
class Execution:
    """One program on one test, as the harness reports it."""

    result: int  # PASS, FAIL, RUNTIME_ERROR, COMPILE_ERROR
    status: str  # pass, fail, compile_error, runtime_error, timeout, memory_limit, ...
    output: Any  # stdout text, or the decoded return value for call-based programs
    output_key: str  # a canonical text of the output, for agreement between programs
    error: str
    wall_s: float
    cpu_s: float
    peak_rss_kb: int

    @property
    def passed(self) -> bool:
        return self.result == PASS


def status_of(raw: dict[str, Any]) -> str:
    status = str(raw.get("status", "runtime_error"))
    if status == "runtime_error" and "MemoryError" in str(raw.get("error", "")):
        return "memory_limit"
    return status


def grade(raw: dict[str, Any], test: TestCase, fn_name: str | None, limits_time_s: float,
          comparison: str = "apps") -> Execution:
    """A raw sandbox outcome -> result code, via the APPS comparison cascade (or, with
    comparison="exact", line-wise equality for stdin programs)."""
    status = status_of(raw)
    cpu = float(raw.get("cpu_s", 0.0))
    if status == "ok" and cpu > limits_time_s:
        status = "timeout"
    output: Any = raw.get("stdout", "")
    key = normalise_stdout(output) if fn_name is None else ""
    if status == "ok" and fn_name is not None:
        try:
            output = codec.decode(raw.get("value"))
        except (codec.CodecError, TypeError, ValueError):
            output = codec.Opaque("undecodable", "")
        key = canonical(output)
    if status == "ok":
        if fn_name is not None:
            ok = compare_call(output, test.expected)
        elif comparison == "exact":
            ok = compare_exact(output, test.expected)
        else:
            ok = compare_stdin(output, test.expected)
        result, status = (PASS, "pass") if ok else (FAIL, "fail")
    else:
        result = STATUS_CODES.get(status, RUNTIME_ERROR)
    return Execution(result=result, status=status, output=output, output_key=str(key),
                     error=str(raw.get("error") or raw.get("stderr") or "")[-2000:],
                     wall_s=float(raw.get("wall_s", 0.0)), cpu_s=cpu,
                     peak_rss_kb=int(raw.get("peak_rss_kb", 0)))


def canonical(value: Any) -> str:
    """A text that is equal for equal plain values whatever the hash seed (set and dict
    order do not count), used to compare programs' outputs with each other."""
    try:
        return json.dumps(_sorted(codec.encode(value)), sort_keys=True, allow_nan=True)
    except (codec.CodecError, TypeError, ValueError, RecursionError):
        return repr(value)


def _sorted(encoded: Any) -> Any:
    if isinstance(encoded, list):
        return [_sorted(v) for v in encoded]
    if isinstance(encoded, dict):
        tag, items = next(iter(encoded.items()))
        if tag in ("s", "fs", "d"):
            return {tag: sorted((_sorted(v) for v in items), key=json.dumps)}
        if tag == "t":
            return {tag: [_sorted(v) for v in items]}
    return encoded


def normalise_stdout(text: str) -> str:
    """Outputs of two programs agree when they match line by line, whitespace-trimmed."""
    return "\n".join(line.strip() for line in text.strip().splitlines())
