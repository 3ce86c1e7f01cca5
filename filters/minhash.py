"""MinHash signatures of documents, vectorised over batches, identical to datasketch's.

A document is normalised (lower case, punctuation folded to spaces, digits to 0, whitespace
collapsed) and cut into 5-word shingles (FineWeb, Penedo et al. 2024). A shingle's 32-bit hash is
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
_MULTIPLIER = np.uint32(0x01000193)  # FNV-1a's prime: an odd multiplier mixes word order into the hash
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_DIGITS = re.compile(r"\d")
_MAX_HASH = np.uint32(0xFFFFFFFF)
# Shingles permuted at once: 16k × 112 uint32 is 7 MB, small enough to stay in cache.
BLOCK_SHINGLES = 16_384


def normalized_words(text: str) -> list[str]:
    return _DIGITS.sub("0", _PUNCTUATION.sub(" ", text.lower())).split()


def word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "little")


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
        self._cache: dict[str, int] = {}
        self._cache_words = cache_words

    def shingle_hashes(self, text: str) -> np.ndarray:
        words = normalized_words(text)
        if len(self._cache) > self._cache_words:
            self._cache.clear()
        cache = self._cache
        hashes = np.fromiter((cache[w] if w in cache else cache.setdefault(w, word_hash(w)) for w in words),
                             dtype=np.uint32, count=len(words))
        k = self.shingle_words
        if len(hashes) <= k:
            if not len(hashes):
                return hashes
            k = len(hashes)
        out = np.zeros(len(hashes) - k + 1, dtype=np.uint32)
        for i in range(k):
            out = out * _MULTIPLIER + hashes[i: len(hashes) - k + 1 + i]
        return np.unique(out)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32 hash values; an empty text gets the all-max signature."""
        result = np.full((len(texts), self.num_perm), _MAX_HASH, dtype=np.uint32)
        block: list[np.ndarray] = []
        owners: list[int] = []
        size = 0
        for row, text in enumerate(texts):
            hashes = self.shingle_hashes(text)
            if len(hashes):
                block.append(hashes)
                owners.append(row)
                size += len(hashes)
            if size >= BLOCK_SHINGLES:
                self._reduce(block, owners, result)
                block, owners, size = [], [], 0
        if block:
            self._reduce(block, owners, result)
        return result

    def _reduce(self, block: list[np.ndarray], owners: list[int], result: np.ndarray) -> None:
        """Permute a block of shingle hashes (a cache-sized matrix) and take each document's minima."""
        mixed = _fmix32(np.concatenate(block))
        permuted = np.multiply(mixed[:, None], self.a[None, :])   # wraps mod 2^32, as datasketch
        permuted += self.b[None, :]
        starts = np.cumsum([0] + [len(h) for h in block[:-1]])
        result[owners] = np.minimum.reduceat(permuted, starts, axis=0)

    def lean_minhash(self, signature: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=self.seed, hashvalues=signature, scheme="affine32")


def band_keys(signature: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> list[tuple[int, bytes]]:
    """One (band, digest of the band's rows) key per band: documents sharing a key are candidates."""
    return [(band, hashlib.blake2b(signature[band * rows:(band + 1) * rows].tobytes(), digest_size=8).digest())
            for band in range(bands)]


def estimated_jaccard(left: np.ndarray, right: np.ndarray) -> float:
    return float(np.mean(left == right))


def detection_probability(jaccard: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The chance that two documents with this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - jaccard ** rows) ** bands
