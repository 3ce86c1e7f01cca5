"""Presidio's pattern recognizers, run only where a pattern can match.

`PiiScanner.analyze(text)` returns the spans `AnalyzerEngine.analyze(text, "en", entities)` returns
(same types, offsets and scores), at a fraction of the cost:

- each regex recognizer runs only on the runs of its patterns' alphabet (`filters.regex_windows`)
  that hold a cheap hit every one of its matches must contain (an `@` for e-mail, three dotted
  octets or `::` for IP...: `PRESCANS`, matched on presidio's engine with the case folding of
  its IGNORECASE flag spelled out, which is several times faster than the flag), with the context
  its lookarounds read; a recognizer whose patterns have no bounded alphabet (URL) runs on the
  whole text when its hit is there;
- a window is scored by presidio's pattern loop less the explanation it builds per match
  (`WindowedRecognizer._analyze`), unless the recognizer has its own `analyze` (IBAN), on
  presidio's recognizers as `filters.pii_recognizers` transcribes them (so that no worker imports
  presidio, spaCy, torch and transformers: seconds before the first page);
- phone numbers come from `filters.phone_scan`;
- what a recognizer finds on a window is cached per worker, and presidio's engine (NLP artefacts,
  context enhancement, de-duplication across the text) is not run per document: without an NLP
  model it changes nothing, and windows never hold overlapping spans.

With a spaCy NER model (PERSON, LOCATION), presidio's context words change scores by the words
around a span, so the scanner then calls presidio on the whole text; so it does where the private
parts of phonenumbers, presidio or CPython it reads are not the checked ones (`filters.pii_contract`).
"""
from __future__ import annotations

import bisect
import itertools
from typing import Optional, Sequence

import regex

from tokenmill.filters.memo import BoundedMemo
from tokenmill.filters.pii_contract import fast_path_available
from tokenmill.filters.pii_recognizers import (MAX_SCORE, MIN_SCORE, REGEX_TIMEOUT_SECONDS, PatternRecognizer, Span,
                                               recognizer_for)
from tokenmill.filters.presidio_engine import LANGUAGE, build_analyzer, without_contained
from tokenmill.filters.regex_windows import Runs, Window, case_free, pattern_shape, runs_with

PATTERN_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "IBAN_CODE", "US_SSN", "CRYPTO")
OPTIONAL_ENTITIES = ("URL", "SECRET_KEY")

# For each regex recognizer, a pattern that every match of every one of its patterns contains,
# compiled with the recognizer's own engine and flags (presidio's IGNORECASE [a-z] also takes the
# long s and the Kelvin sign). Each leads with a literal or a digit, which the engine skips to.
PRESCANS = {
    "EMAIL_ADDRESS": r"@",  # the pattern's [@]
    # four groups of at least 4, 3, 3 and 3 digits, each separator optional
    "CREDIT_CARD": r"\d{4}[- ]?\d{3,4}[- ]?\d{3,4}[- ]?\d{3}",
    "IBAN_CODE": r"[0-9]{2}[ -]?[A-Z0-9]{4}[ -]?[A-Z0-9]{4}",  # check digits, then at least two blocks
    # IPv4 (alone or in IPv6): three dots between octets; IPv6: "::", or seven colons (":h:h:" among them).
    "IP_ADDRESS": r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:",
    "US_SSN": r"[0-9]{3}[- .]?[0-9]{2}[- .]?[0-9]{4}",  # covers 5-4, 3-6, 3-2-4, 9 and 3.2.4 digits
    "CRYPTO": r"[13][a-z0-9]{25}",  # "1", "3" or "bc1", then at least 25 address characters
    "URL": r"\.[a-z]{2}",  # the dot before the TLD and its first two letters
    "SECRET_KEY": r"AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|k_live_|PRIVATE KEY",  # each pattern's prefix
}
SEPARATOR = "\n"  # between the windows of one document asked in one call
DIGIT_LED = ("CREDIT_CARD", "IBAN_CODE", "US_SSN", "CRYPTO")  # pre-scans that open with a digit
DIGIT = r"\d"  # compiled by presidio's engine: every digit its Unicode tables know


class WindowedRecognizer:
    """One pattern recognizer (`filters.pii_recognizers`), asked about the windows of a text where it
    can match.

    A document's windows that are new are asked in one call, joined by `SEPARATOR` (outside the
    alphabet, and beyond the reach of every window's lookarounds); a window at the edge of the
    text is asked alone, so that the edge reads as an edge."""

    def __init__(self, recognizer: PatternRecognizer, prescan: str, score_threshold: float = 0.0):
        self.recognizer = recognizer
        self.entity = recognizer.entity
        flags = recognizer.flags
        self._hits = regex.compile(*case_free(prescan, flags, regex))
        self._patterns = [regex.compile(p.regex, flags) for p in recognizer.patterns]  # as presidio compiles them
        thresholds = recognizer.score_thresholds  # presidio's order: the entity's, the recognizer's, the engine's
        self._threshold = thresholds.get(self.entity, thresholds.get("default", score_threshold))
        try:
            shapes = [pattern_shape(p.regex, flags) for p in recognizer.patterns]
        except ValueError:
            self._runs = None  # no bounded alphabet: the whole text is the window
        else:
            self._runs = Runs(tuple(item for s in shapes for item in s.alphabet), flags)
            self._reach = max(s.reach for s in shapes)
            if self._runs.holds(SEPARATOR):
                self._runs = None  # matches may span lines (a PEM key block): the whole text is the window
        self._cache = BoundedMemo()

    def find(self, text: str) -> list[tuple[int, int, float]]:
        """(start, end, score) of each span presidio's recognizer finds in `text`."""
        if self._runs is None:
            return list(self._spans(text, 0, len(text))) if self._hits.search(text) else []
        found, new = [], {}
        for start, end in runs_with(text, self._hits, self._runs):
            begin = max(start - self._reach, 0)
            stop = end + self._reach
            window = text[begin:stop]
            spans = self._cache.get(window)
            if spans is None:
                if not any(p.search(window) for p in self._patterns):
                    spans = self._cache.put(window, ())
                elif begin == start - self._reach and stop <= len(text):
                    new.setdefault(window, []).append(begin)
                    continue
                else:
                    spans = self._cache.put(window, self._spans(window, start - begin, end - begin))
            found.extend((begin + s, begin + e, score) for s, e, score in spans)
        if new:
            for window, spans in zip(new, self._ask_together(list(new))):
                self._cache.put(window, spans)
                found.extend((begin + s, begin + e, score) for begin in new[window] for s, e, score in spans)
        return found

    def _spans(self, window: str, core_start: int, core_end: int) -> tuple:
        """The recognizer's spans inside window[core_start:core_end], above presidio's threshold."""
        return tuple((start, end, score) for start, end, score in self._analyze(window)
                     if core_start <= start and end <= core_end and score >= self._threshold)

    def _analyze(self, text: str) -> list[tuple[int, int, float]]:
        """(start, end, score) of what presidio's recognizer returns for `text`: its own `analyze`
        where it has one (IBAN), else presidio's pattern loop without the explanation it builds for
        every match: each pattern's matches, scored by `validate` and `invalidate`, then presidio's
        de-duplication."""
        recognizer = self.recognizer
        if recognizer.analyze is not None:
            return recognizer.analyze(text)
        found = []
        for pattern, compiled in zip(recognizer.patterns, self._patterns):
            try:
                for match in compiled.finditer(text, timeout=REGEX_TIMEOUT_SECONDS):
                    start, end = match.span()
                    if start == end:
                        continue
                    score = pattern.score
                    valid = recognizer.validate(text[start:end])
                    if valid is not None:
                        score = MAX_SCORE if valid else MIN_SCORE
                    if recognizer.invalidate(text[start:end]):
                        score = MIN_SCORE
                    if score > MIN_SCORE:
                        found.append((start, end, score))
            except TimeoutError:  # presidio skips a pattern that runs out of time
                continue
        return without_contained(found)

    def _ask_together(self, windows: list[str]) -> list[tuple]:
        """`_spans` of each window (each with `reach` characters of context on both sides), in one call."""
        offsets = list(itertools.accumulate((len(w) + len(SEPARATOR) for w in windows[:-1]), initial=0))
        spans = [[] for _ in windows]
        for start, end, score in self._analyze(SEPARATOR.join(windows)):
            i = bisect.bisect_right(offsets, start) - 1
            start, end = start - offsets[i], end - offsets[i]
            if self._reach <= start and end <= len(windows[i]) - self._reach and score >= self._threshold:
                spans[i].append((start, end, score))
        return [tuple(s) for s in spans]


class PiiScanner:
    """Presidio's findings for `entities`, computed on the parts of a text where they can be, without
    importing presidio (`filters.pii_recognizers`); with a spaCy model, or where the private parts
    the fast path reads are not the checked ones, presidio's own engine on the whole text."""

    def __init__(self, entities: Sequence[str] = PATTERN_ENTITIES, spacy_model: Optional[str] = None,
                 fast: Optional[bool] = None):
        self.entities = tuple(entities)
        self.spacy_model = spacy_model
        # `fast`: None decides by the installed versions; False asks presidio on the whole text, as with NER.
        self.plain = bool(spacy_model) or not (fast_path_available() if fast is None else fast)
        self.engine = build_analyzer(self.entities, spacy_model) if self.plain else None
        recognizers = [] if self.plain else [WindowedRecognizer(recognizer_for(e), PRESCANS[e])
                                             for e in self.entities if e in PRESCANS]
        # A text without a digit (two in five short texts) is spared the digit-led pre-scans.
        self._digit = regex.compile(DIGIT)
        self._digit_led = [r for r in recognizers if r.entity in DIGIT_LED]
        self._others = [r for r in recognizers if r.entity not in DIGIT_LED]
        self._phones = None
        if "PHONE_NUMBER" in self.entities and not self.plain:
            from tokenmill.filters.phone_scan import PhoneScanner  # reads phonenumbers' private parts

            self._phones = PhoneScanner()

    def analyze_plainly(self, text: str) -> list[Span]:
        """What presidio finds calling every recognizer on the whole text (the reference)."""
        engine = self.engine or build_analyzer(self.entities, self.spacy_model)
        return [Span(r.entity_type, r.start, r.end, r.score)
                for r in engine.analyze(text, LANGUAGE, entities=list(self.entities))]

    def phone_windows(self, text: str) -> Optional[list[Window]]:
        """Where in `text` a phone number can be (None without the phone recognizer): pass them to
        `analyze`, and to the number sweep, which looks in the same places."""
        return self._phones.windows(text) if self._phones else None

    def analyze(self, text: str, phone_windows: Optional[list[Window]] = None) -> list[Span]:
        """The same spans as `analyze_plainly`, sorted by position."""
        if self.plain:
            return sorted(self.analyze_plainly(text), key=_position)
        recognizers = self._others + self._digit_led if self._digit.search(text) else self._others
        results = [Span(r.entity, start, end, score) for r in recognizers for start, end, score in r.find(text)]
        if self._phones:
            results += [Span("PHONE_NUMBER", start, end, score)
                        for start, end, score in self._phones.find(text, phone_windows)]
        return sorted(results, key=_position)


def _position(result) -> tuple:
    return (result.start, result.end, result.entity_type)
