"""C4's page cleaning (Raffel et al. 2020, section 2.2), as the code that built C4 does it
(TFDS `c4_utils.py`): each line, stripped, is dropped if it holds a word over 1,000 characters;
citation markers (`[3]`, `[edit]`, `[citation needed]`) are removed; the line is then kept only if
it ends in terminal punctuation but not in an ellipsis, has at least 5 words, and mentions neither
JavaScript nor a cookie, privacy or terms-of-use notice. The page is dropped if a kept line has
"lorem ipsum" or a curly bracket (code), or the kept lines hold fewer than 3 sentences. The line
cleaning rewrites the document's text.

The minima are the code's (`_MIN_WORDS_PER_LINE = 5`, `_MIN_NUM_SENTENCES = 3`). The published
texts of the paper disagree with each other on them (one version says 3 words and 5 sentences, as
DataTrove's C4 filter does); the code is what built the dataset.

C4 also dropped every page holding one word of the LDNOOBW list (`bad_words`). That removes ordinary
news, health, sex-education and LGBTQ pages, so it is off by default; the toxicity stage's word ratio
decides instead (`filters/toxicity.py`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import and_, not_
from typing import Optional

from tokenmill.filters.badwords import BadWordMatcher, list_languages
from tokenmill.filters.document import Document
from tokenmill.filters.quality.stats import TERMINAL_PUNCTUATION, TextStats

BOILERPLATE = ("javascript", "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
               "use cookies")
CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
ELLIPSES = ("...", "…")


@dataclass
class C4:
    min_words_per_line: int = 5             # c4_utils.py: _MIN_WORDS_PER_LINE
    min_sentences: int = 3                  # c4_utils.py: _MIN_NUM_SENTENCES
    max_word_length: int = 1000             # c4_utils.py: _MAX_WORD_LENGTH
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = True
    bad_words: bool = False                 # C4 dropped any page with a listed word; the toxicity stage decides here
    bad_words_language: str = "en"          # for documents langid did not label
    boilerplate: list[str] = field(default_factory=lambda: list(BOILERPLATE))

    name = "c4"
    SIGNALS = {"c4_lines_removed": "int", "c4_sentences": "int", "c4_bad_words": "int"}

    def __post_init__(self):
        self._matchers = {}

    def thresholds(self):
        return {"c4_sentences": (self.min_sentences, None)}

    def kept_lines(self, lines: list[str], text: str) -> tuple[list[str], str, str]:
        """The lines of `text` that C4 keeps (citation markers removed), those lines joined, and joined
        and lower-cased. Each check runs over all the lines the earlier ones kept, cheapest first
        (their order changes nothing, as each one alone drops a line)."""
        if any(map(self.max_word_length.__lt__, map(len, lines))):  # a line may hold a word over the limit
            lines = [line for line in lines
                     if len(line) <= self.max_word_length or max(map(len, line.split())) <= self.max_word_length]
        if "[" in text:  # every citation marker opens with one
            lines = [CITATION.sub("", line) if "[" in line else line for line in lines]
        punctuated = map(and_, map(str.endswith, lines, repeat(TERMINAL_PUNCTUATION)),
                         map(not_, map(str.endswith, lines, repeat(ELLIPSES))))
        lines = list(compress(lines, punctuated))
        least = self.min_words_per_line  # splitting off that many words is enough to know
        words = map(len, map(str.split, lines, repeat(None), repeat(least - 1)))
        lines = list(compress(lines, map(least.__le__, words)))
        joined = "\n".join(lines)
        lowered = joined.lower()
        if self._has_notice(lowered):  # no notice spans lines: find the lines
            lines = list(compress(lines, map(not_, map(self._has_notice, map(str.lower, lines)))))
            joined = "\n".join(lines)
            lowered = joined.lower()
        return lines, joined, lowered

    def _has_notice(self, lowered: str) -> bool:
        return any(map(lowered.__contains__, self.boilerplate))

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        s = doc.signals
        kept, joined, lowered = self.kept_lines(stats.nonempty_lines, stats.text)
        s["c4_lines_removed"] = len(stats.nonempty_lines) - len(kept)
        doc.text = stats.rewrite(kept, joined)
        if self.drop_lorem_ipsum and "lorem ipsum" in lowered:
            return "c4_lorem_ipsum"
        if self.drop_curly_bracket and "{" in doc.text:
            return "c4_curly_bracket"
        s["c4_sentences"] = stats.rewritten.sentence_ends
        if s["c4_sentences"] < self.min_sentences:
            return "c4_too_few_sentences"
        if self.bad_words:
            matcher = self._matcher((doc.lang or self.bad_words_language).split("-")[0])
            s["c4_bad_words"] = matcher.count(doc.text) if matcher else 0
            if s["c4_bad_words"]:
                return "c4_bad_words"
        return None

    def _matcher(self, lang: str) -> Optional[BadWordMatcher]:
        """The LDNOOBW matcher of `lang`, None for a language without a list (as C4: nothing to find)."""
        if lang not in self._matchers:
            self._matchers[lang] = BadWordMatcher.for_language(lang) if lang in list_languages() else None
        return self._matchers[lang]

    def __getstate__(self):
        return {**self.__dict__, "_matchers": {}}
