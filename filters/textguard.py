"""Documents a text-scoring stage should not score: too large to scan in bounded time, or not text."""
from __future__ import annotations

import re
from typing import Optional

# C0 controls other than tab, newlines and form feed, DEL, and U+FFFD (what a decoder puts for bytes
# it could not read). Prose has none; binary data read as text is full of them.
_NON_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
MAX_NON_TEXT_RATIO = 0.01
DEFAULT_MAX_CHARS = 2_000_000


def unfit_reason(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> Optional[str]:
    """"oversized" above `max_chars` characters, "binary" when more than 1% of the characters are
    control or replacement characters, None for a document a stage can score."""
    if len(text) > max_chars:
        return "oversized"
    if len(_NON_TEXT.findall(text)) > MAX_NON_TEXT_RATIO * len(text):
        return "binary"
    return None
