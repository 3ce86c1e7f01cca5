"""Text normalisation shared by the dedup stages, and the content hash exact dedup groups by."""
from __future__ import annotations

import hashlib
import unicodedata


def normalize_for_exact_match(text: str) -> str:
    """NFKC, lower case, whitespace runs collapsed: copies that differ only in layout compare equal."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def content_hash(text: str) -> str:
    """A 128-bit hex digest of the normalised text."""
    return hashlib.blake2b(normalize_for_exact_match(text).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
