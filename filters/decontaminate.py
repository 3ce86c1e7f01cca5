"""Benchmark decontamination: drop (or flag) documents that share an n-gram with an evaluation set.

GPT-3 (Brown et al. 2020, appendix C) removed training documents sharing a 13-gram with any
benchmark item, words lower-cased and stripped of punctuation; DataTrove's decontamination filter
does the same with 13-grams. Items shorter than 13 words would never match, so, as GPT-3 did for
benchmarks of short items, an item of `min_item_words` to 12 words is indexed whole, as an n-gram of
its own length.

The index is built once per worker process from the evaluation files (JSONL, Parquet or plain text,
one item per string field or per line; read through the `SideFiles` given, so remote paths work) and
shared by every source that names the same sets and settings: each n-gram is a 64-bit hash of its
word hashes, held in one sorted NumPy array per set (8 bytes per distinct n-gram: 100,000 items of
100 words take about 80 MB), so a document costs one hash per word and one binary search per n-gram,
whatever the size of the sets.
"""
from __future__ import annotations

import gzip
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from tokenmill.filters.base import DocumentFilter, SignalTypes
from tokenmill.filters.document import Document
from tokenmill.filters.side_files import LOCAL, SideFiles, shared
from tokenmill.filters.textguard import DEFAULT_MAX_CHARS, unfit_reason

DEFAULT_NGRAM = 13  # GPT-3, DataTrove
DEFAULT_MIN_ITEM_WORDS = 8  # GPT-3's floor for short-item benchmarks
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits: punctuation and underscores split words
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def ngram_words(text: str) -> list[str]:
    """The words n-grams are made of: NFKC, lower case, punctuation dropped (GPT-3's normalisation)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """A 64-bit hash per word: Python's own string hash, salted per process, which is enough since a
    worker builds its index and looks documents up in the same process (and 40x faster than blake2b)."""
    return np.fromiter((hash(w) for w in words), dtype=np.int64, count=len(words)).view(np.uint64)


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of every run of `n` consecutive words, from their word hashes (position order)."""
    return ngram_hashes_by_length(hashes, [n])[n]


def ngram_hashes_by_length(hashes: np.ndarray, lengths: Sequence[int]) -> dict[int, np.ndarray]:
    """`ngram_hashes` for each of `lengths`, in one pass: an (n+1)-gram extends its n-gram's hash."""
    out: dict[int, np.ndarray] = {}
    current = hashes.copy()
    with np.errstate(over="ignore"):
        for n in range(1, max(lengths) + 1):
            if n > 1:
                current = current[:-1] * _MULTIPLIER + hashes[n - 1:]
            if n in lengths:
                out[n] = current
    return out


def read_items(path: str, fields: Optional[Sequence[str]] = None, files: SideFiles = LOCAL) -> Iterator[str]:
    """The texts of an evaluation set: every string (in `fields`, when given) of each JSONL record or
    Parquet row, or every non-empty line of a text file (`.gz` ones decompressed)."""
    name = path.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with files.open(path) as stream:
            for batch in pq.ParquetFile(stream).iter_batches(columns=list(fields) if fields else None):
                for record in batch.to_pylist():
                    yield from _strings(record)
        return
    with files.open(path) as raw:
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if path.lower().endswith(".gz") else raw
        lines = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
        if name.endswith((".jsonl", ".json")):
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{path}:{number}: not JSON ({err.msg})") from None
                    yield from _strings({k: v for k, v in record.items() if not fields or k in fields}
                                        if isinstance(record, dict) else record)
        else:
            yield from (line.strip() for line in lines if line.strip())


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


@dataclass
class NgramIndex:
    """One evaluation set's n-gram hashes, sorted, by n-gram length."""

    name: str
    by_length: dict[int, np.ndarray]

    @classmethod
    def build(cls, name: str, items: Iterator[str], n: int, min_item_words: int) -> "NgramIndex":
        parts: dict[int, list[np.ndarray]] = {}
        for item in items:
            hashes = word_hashes(ngram_words(item))
            if len(hashes) >= n:
                parts.setdefault(n, []).append(ngram_hashes(hashes, n))
            elif len(hashes) >= min_item_words:
                parts.setdefault(len(hashes), []).append(ngram_hashes(hashes, len(hashes)))
        return cls(name, {length: np.unique(np.concatenate(arrays)) for length, arrays in sorted(parts.items())})

    def first_match(self, ngrams: dict[int, np.ndarray]) -> Optional[tuple[int, int]]:
        """(position, length) of the document's first n-gram found in this set, or None; `ngrams`
        holds the document's n-gram hashes for every length this set indexes."""
        best = None
        for length, index in self.by_length.items():
            keys = ngrams[length]
            if not len(keys):
                continue
            places = np.minimum(np.searchsorted(index, keys), len(index) - 1)
            hits = np.flatnonzero(index[places] == keys)
            if len(hits) and (best is None or hits[0] < best[0]):
                best = (int(hits[0]), length)
        return best


class Decontaminate(DocumentFilter):
    """Drop a document sharing an n-gram with an evaluation set, as `decontaminate/<set>`; with
    `flag_only`, keep it. Either way the set and the n-gram are recorded in its row."""

    stage = "decontaminate"

    def __init__(self, sets: dict[str, str], n: int = DEFAULT_NGRAM, min_item_words: int = DEFAULT_MIN_ITEM_WORDS,
                 fields: Optional[Sequence[str]] = None, flag_only: bool = False, max_chars: int = DEFAULT_MAX_CHARS,
                 files: SideFiles = LOCAL):
        self.sets = dict(sorted(sets.items()))
        self.n = n
        self.min_item_words = min(min_item_words, n)
        self.fields = list(fields) if fields else None
        self.flag_only = flag_only
        self.max_chars = max_chars
        self.files = files
        self._indexes: Optional[list[NgramIndex]] = None
        self._lengths: list[int] = []

    def signal_types(self) -> SignalTypes:
        return {"contamination_set": "str", "contamination_ngram": "str"}

    def setup(self) -> None:
        self._indexes = [self._index(name, path) for name, path in self.sets.items()]
        self._lengths = sorted({length for index in self._indexes for length in index.by_length}) or [self.n]

    def _index(self, name: str, path: str) -> NgramIndex:
        """The set's index, built once per process for its path and settings."""
        fields = tuple(self.fields) if self.fields else None
        return shared(("decontaminate", name, path, fields, self.n, self.min_item_words),
                      lambda: NgramIndex.build(name, read_items(path, self.fields, self.files), self.n,
                                               self.min_item_words))

    def match(self, text: str) -> Optional[tuple[str, str]]:
        """(set name, the shared n-gram as normalised words) for the first set `text` shares one with."""
        if self._indexes is None:
            self.setup()
        words = ngram_words(text)
        if len(words) < self.min_item_words:
            return None
        ngrams = ngram_hashes_by_length(word_hashes(words), self._lengths)
        for index in self._indexes:
            found = index.first_match(ngrams)
            if found is not None:
                position, length = found
                return index.name, " ".join(words[position:position + length])
        return None

    def __call__(self, doc: Document) -> Optional[str]:
        unfit = unfit_reason(doc.text, self.max_chars)
        if unfit:
            return unfit
        found = self.match(doc.text)
        doc.signals["contamination_set"], doc.signals["contamination_ngram"] = found or (None, None)
        return None if found is None or self.flag_only else found[0]

    def __getstate__(self):
        return {**self.__dict__, "_indexes": None}
