"""The TRACE user message: render three structured parts, and parse them back.

The released template is

    description + "\\n" + "\\n".join(constraints) + "\\n"
    + ("# Inputs:\\n" + input + "\\n" if input)

and all 1,042 evaluation rows obey it exactly. Rendering is therefore the only direction
the pipeline needs: instructions are kept structured end to end. `parse` exists for users
who hand in rendered messages, and it is exact only under a condition it cannot check:

- the description is the first line; a description containing a newline is read as a
  shorter description plus extra constraints;
- each following line is one constraint, up to the first line that is exactly
  ``# Inputs:`` (after at least one constraint, with a line after it); a constraint
  containing a newline is read as several constraints, and a constraint that is exactly
  ``# Inputs:`` may be read as the start of the input;
- everything after that marker line, minus the final newline, is the input, which may
  itself contain newlines (and further ``# Inputs:`` lines).

So `render(*parse(m)) == m` holds for every message `parse` accepts, while
`parse(render(d, c, i)) == (d, c, i)` holds when d and every constraint are free of
newlines and no constraint is exactly ``# Inputs:``. In the evaluation set that excludes
25 rows (one description and 24 constraints contain newlines); the input is recovered
exactly on all rows. No heuristic can tell a continuation line from a new constraint in
general, so none is attempted.
"""

from __future__ import annotations

from collections.abc import Sequence

INPUT_MARKER = "# Inputs:"


class MessageFormatError(ValueError):
    """The text is not a rendered TRACE message."""


def render(description: str, constraints: Sequence[str], input: str | None = None) -> str:
    """The user message, exactly as the released data renders it. `input` None = absent
    (the released files write "NULL"; convert before calling)."""
    if not constraints:
        # With no constraints the message would read as one empty constraint.
        raise ValueError("an instruction needs at least one constraint")
    message = description + "\n" + "\n".join(constraints) + "\n"
    if input is not None:
        message += INPUT_MARKER + "\n" + input + "\n"
    return message


def parse(message: str) -> tuple[str, list[str], str | None]:
    """(description, constraints, input) from a rendered message. See the module docstring
    for when this is exact. Total on what the template can make: any text that ends with a
    newline and has at least two lines; anything else raises MessageFormatError."""
    if not message.endswith("\n"):
        raise MessageFormatError("a rendered message ends with a newline")
    lines = message[:-1].split("\n")
    if len(lines) < 2:
        raise MessageFormatError("a rendered message has a description line and at least "
                                 "one constraint line")
    description, rest = lines[0], lines[1:]
    # The marker opens the input only after at least one constraint and with an input line
    # after it; anywhere else the template can only have produced it as a constraint.
    at = next((i for i in range(1, len(rest) - 1) if rest[i] == INPUT_MARKER), None)
    if at is None:
        return description, rest, None
    return description, rest[:at], "\n".join(rest[at + 1:])
