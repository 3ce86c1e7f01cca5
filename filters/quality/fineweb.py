"""FineWeb's own filters (Penedo et al. 2024, section 3.5), found by comparing kept and removed data."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Optional

from tokenmill.filters.document import Document
from tokenmill.filters.quality.stats import TERMINAL_PUNCTUATION, TextStats


@dataclass
class FineWeb:
    min_punctuated_lines: float = 0.12   # share of lines ending in punctuation
    max_short_lines: float = 0.67        # share of lines of at most `short_line_chars`
    short_line_chars: int = 30
    max_duplicate_line_chars: float = 0.01
    max_newlines_per_word: float = 0.3

    name = "fineweb"
    SIGNALS = {"punctuated_lines": "float", "short_lines": "float", "fineweb_duplicate_line_chars": "float",
               "newlines_per_word": "float"}

    def thresholds(self):
        return {"punctuated_lines": (self.min_punctuated_lines, None), "short_lines": (None, self.max_short_lines),
                "fineweb_duplicate_line_chars": (None, self.max_duplicate_line_chars),
                "newlines_per_word": (None, self.max_newlines_per_word)}

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        s = doc.signals
        lines = stats.nonempty_lines or [""]
        s["punctuated_lines"] = sum(map(str.endswith, lines, repeat(TERMINAL_PUNCTUATION))) / len(lines)
        if s["punctuated_lines"] < self.min_punctuated_lines:
            return "fineweb_punctuated_lines"
        s["short_lines"] = sum(1 for length in map(len, lines) if length <= self.short_line_chars) / len(lines)
        if s["short_lines"] > self.max_short_lines:
            return "fineweb_short_lines"
        s["fineweb_duplicate_line_chars"] = stats.duplicate_lines[1] / max(1, len(stats.text) - stats.text.count("\n"))
        if s["fineweb_duplicate_line_chars"] > self.max_duplicate_line_chars:
            return "fineweb_duplicate_line_chars"
        s["newlines_per_word"] = stats.text.count("\n") / max(1, stats.word_count)
        if s["newlines_per_word"] > self.max_newlines_per_word:
            return "fineweb_newlines_per_word"
        return None
