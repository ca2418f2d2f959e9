"""Word segmentation and POS tagging: the expensive stage, run in Ray tasks over chunks.

Two taggers. THULAC is the DKRN authors' tool and its tags are the released keyword list's
(`心疼_v`); its Python package is pure Python, loads a ~1.3 GB model per process and tags
about 90-190 utterances/s per core here. jieba's `posseg` costs about 1.3 CPU-ms per
utterance (700-1,150/s per core) in ~160 MB, so it is the default; its finer tag set is
mapped onto THULAC's noun / verb / adjective explicitly (POS_MAP), and the dataset card
says which tagger ran. Each worker process loads a tagger once (`get_segmenter`), so the
load is paid per worker, not per task.

A token is written "word_tag" with the tagger's own tag; `keyword_of` turns a token into
the `word_pos` keyword form (pos in n/v/a) or None.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import threading
from collections import OrderedDict
from typing import Protocol

from corpusforge.schemas.weibo import Segmenter as SegmenterName

# Tagger tag -> keyword POS. THULAC: n (common noun), v, a; its proper nouns (np, ns, ni,
# nz), idioms and morphemes are not keywords. jieba: vn (verbal noun, e.g. 设计) is a verb
# and an (adjectival noun) an adjective, as THULAC tags those words; nr/ns/nt/nz are
# proper nouns, ad/vd adverbial uses, ng/vg/ag morphemes.
POS_MAP: dict[str, dict[str, str]] = {
    "thulac": {"n": "n", "v": "v", "a": "a"},
    "jieba": {"n": "n", "vn": "v", "v": "v", "a": "a", "an": "a"},
}


def _installed(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


# What a segmentation cache entry is keyed by: the tagger, its installed version, its mode.
SEGMENTER_VERSIONS = {"thulac": f"thulac-{_installed('thulac')}",
                      "jieba": f"jieba-{_installed('jieba')}-posseg-hmm"}


class Tagger(Protocol):
    name: str

    def tag(self, text: str) -> list[tuple[str, str]]: ...


class JiebaTagger:
    name = "jieba"

    def __init__(self) -> None:
        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.posseg.POSTokenizer(jieba.Tokenizer())
        self._tokenizer.initialize()

    def tag(self, text: str) -> list[tuple[str, str]]:
        return [(p.word, p.flag) for p in self._tokenizer.cut(text, HMM=True)]


class ThulacTagger:
    name = "thulac"

    def __init__(self) -> None:
        import thulac

        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Model loaded succeed"
            self._model = thulac.thulac()

    def tag(self, text: str) -> list[tuple[str, str]]:
        out = []
        for token in self._model.cut(text, text=True).split(" "):
            word, _, tag = token.rpartition("_")
            if word:
                out.append((word, tag))
        return out


_BUILDERS = {"jieba": JiebaTagger, "thulac": ThulacTagger}
_taggers: dict[str, Tagger] = {}
_lock = threading.Lock()


def get_segmenter(name: SegmenterName) -> Tagger:
    """This process's tagger, loaded on first use."""
    with _lock:
        if name not in _taggers:
            _taggers[name] = _BUILDERS[name]()
        return _taggers[name]


def segment(tagger: Tagger, text: str) -> list[str]:
    """'word_tag' tokens; whitespace tokens are dropped (they carry no tag) and spaces
    inside a word removed, so a segmented utterance is "tok tok tok"."""
    return [f"{w.replace(' ', '')}_{t}" for w, t in tagger.tag(text) if w.strip()]


class Memo:
    """A per-process LRU of segmented utterances (SegmentationConfig.memo)."""

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.hits = 0

    def segment(self, tagger: Tagger, text: str, size: int) -> str:
        if size <= 0:
            return " ".join(segment(tagger, text))
        key = (tagger.name, text)
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
            self.hits += 1
            return found
        value = self.entries[key] = " ".join(segment(tagger, text))
        while len(self.entries) > size:
            self.entries.popitem(last=False)
        return value


MEMO = Memo()


def keyword_of(token: str, pos_map: dict[str, str], min_chars: int) -> str | None:
    word, _, tag = token.rpartition("_")
    pos = pos_map.get(tag)
    if pos is None or len(word) < min_chars:
        return None
    return f"{word}_{pos}"
