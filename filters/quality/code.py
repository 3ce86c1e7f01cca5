"""Source-code rules of RedPajama's GitHub subset and The Stack (Kocetkov et al. 2022)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from tokenmill.filters.document import Document
from tokenmill.filters.quality.stats import TextStats


@dataclass
class CodeRules:
    max_line_length: int = 1000
    max_mean_line_length: float = 100.0
    min_alphanumeric: float = 0.25

    name = "code"
    SIGNALS = {"max_line_length": "int", "mean_line_length": "float", "alphanumeric": "float"}

    def thresholds(self):
        return {"max_line_length": (None, self.max_line_length), "mean_line_length": (None, self.max_mean_line_length),
                "alphanumeric": (self.min_alphanumeric, None)}

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        s = doc.signals
        lengths = [len(line) for line in doc.text.split("\n")]
        s["max_line_length"] = max(lengths)
        if s["max_line_length"] > self.max_line_length:
            return "code_max_line_length"
        s["mean_line_length"] = sum(lengths) / len(lengths)
        if s["mean_line_length"] > self.max_mean_line_length:
            return "code_mean_line_length"
        s["alphanumeric"] = sum(c.isalnum() for c in doc.text) / max(1, len(doc.text))
        if s["alphanumeric"] < self.min_alphanumeric:
            return "code_alphanumeric"
        return None
