"""A presidio `AnalyzerEngine` that works offline: exactly the pattern recognizers asked for, no
spaCy model unless one is named, and tldextract kept off the network. The PII stage's fast path
needs none of it (`filters.pii_recognizers`); presidio's engine runs where that path cannot (a spaCy
model, unchecked versions), and in the tests as the reference."""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import regex

from tokenmill.filters.pii_recognizers import PHONE_REGIONS, SECRET_KEY, SECRET_KEY_PATTERNS

LANGUAGE = "en"  # presidio files recognizers under a language; the patterns themselves are language-neutral
NER_ENTITIES = ("PERSON", "LOCATION")
def secret_key_recognizer():
    """A presidio pattern recognizer for `SECRET_KEY_PATTERNS` (case-sensitive: the prefixes are)."""
    from presidio_analyzer import Pattern, PatternRecognizer

    return PatternRecognizer(supported_entity=SECRET_KEY, name="SecretKeyRecognizer", global_regex_flags=regex.M,
                             patterns=[Pattern(name, pattern, 1.0) for name, pattern in SECRET_KEY_PATTERNS.items()])


def no_network() -> None:
    """Keep tldextract (the e-mail recognizer's domain check) off the network: it fetches the public
    suffix list unless told not to, and uses its bundled snapshot instead. Call before tldextract is
    imported (its default extractor reads the setting then); if it was imported earlier, its default
    extractor is replaced by an offline one."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    tld = sys.modules.get("tldextract.tldextract")
    if tld is not None and tld.TLD_EXTRACTOR.suffix_list_urls:
        tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=())


def build_analyzer(entities: Sequence[str], spacy_model: Optional[str] = None,
                   phone_regions: Optional[Sequence[str]] = None):
    """An AnalyzerEngine with exactly the recognizers for `entities` (the phone recognizer for
    `phone_regions`, default presidio's), and no spaCy model unless named."""
    no_network()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as pr

    by_entity = {
        "EMAIL_ADDRESS": pr.EmailRecognizer, "PHONE_NUMBER": pr.PhoneRecognizer,
        "CREDIT_CARD": pr.CreditCardRecognizer, "IP_ADDRESS": pr.IpRecognizer,
        "IBAN_CODE": pr.IbanRecognizer, "US_SSN": pr.UsSsnRecognizer, "CRYPTO": pr.CryptoRecognizer,
        "URL": pr.UrlRecognizer, SECRET_KEY: secret_key_recognizer,
    }
    recognizers = [by_entity[e]() for e in entities if e in by_entity and e != "PHONE_NUMBER"]
    if "PHONE_NUMBER" in entities:
        regions = PHONE_REGIONS if phone_regions is None else tuple(phone_regions)
        recognizers.append(pr.PhoneRecognizer(supported_regions=regions))
    models = [{"lang_code": LANGUAGE, "model_name": spacy_model or "none"}]
    if spacy_model:
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        nlp_engine = SpacyNlpEngine(models=models)
        ner = [e for e in entities if e in NER_ENTITIES]
        if ner:
            recognizers.append(pr.SpacyRecognizer(supported_language=LANGUAGE, supported_entities=ner))
    else:
        from presidio_analyzer.nlp_engine import NoOpNlpEngine

        nlp_engine = NoOpNlpEngine(models=models)
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def build_default_analyzer():
    """Presidio as usually called: an AnalyzerEngine with every predefined recognizer for English
    (17 in presidio-analyzer 2.2.366: the stage's seven, URL, dates, US bank, licence, passport and
    ITIN numbers, NHS, MAC, UUID, medical licences), offline (no spaCy model)."""
    no_network()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    nlp_engine = NoOpNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": "none"}])
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp_engine)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def without_contained(spans: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Presidio's de-duplication of one entity's (start, end, score) spans
    (`EntityRecognizer.remove_duplicates`): a repeat is dropped, and so is a span inside a kept one
    that scores as high or higher. Linear in the spans that overlap."""
    kept, reaching = [], []  # `reaching`: kept spans that end at or after the current start
    for span in sorted(set(spans), key=lambda s: (s[0], s[0] - s[1], -s[2])):
        start, end, score = span
        reaching = [k for k in reaching if k[1] >= start]
        if not any(end <= b and score <= c for _, b, c in reaching):  # sorted: every kept span starts at or before
            kept.append(span)
            reaching.append(span)
    return kept
