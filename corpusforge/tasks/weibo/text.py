"""Undoing a segmenter's spaces in raw STC and LCCC text.

STC is word-segmented and LCCC has a space between every character; the spaces are the
source's tokenisation, not the writer's. A space goes when it sits between two CJK
characters, or between a CJK character and an ASCII letter or digit ("报告 alink",
"2 斤"); every other space stays ("疯狂 ------", "。 #", kana and emoticons), and runs are
not collapsed (a double space in STC is a space the writer typed plus the separator).
This is the rule the fixture's zh.jsonl was derived with, except that it also treats the
supplementary CJK planes (Extension B and later) as CJK.
"""

from __future__ import annotations

_CJK_RANGES = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),  # ideographs
    (0x3000, 0x303F),  # CJK punctuation
    (0xFF00, 0xFFEF),  # full- and half-width forms
    (0x20000, 0x3FFFF),  # supplementary ideographs
)


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def _ascii_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


def strip_segmentation_spaces(text: str) -> str:
    out: list[str] = []
    last = len(text) - 1
    for i, char in enumerate(text):
        if char == " " and 0 < i < last:
            left, right = text[i - 1], text[i + 1]
            if ((is_cjk(left) and (is_cjk(right) or _ascii_word(right)))
                    or (is_cjk(right) and _ascii_word(left))):
                continue
        out.append(char)
    return "".join(out).strip()
