"""C4's cleaning (Raffel et al. 2020, section 2.2): keep lines that end in terminal punctuation and
have at least 3 words, drop lines about JavaScript or cookie and privacy notices, then drop the page
if it has "lorem ipsum", a curly bracket (code), fewer than 5 sentences, or a word from the LDNOOBW list.
The line cleaning rewrites the document's text.

The paper's numbers are 3 words per line and 5 sentences per page (as in the original Beam code,
`c4_utils.py`); DESIGN.md swaps them (5 words, 3 sentences). tests/test_quality.py pins the paper's."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from tokenmill.filters.badwords import BadWordMatcher
from tokenmill.filters.document import Document
from tokenmill.filters.quality.stats import TERMINAL_PUNCTUATION, TextStats

BOILERPLATE = ("javascript", "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
               "use cookies")
SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


@dataclass
class C4:
    min_words_per_line: int = 3
    min_sentences: int = 5
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = True
    bad_words: bool = True                  # C4 dropped any page with a listed word
    bad_words_language: str = "en"
    boilerplate: list[str] = field(default_factory=lambda: list(BOILERPLATE))

    name = "c4"
    SIGNALS = {"c4_lines_removed": "int", "c4_sentences": "int", "c4_bad_words": "int"}

    def __post_init__(self):
        self._matcher = None

    def thresholds(self):
        return {"c4_sentences": (self.min_sentences, None)}

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        s = doc.signals
        kept = []
        for line in stats.lines:
            if not line:
                continue
            lower = line.lower()
            if (line.endswith(TERMINAL_PUNCTUATION) and len(line.split()) >= self.min_words_per_line
                    and not any(phrase in lower for phrase in self.boilerplate)):
                kept.append(line)
        s["c4_lines_removed"] = len(stats.nonempty_lines) - len(kept)
        doc.text = "\n".join(kept)
        lower_text = doc.text.lower()
        if self.drop_lorem_ipsum and "lorem ipsum" in lower_text:
            return "c4_lorem_ipsum"
        if self.drop_curly_bracket and "{" in doc.text:
            return "c4_curly_bracket"
        s["c4_sentences"] = len(SENTENCE_END.findall(doc.text))
        if s["c4_sentences"] < self.min_sentences:
            return "c4_too_few_sentences"
        if self.bad_words:
            if self._matcher is None:
                self._matcher = BadWordMatcher.for_language(self.bad_words_language)
            s["c4_bad_words"] = self._matcher.count(doc.text)
            if s["c4_bad_words"]:
                return "c4_bad_words"
        return None

    def __getstate__(self):
        return {**self.__dict__, "_matcher": None}
