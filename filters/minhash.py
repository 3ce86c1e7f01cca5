"""MinHash signatures of documents, vectorised over batches, identical to datasketch's.

A document is normalised (lower case, digits to 0, words split at anything that is not a letter
or a digit) and cut into 5-word shingles (FineWeb, Penedo et al. 2024). A shingle's 32-bit hash is
a polynomial over its words' hashes, so the same value is computed one shingle at a time (the
`hashfunc` handed to `datasketch.MinHash`) or for every shingle of a batch at once in numpy. The
permutations are datasketch's own (scheme affine32: the MurmurHash3 finaliser, then h → a·h + b
mod 2^32), so a signature here equals `datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)`
updated shingle by shingle, and `LeanMinHash` can wrap it for a `MinHashLSH` index.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Sequence

import numpy as np
from datasketch import LeanMinHash, MinHash

SHINGLE_WORDS = 5
NUM_PERM = 112                 # FineWeb: 14 bands × 8 rows, Jaccard threshold ≈ 0.72
BANDS, ROWS = 14, 8
SEED = 1
KEY_BYTES = 6  # a band key's digest: 48 bits, a varint of 7 bytes
_MULTIPLIER = np.uint32(0x01000193)  # FNV-1a's prime: an odd multiplier mixes word order into the hash
_DIGITS = re.compile(r"\d")
_MAX_HASH = np.uint32(0xFFFFFFFF)
# Shingles permuted at once: 4k × 112 uint32 is 1.8 MB, small enough to stay in a core's cache.
BLOCK_SHINGLES = 4096


_WORD = re.compile(r"[^\W_]+")  # a run of word characters but the underscore: what the folding leaves


def normalized_words(text: str) -> list[str]:
    """Lower case, digits to 0, split on whatever is not a letter or a digit (punctuation, `_`, space)."""
    return _WORD.findall(_DIGITS.sub("0", text.lower()))


# ASCII bytes folded as `normalized_words` folds them: digits to 0, anything but a letter or a digit to a
# space; bytes of other characters are left for the Unicode rules.
_ASCII_FOLD = bytes.maketrans(
    bytes(range(128)),
    bytes((b"0"[0] if chr(c).isdigit() else c) if chr(c).isalnum() else b" "[0] for c in range(128)))


def normalized_word_bytes(text: str) -> list[bytes]:
    """`normalized_words` as UTF-8 bytes, mostly in C: the text is split at ASCII separators with a
    byte table; only a piece holding a non-ASCII character goes through the Unicode rules."""
    data = text.lower().encode("utf-8", "surrogatepass").translate(_ASCII_FOLD)
    pieces = data.split()
    if data.isascii():
        return pieces
    words = []
    for piece in pieces:
        if piece.isascii():
            words.append(piece)
        else:
            words.extend(w.encode("utf-8", "surrogatepass")
                         for w in normalized_words(piece.decode("utf-8", "surrogatepass")))
    return words


def word_hash(word: str | bytes) -> int:
    data = word if isinstance(word, bytes) else word.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little")


def shingles(text: str, size: int = SHINGLE_WORDS) -> list[bytes]:
    """The document's distinct shingles as bytes (what a datasketch MinHash is updated with)."""
    words = normalized_words(text)
    if len(words) <= size:
        return [" ".join(words).encode("utf-8")] if words else []
    return sorted({" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)})


def shingle_hash(shingle: bytes) -> int:
    """The 32-bit hash of one shingle: the datasketch `hashfunc` matching the vectorised path."""
    h = 0
    for word in shingle.decode("utf-8").split(" "):
        h = (h * int(_MULTIPLIER) + word_hash(word)) & 0xFFFFFFFF
    return h


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (datasketch applies it before the permutations)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


class MinHasher:
    """Signatures for batches of texts. Word hashes are cached across calls (bounded)."""

    def __init__(self, num_perm: int = NUM_PERM, seed: int = SEED, shingle_words: int = SHINGLE_WORDS,
                 cache_words: int = 1 << 20):
        self.num_perm, self.seed, self.shingle_words = num_perm, seed, shingle_words
        self.a, self.b = permutations(num_perm, seed)
        self._cache: dict[bytes, int] = {}
        self._cache_words = cache_words
        self._buffer = np.empty((0, num_perm), dtype=np.uint32)  # reused: no fresh block matrix per call

    def word_hashes(self, text: str) -> np.ndarray:
        """The hash of each normalised word, in order (words not seen before are hashed in Python)."""
        words = normalized_word_bytes(text)
        if len(self._cache) > self._cache_words:
            self._cache.clear()
        cache = self._cache
        try:
            return np.fromiter(map(cache.__getitem__, words), dtype=np.uint32, count=len(words))
        except KeyError:
            for word in words:
                if word not in cache:
                    cache[word] = word_hash(word)
            return np.fromiter(map(cache.__getitem__, words), dtype=np.uint32, count=len(words))

    def shingle_hashes(self, text: str) -> np.ndarray:
        """The distinct shingle hashes of one text (each equals `shingle_hash` of that shingle)."""
        words = self.word_hashes(text)
        return np.unique(self._shingles([words])[0]) if len(words) else words

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32 hash values; an empty text gets the all-max signature."""
        result = np.full((len(texts), self.num_perm), _MAX_HASH, dtype=np.uint32)
        block: list[np.ndarray] = []
        owners: list[int] = []
        size = 0
        for row, text in enumerate(texts):
            words = self.word_hashes(text)
            if len(words):
                block.append(words)
                owners.append(row)
                size += len(words)
            if size >= BLOCK_SHINGLES:
                self._reduce(block, owners, result)
                block, owners, size = [], [], 0
        if block:
            self._reduce(block, owners, result)
        return result

    def _shingles(self, block: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(every shingle hash of a block of documents' word hashes, each document's count), computed
        over the whole block at once: windows that would cross from one document into the next are
        dropped, and a document shorter than a shingle is one shingle of all its words. A repeated
        shingle stays repeated: it cannot change a minimum."""
        k = self.shingle_words
        lengths = np.fromiter(map(len, block), dtype=np.int64, count=len(block))
        counts = np.maximum(lengths - k + 1, 1)
        words = np.concatenate(block)
        if lengths.min() < k:  # too short for a full window: pad the front with zeros (h = 0·M + h)
            pad = np.maximum(k - lengths, 0)
            padded = np.zeros(len(words) + int(pad.sum()), dtype=np.uint32)
            ends = np.cumsum(lengths + pad)
            keep = np.ones(len(padded), dtype=bool)
            keep[np.repeat(ends - lengths - pad, pad) + _ramp(pad)] = False
            padded[keep] = words
            words, lengths = padded, lengths + pad
        span = len(words) - k + 1
        rolled = np.zeros(span, dtype=np.uint32)
        for i in range(k):
            rolled = rolled * _MULTIPLIER + words[i:span + i]
        starts = np.cumsum(lengths) - lengths
        first = np.cumsum(counts) - counts
        return rolled[np.arange(int(counts.sum())) + np.repeat(starts - first, counts)], counts

    def _reduce(self, block: list[np.ndarray], owners: list[int], result: np.ndarray) -> None:
        """Permute a block of shingle hashes (a cache-sized matrix) and take each document's minima."""
        shingles, counts = self._shingles(block)
        mixed = _fmix32(shingles)
        if len(self._buffer) < len(mixed):
            self._buffer = np.empty((len(mixed), self.num_perm), dtype=np.uint32)
        permuted = self._buffer[:len(mixed)]
        np.multiply(mixed[:, None], self.a[None, :], out=permuted)   # wraps mod 2^32, as datasketch
        permuted += self.b[None, :]
        result[owners] = np.minimum.reduceat(permuted, np.cumsum(counts) - counts, axis=0)

    def lean_minhash(self, signature: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme="affine32")


def _ramp(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... counts[0]-1, 0, 1, ... counts[1]-1, ...: positions inside consecutive runs."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def band_keys(signature: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> list[int]:
    """One key per band, a 48-bit digest of its number and rows: documents sharing a key are candidates.
    Two different band values share a key with odds 2^-48, among 10^7 documents about 0.2 pairs per
    band; the pairs such a bucket makes across the two values fail verification, so that band may
    link fewer pairs there, never a wrong one."""
    return [int.from_bytes(hashlib.blake2b(band.to_bytes(2, "little") + signature[band * rows:(band + 1) * rows]
                                           .tobytes(), digest_size=KEY_BYTES).digest(), "little")
            for band in range(bands)]


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.mean(left == right))


def detection_probability(jaccard: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The chance that two documents with this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands
