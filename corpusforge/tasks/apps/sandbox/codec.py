"""Values and messages that cross the sandbox boundary. Standard library only.

Call-based tests pass Python values in and get one back. Plain JSON would lose what the
APPS comparison looks at (a tuple is not a list; dict keys may be ints), so values travel
in a tagged form that keeps tuples, sets, int keys and non-finite floats. Decoding yields
plain data only: an object the program returns that is not data (say, one whose __eq__
always answers True, the classic reward hack) arrives as an `Opaque` that equals nothing.

Messages between the host and the zygote are length-prefixed JSON on a pipe.
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

MAX_DEPTH = 64
MAX_MESSAGE = 1 << 30
_LEN = struct.Struct(">I")


class Opaque:
    """Stands for a returned object that is not plain data. Equal to nothing."""

    __slots__ = ("text", "type_name")

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name, self.text = type_name, text

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


class CodecError(ValueError):
    pass


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-able, tagged form of `value`. Exact types only: subclasses of the plain
    types (which could override __eq__) become opaque."""
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"f": repr(value)}
    if kind is list:
        return [encode(v, depth + 1) for v in value]
    if kind in (tuple, set, frozenset):
        items = [encode(v, depth + 1) for v in value]
        return {"t" if kind is tuple else "s" if kind is set else "fs": items}
    if kind is dict:
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    text = object.__repr__(value)  # the type's own __repr__ could be hostile too
    return {"o": kind.__name__[:100], "r": text[:200]}


def decode(value: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if "f" in value:
        return float(value["f"])
    if "t" in value:
        return tuple(decode(v, depth + 1) for v in value["t"])
    if "s" in value:
        return {_hashable(decode(v, depth + 1)) for v in value["s"]}
    if "fs" in value:
        return frozenset(_hashable(decode(v, depth + 1)) for v in value["fs"])
    if "d" in value:
        return {_hashable(decode(k, depth + 1)): decode(v, depth + 1) for k, v in value["d"]}
    if "o" in value:
        return Opaque(str(value["o"]), str(value.get("r", "")))
    raise CodecError(f"unknown tag in {sorted(value)}")


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return Opaque(type(value).__name__, "unhashable")
    return value


def send(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message, ensure_ascii=False, allow_nan=True).encode("utf-8")
    payload = _LEN.pack(len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def recv(fd: int) -> dict[str, Any] | None:
    """The next message, or None at end of stream."""
    header = _read_exact(fd, _LEN.size)
    if header is None:
        return None
    (size,) = _LEN.unpack(header)
    if size > MAX_MESSAGE:
        raise CodecError(f"message of {size} bytes")
    body = _read_exact(fd, size)
    if body is None:
        raise CodecError("stream ended inside a message")
    message = json.loads(body.decode("utf-8"))
    if not isinstance(message, dict):
        raise CodecError("a message must be a JSON object")
    return message


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if not chunks and remaining == size:
                return None
            raise CodecError("stream ended inside a message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
