"""The llama.cpp build flags for the CPU it will run on, from that CPU's own feature list.

Machines of one "kind" differ: Intel with AVX-512 and an AMX that advertises itself but
crashes when used, AMD with AVX2 only (an AVX-512 build dies there with SIGILL), AMD with
AVX-512 but no AVX-VNNI. So each instruction-set option of ggml is switched on only where
/proc/cpuinfo lists every feature the compiler flag behind it enables, AMX is always off,
and GGML_NATIVE is off (the compiler's -march=native would trust the AMX bit).

Every option is set explicitly, ON or OFF: with GGML_NATIVE=OFF ggml defaults SSE4.2, AVX,
AVX2, BMI2, FMA and F16C to ON, which would put BMI2 into an AVX-only machine's build.

The wheel cache is keyed by `build_key` (a digest of the chosen options): a machine with
other features builds its own wheel, one with the same features reuses it.

Standard library only: the install script runs this file before the environment exists
(`python cpu_build.py cmake-args|key|describe [CPUINFO]`), and the engine reads the
record the install leaves (`BUILD_RECORD`) to explain a crash.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

# ggml option -> every /proc/cpuinfo flag its compiler flags need (ggml-cpu/CMakeLists.txt:
# GGML_AVX512 adds -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw).
ISA_OPTIONS: dict[str, tuple[str, ...]] = {
    "GGML_SSE42": ("sse4_2",),
    "GGML_AVX": ("avx",),
    "GGML_AVX2": ("avx2",),
    "GGML_BMI2": ("bmi2",),
    "GGML_FMA": ("fma",),
    "GGML_F16C": ("f16c",),
    "GGML_AVX_VNNI": ("avx_vnni",),
    "GGML_AVX512": ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    "GGML_AVX512_VBMI": ("avx512vbmi",),
    "GGML_AVX512_VNNI": ("avx512_vnni",),
    "GGML_AVX512_BF16": ("avx512_bf16",),
}
# Options that only mean something on top of another (ggml reads them inside its block).
REQUIRES: dict[str, str] = {
    "GGML_AVX2": "GGML_AVX",
    "GGML_FMA": "GGML_AVX",
    "GGML_F16C": "GGML_AVX",
    "GGML_AVX_VNNI": "GGML_AVX2",
    "GGML_AVX512": "GGML_AVX2",
    "GGML_AVX512_VBMI": "GGML_AVX512",
    "GGML_AVX512_VNNI": "GGML_AVX512",
    "GGML_AVX512_BF16": "GGML_AVX512",
}
ALWAYS_OFF = ("GGML_NATIVE", "GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
BUILD_RECORD = "corpusforge-llama-build.json"  # in the venv root: what the engine was built for


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags of the first processor in a /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    raise ValueError("no 'flags' line in the cpuinfo text (not an x86 Linux /proc/cpuinfo?)")


def isa_options(flags: frozenset[str]) -> dict[str, bool]:
    """ggml option -> on/off for a CPU with these flags (AMX and native always off)."""
    chosen: dict[str, bool] = {}
    for option, needs in ISA_OPTIONS.items():
        base = REQUIRES.get(option)
        chosen[option] = all(f in flags for f in needs) and (base is None or chosen[base])
    chosen.update(dict.fromkeys(ALWAYS_OFF, False))
    return chosen


def cmake_args(options: dict[str, bool]) -> str:
    return " ".join(f"-D{name}={'ON' if on else 'OFF'}" for name, on in sorted(options.items()))


def build_key(options: dict[str, bool]) -> str:
    """A short digest naming the option set: the wheel cache's key."""
    return hashlib.sha256(cmake_args(options).encode()).hexdigest()[:12]


def enabled(options: dict[str, bool]) -> list[str]:
    return [name.removeprefix("GGML_") for name, on in options.items() if on]


def missing_features(options: dict[str, bool], flags: frozenset[str]) -> list[str]:
    """CPU flags a build with these options needs and a CPU with `flags` lacks."""
    need = {f for name, on in options.items() if on for f in ISA_OPTIONS.get(name, ())}
    return sorted(need - flags)


def read_record(venv: Path | None = None) -> dict | None:
    """What the installed engine was built for, or None when the install left no record."""
    root = venv if venv is not None else Path(sys.prefix)
    path = root / BUILD_RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def this_cpu_flags() -> frozenset[str]:
    return cpu_flags(Path("/proc/cpuinfo").read_text())


def _main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("cmake-args", "key", "describe", "record"):
        print("usage: cpu_build.py cmake-args|key|describe|record [CPUINFO]", file=sys.stderr)
        return 2
    source = Path(argv[1]) if len(argv) > 1 else Path("/proc/cpuinfo")
    flags = cpu_flags(source.read_text())
    options = isa_options(flags)
    if argv[0] == "cmake-args":
        print(cmake_args(options))
    elif argv[0] == "key":
        print(build_key(options))
    elif argv[0] == "describe":
        print(" ".join(enabled(options)) or "(no SIMD extensions)")
    else:
        print(json.dumps({"key": build_key(options), "cmake_args": cmake_args(options),
                          "enabled": enabled(options)}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
