"""Clean text before any stage measures it: Unicode spaces made plain, mojibake repaired (ftfy).

An HTML `&nbsp;` becomes U+00A0 in extracted text, and its siblings (U+2000–U+200A, U+202F,
U+205F, U+3000) come from typesetting; word counters, n-gram hashers and fastText split on ASCII
whitespace only, so a no-break space glues two words into one, and a model trained on the text
learns to write it. Each is replaced by a plain space; U+FEFF (a byte-order mark left inside text)
is removed.

Mojibake (UTF-8 read as Windows-1252: `doesnÃ¢â‚¬â„¢t`) is repaired with ftfy (Speer 2019), as
DataTrove's FTFY formatter does. Only what is broken is changed: HTML entities stay as written
(the text is already extracted; `&lt;` in a code page is content), and curly quotes, ligatures and
full-width characters stay, since they are typography, not damage.
"""
from __future__ import annotations

import re
from typing import Optional

import ftfy

from tokenmill.filters.base import DocumentFilter, SignalTypes
from tokenmill.filters.document import Document

# UTF-8 read as Windows-1252 or Latin-1 turns every multi-byte character into a lead character
# (U+00C2–U+00F4) followed by a continuation one (U+0080–U+00BF, or the Windows-1252 letters and
# punctuation at 0x80–0x9F); C1 controls are damage too. Only text with such a pair goes to ftfy,
# whose full repair is slow (700 pages/s on the DCLM pages, against 16,000 for this search).
MOJIBAKE_HINT = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                           "\u02c6\u02dc\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030"
                           "\u2039\u203a\u20ac\u2122]|[\u0080-\u009f]")
UNICODE_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
BYTE_ORDER_MARK = "\ufeff"
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False, fix_latin_ligatures=False, fix_character_width=False, uncurl_quotes=False,
    normalization="NFC", explain=False)


def clean_text(text: str, spaces: bool = True, mojibake: bool = True) -> tuple[str, int, int]:
    """(`text` cleaned, Unicode spaces replaced, length of the span ftfy changed). ASCII text is as is."""
    if text.isascii():
        return text, 0, 0
    repaired = 0
    if mojibake and MOJIBAKE_HINT.search(text):
        fixed = ftfy.fix_text(text, FTFY_CONFIG)
        repaired, text = changed_span(text, fixed), fixed
    replaced = 0
    if spaces:
        text, replaced = UNICODE_SPACES.subn(" ", text)
        if BYTE_ORDER_MARK in text:
            replaced += text.count(BYTE_ORDER_MARK)
            text = text.replace(BYTE_ORDER_MARK, "")
    return text, replaced, repaired


def changed_span(before: str, after: str) -> int:
    """The length of `before` between the first and the last character that differs in `after`."""
    if before == after:
        return 0
    prefix = _common_length(before, after, lambda text, n: text[:n])
    rest = min(len(before), len(after)) - prefix
    suffix = _common_length(before, after, lambda text, n: text[len(text) - n:], rest)
    return max(1, len(before) - prefix - suffix)


def _common_length(a: str, b: str, part, most: Optional[int] = None) -> int:
    """The largest n (up to `most`) for which `part(a, n) == part(b, n)`, by bisection: slices
    compare at C speed, where a loop over the characters would not."""
    low, high = 0, min(len(a), len(b)) if most is None else most
    while low < high:
        middle = (low + high + 1) // 2
        if part(a, middle) == part(b, middle):
            low = middle
        else:
            high = middle - 1
    return low


class CleanText(DocumentFilter):
    """Rewrite `doc.text` clean; never drops. Records the spaces replaced and the span ftfy repaired."""

    stage = "clean-text"

    def __init__(self, spaces: bool = True, mojibake: bool = True):
        self.spaces = spaces
        self.mojibake = mojibake

    def signal_types(self) -> SignalTypes:
        return {"unicode_spaces": "int", "mojibake_chars": "int"}

    def __call__(self, doc: Document) -> Optional[str]:
        doc.text, doc.signals["unicode_spaces"], doc.signals["mojibake_chars"] = clean_text(
            doc.text, self.spaces, self.mojibake)
        return None
