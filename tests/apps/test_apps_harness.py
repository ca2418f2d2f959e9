"""Program building: the reference's stdin wrapper and the call-based program."""

from __future__ import annotations

from corpusforge.tasks.apps.harness import build_program, wrap_stdin_program


def test_stdin_wrapper_matches_the_reference() -> None:
    source = "import sys\nfrom math import gcd\nn = int(input())\nif n:\n    return\nprint(n)"
    wrapped = wrap_stdin_program(source)
    assert wrapped == ("import sys\nfrom math import gcd\nstdin = sys.stdin\nstdout = "
                       "sys.stdout\ndef code():\n\tn = int(input())\n\tif n:\n\t    return\n"
                       "\tprint(n)\n")
    compile(wrapped, "<w>", "exec")  # a top-level return is legal once wrapped


def test_imports_after_the_first_statement_go_inside_the_function() -> None:
    wrapped = wrap_stdin_program("x = 1\nimport os\nprint(x)")
    assert "def code():\n\tx = 1\n\timport os\n\tprint(x)\n" in wrapped


def test_program_kinds() -> None:
    assert build_program("print(1)", None)["mode"] == "stdin"
    call = build_program("class Solution:\n    def f(self): pass", "f")
    assert (call["mode"], call["use_class"], call["fn_name"]) == ("call", True, "f")
    assert build_program("def f(): pass", "f")["use_class"] is False
