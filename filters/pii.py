"""PII scrubbing: presidio finds e-mail addresses, phone numbers, credit cards, IP addresses, IBANs,
US SSNs and crypto wallets (URLs when asked; PERSON and LOCATION with a spaCy NER model named by
the user), a sweep adds phone-shaped numbers that presidio rejects as invalid (`filters.phone_sweep`),
and presidio-anonymizer replaces each span with a typed placeholder (`<EMAIL_ADDRESS>`).

Per-entity span counts become document columns. Dolma (Soldaini et al. 2024) drops a
document with more than 5 PII spans instead of masking it; `max_spans` turns that rule on.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

from filters.base import Bounds, DocumentFilter, SignalTypes
from filters.document import Document
from filters.phone_sweep import phone_shaped
from filters.pii_scan import OPTIONAL_ENTITIES, PATTERN_ENTITIES, PiiScanner
from filters.presidio_engine import NER_ENTITIES, no_network
from filters.textguard import DEFAULT_MAX_CHARS, unfit_reason

DOLMA_MAX_SPANS = 5
KNOWN_ENTITIES = PATTERN_ENTITIES + OPTIONAL_ENTITIES + NER_ENTITIES
SWEEP_SCORE = 0.1  # below presidio's 0.4 for a valid number: a shape, not a checked number


def signal_name(entity: str) -> str:
    return f"pii_{entity.lower()}"


class PiiFilter(DocumentFilter):
    """Replace PII spans by placeholders; drop a document with more than `max_spans` spans (None: never)."""

    stage = "pii"

    def __init__(self, entities: Sequence[str] = PATTERN_ENTITIES, spacy_model: Optional[str] = None,
                 placeholders: Optional[Mapping[str, str]] = None, max_spans: Optional[int] = None,
                 phone_sweep: bool = True, max_chars: int = DEFAULT_MAX_CHARS):
        unknown = sorted(set(entities) - set(KNOWN_ENTITIES))
        if unknown:
            raise ValueError(f"entities: unknown {unknown}; known: {', '.join(KNOWN_ENTITIES)}")
        if set(entities) & set(NER_ENTITIES) and not spacy_model:
            raise ValueError(f"entities: {', '.join(NER_ENTITIES)} need a spaCy NER model (spacy_model)")
        self.entities = tuple(entities)
        self.spacy_model = spacy_model
        self.placeholders = {e: (placeholders or {}).get(e, f"<{e}>") for e in self.entities}
        self.max_spans = max_spans
        self.phone_sweep = phone_sweep and "PHONE_NUMBER" in self.entities
        self.max_chars = max_chars
        self._scanner = None
        self._anonymizer = None

    def signal_types(self) -> SignalTypes:
        return {"pii_spans": "int", **{signal_name(e): "int" for e in self.entities}}

    def thresholds(self) -> dict[str, Bounds]:
        return {"pii_spans": (None, self.max_spans)} if self.max_spans is not None else {}

    def setup(self) -> None:
        no_network()
        from presidio_anonymizer import AnonymizerEngine

        self._scanner = PiiScanner(self.entities, self.spacy_model)
        self._anonymizer = AnonymizerEngine()

    def __call__(self, doc: Document) -> Optional[str]:
        unfit = unfit_reason(doc.text, self.max_chars)
        if unfit:
            return unfit
        if self._scanner is None:
            self.setup()
        spans = self.find(doc.text)
        doc.signals["pii_spans"] = len(spans)
        for entity in self.entities:
            doc.signals[signal_name(entity)] = sum(1 for s in spans if s.entity_type == entity)
        if self.max_spans is not None and len(spans) > self.max_spans:
            return "too_many_spans"
        if spans:
            doc.text = self.scrub(doc.text, spans)
        return None

    def find(self, text: str) -> list:
        """Presidio's spans, and phone-shaped spans presidio did not report (when `phone_sweep`)."""
        spans = self._scanner.analyze(text)
        if self.phone_sweep:
            from presidio_analyzer import RecognizerResult

            swept = [RecognizerResult("PHONE_NUMBER", start, end, SWEEP_SCORE) for start, end in phone_shaped(text)
                     if not any(s.start < end and start < s.end for s in spans)]
            spans = sorted(spans + swept, key=lambda s: (s.start, s.end, s.entity_type))
        return spans

    def scrub(self, text: str, spans: list) -> str:
        """`text` with every span replaced by its entity's placeholder."""
        from presidio_anonymizer.entities import OperatorConfig

        operators = {e: OperatorConfig("replace", {"new_value": p}) for e, p in self.placeholders.items()}
        return self._anonymizer.anonymize(text, spans, operators=operators).text

    def __getstate__(self):
        return {**self.__dict__, "_scanner": None, "_anonymizer": None}
