"""PII scrubbing: presidio finds e-mail addresses, phone numbers, credit cards, IP addresses, IBANs,
US SSNs and crypto wallets (URLs when asked; PERSON and LOCATION with a spaCy NER model named by
the user), a sweep adds phone- and card-shaped numbers that presidio passes over
(`filters.number_sweep`), only the spans that read as PII where they stand are kept
(`filters.pii_context`: presidio's weak guesses, ISBNs, years, table cells and post numbers are
not), and presidio-anonymizer's rules replace each span with a typed placeholder (`<EMAIL_ADDRESS>`).

Per-entity span counts become document columns. Dolma (Soldaini et al. 2024) drops a
document with more than 5 PII spans instead of masking it; `max_spans` turns that rule on.
"""
from __future__ import annotations

from collections import Counter
from typing import Mapping, Optional, Sequence

from tokenmill.filters.base import Bounds, DocumentFilter, SignalTypes
from tokenmill.filters.document import Document
from tokenmill.filters.number_sweep import CARD, PHONE, NumberSweep
from tokenmill.filters.pii_context import MIN_SCORE, credible
from tokenmill.filters.pii_contract import fast_path_available
from tokenmill.filters.pii_overlaps import resolve
from tokenmill.filters.pii_recognizers import Span
from tokenmill.filters.pii_scan import OPTIONAL_ENTITIES, PATTERN_ENTITIES, PiiScanner
from tokenmill.filters.presidio_engine import NER_ENTITIES, no_network
from tokenmill.filters.textguard import DEFAULT_MAX_CHARS, unfit_reason

DOLMA_MAX_SPANS = 5
# What code sources are scanned for: e-mail addresses (commit trailers, authors) and credentials; an
# IPv6-shaped `::`, a phone-shaped constant or a card-shaped test number in code is not PII.
CODE_ENTITIES = ("EMAIL_ADDRESS", "SECRET_KEY")
KNOWN_ENTITIES = PATTERN_ENTITIES + OPTIONAL_ENTITIES + NER_ENTITIES
SWEEP_SCORE = 0.1  # below presidio's 0.4 for a valid phone number: a shape, not a checked number


def signal_name(entity: str) -> str:
    return f"pii_{entity.lower()}"


class PiiFilter(DocumentFilter):
    """Replace PII spans by placeholders; drop a document with more than `max_spans` spans (None: never).

    `min_score`: presidio's findings scoring lower are not PII (its weak patterns); `in_context`: a
    number must read as the entity where it stands (`filters.pii_context`)."""

    stage = "pii"

    def __init__(self, entities: Sequence[str] = PATTERN_ENTITIES, spacy_model: Optional[str] = None,
                 placeholders: Optional[Mapping[str, str]] = None, max_spans: Optional[int] = None,
                 number_sweep: bool = True, max_chars: int = DEFAULT_MAX_CHARS, min_score: float = MIN_SCORE,
                 in_context: bool = True, fast: Optional[bool] = None):
        unknown = sorted(set(entities) - set(KNOWN_ENTITIES))
        if unknown:
            raise ValueError(f"entities: unknown {unknown}; known: {', '.join(KNOWN_ENTITIES)}")
        if set(entities) & set(NER_ENTITIES) and not spacy_model:
            raise ValueError(f"entities: {', '.join(NER_ENTITIES)} need a spaCy NER model (spacy_model)")
        self.entities = tuple(entities)
        self.spacy_model = spacy_model
        self.placeholders = {e: (placeholders or {}).get(e, f"<{e}>") for e in self.entities}
        self.max_spans = max_spans
        self.swept = tuple(e for e in (PHONE, CARD) if e in self.entities) if number_sweep else ()
        self._signals = {e: signal_name(e) for e in self.entities}
        self.max_chars = max_chars
        self.min_score = min_score
        self.in_context = in_context
        self.fast = fast  # None: the fast path where its dependencies are the checked versions (filters.pii_contract)
        self._scanner = None
        self._fast_scrub = None
        self._sweep = None
        self._anonymizer = None  # presidio-anonymizer's engine, where the fast path cannot run

    def signal_types(self) -> SignalTypes:
        return {"pii_spans": "int", **{column: "int" for column in self._signals.values()}}

    def thresholds(self) -> dict[str, Bounds]:
        return {"pii_spans": (None, self.max_spans)} if self.max_spans is not None else {}

    def setup(self) -> None:
        """Presidio itself is imported only where the fast path cannot run (a spaCy model, unchecked
        versions): its import brings spaCy, torch and transformers (`filters.pii_recognizers`)."""
        no_network()
        self._scanner = PiiScanner(self.entities, self.spacy_model, self.fast)
        self._fast_scrub = fast_path_available() if self.fast is None else self.fast
        self._sweep = NumberSweep(self.swept) if self.swept else None

    def __call__(self, doc: Document) -> Optional[str]:
        unfit = unfit_reason(doc.text, self.max_chars)
        if unfit:
            return unfit
        if self._scanner is None:
            self.setup()
        spans = self.find(doc.text)
        doc.signals["pii_spans"] = len(spans)
        counts = Counter(s.entity_type for s in spans) if spans else {}
        for entity, column in self._signals.items():
            doc.signals[column] = counts.get(entity, 0)
        if self.max_spans is not None and len(spans) > self.max_spans:
            return "too_many_spans"
        if spans:
            doc.text = self.scrub(doc.text, spans)
        return None

    def find(self, text: str) -> list:
        """Presidio's spans scoring at least `min_score`, and the swept numbers that overlap none of
        them (when `number_sweep`); with `in_context`, those that read as their entity where they stand."""
        windows = self._scanner.phone_windows(text)
        spans = [s for s in self._scanner.analyze(text, windows) if s.score >= self.min_score]
        if self._sweep:
            swept = [Span(entity, start, end, SWEEP_SCORE)
                     for entity, start, end in self._sweep.find(text, windows, [(s.start, s.end) for s in spans])]
            if swept:
                spans = sorted(spans + swept, key=lambda s: (s.start, s.end, s.entity_type))
        if self.in_context:
            spans = [s for s in spans if credible(text, s.entity_type, s.start, s.end)]
        return spans

    def scrub(self, text: str, spans: list[Span]) -> str:
        """`text` with every span replaced by its entity's placeholder: what presidio-anonymizer's
        `anonymize` returns with the `replace` operator. The spans are resolved by the anonymizer's
        own steps (`filters.pii_overlaps`: overlaps of one type merged, contained results dropped,
        neighbours of one type split only by spaces joined); the text is then rebuilt in one pass, as
        `anonymize` rebuilds it span by span from the end (a span reaching into the next replaced one
        stops at it) but without copying the whole text for every span."""
        if not self._fast_scrub:  # presidio-anonymizer's public call: the same text, one copy of it per span
            from presidio_anonymizer import AnonymizerEngine
            from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

            self._anonymizer = self._anonymizer or AnonymizerEngine()
            operators = {e: OperatorConfig("replace", {"new_value": p}) for e, p in self.placeholders.items()}
            results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
            return self._anonymizer.anonymize(text, results, operators).text
        pieces, replaced_from = [], len(text)
        for span in sorted(resolve(text, spans), key=lambda s: (s.start, s.end), reverse=True):
            pieces += [text[min(span.end, replaced_from):replaced_from], self._replacement(span.entity_type)]
            replaced_from = span.start
        pieces.append(text[:replaced_from])
        return "".join(reversed(pieces))

    def _replacement(self, entity: str) -> str:
        """What presidio-anonymizer's `replace` operator writes: the placeholder, or `<ENTITY>` for an empty one."""
        return self.placeholders[entity] or f"<{entity}>"

    def __getstate__(self):
        return {**self.__dict__, "_scanner": None, "_sweep": None, "_anonymizer": None}

