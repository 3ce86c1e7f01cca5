"""The PII fast path reads private parts of phonenumbers, presidio and CPython, and runs transcriptions
of presidio's recognizers and conflict resolution (filters/pii_contract.py). These tests fail loudly
when an installed version is not one the fast path was checked on, check that each private part still
does what the fast path takes it to do and that each transcription is presidio's own (its patterns,
flags, scores and verdicts), that the fast path imports no presidio, and that the public fallback
gives the same spans and text."""
import os
import random
import re
import subprocess
import sys
import warnings

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # before presidio (and tldextract) are imported

import pytest

from tokenmill.filters import pii_contract
from tokenmill.filters.document import Document
from tokenmill.filters.pii import PiiFilter

SENTENCES = [
    "Please have the manager call me at (96) 627-277 or +44 20 7946 0958 ext. 12 tomorrow.",
    "Card 4532276644577020, SSN 531-21-7351, IP 58.74.121.78 and 2001:db8::ff00:42:8329, mail a.b@example.org.",
    "IBAN GB82 WEST 1234 5698 7654 32, wallet 1BoatSLRHtKNngkdXEeobR76b53LETtpyT; Tel: 86-23-86388888.",
    "In 1929-1933 the 4x4 scored 8 9 10 15 20 25 30; ISBN 0-660-11022-9; std::function and Bug 1681512.",
]


def test_installed_versions_are_the_ones_the_fast_path_was_checked_on():
    """A new phonenumbers, presidio or Python fails here: rerun tests/test_pii.py and this file on it,
    then add the version to filters/pii_contract.VERIFIED."""
    assert pii_contract.unverified() == []
    assert pii_contract.fast_path_available()


def test_the_private_parts_still_do_what_the_fast_path_takes_them_to_do():
    import phonenumbers
    from phonenumbers import Leniency, PhoneNumberMatcher, phonenumbermatcher as matcher, phonenumberutil as util
    from re import _parser

    assert _parser.parse(r"\d{3}-\d{4}").getwidth() == (8, 8)
    assert util._build_national_number_for_parsing("tel:+1-650-253-0000;ext=1") == "+1-650-253-0000;ext=1"
    assert util._build_national_number_for_parsing("(650) 253-0000") == "650) 253-0000"  # from the first digit
    assert util._PLUS_CHARS_PATTERN.match("+1") and util._is_viable_phone_number("650 253 0000")
    assert util._maybe_strip_extension("650 253 0000 ext. 12") == ("12", "650 253 0000")
    number = phonenumbers.parse("650 253 0000", "US", keep_raw_input=True)
    assert matcher._verify(Leniency.VALID, number, "650 253 0000", PhoneNumberMatcher("", None)) is True
    assert matcher._PATTERN.search("call 650 253 0000 now").group().strip() == "650 253 0000"
    walked = []

    class Walk(PhoneNumberMatcher):
        def _parse_and_verify(self, candidate, offset):
            walked.append(candidate)
            return None

    list(Walk("call 650 253 0000 now", None, Leniency.VALID))
    assert walked[0] == "650 253 0000"  # then, refused, its inner groups


@pytest.mark.parametrize("text", SENTENCES)
def test_public_fallback_gives_the_same_spans_and_text(text):
    fast, public = PiiFilter(fast=True), PiiFilter(fast=False)
    fast.setup()
    public.setup()
    assert public._scanner.plain and not fast._scanner.plain
    key = lambda spans: [(s.entity_type, s.start, s.end, round(s.score, 6)) for s in spans]  # noqa: E731
    assert key(fast.find(text)) == key(public.find(text))
    a, b = Document("a", "s", text), Document("b", "s", text)
    fast(a)
    public(b)
    assert a.text == b.text and a.signals == b.signals


def test_an_unchecked_version_turns_the_fast_path_off_with_a_warning(monkeypatch):
    monkeypatch.setitem(pii_contract.VERIFIED, "phonenumbers", ("0.0.1",))
    pii_contract.fast_path_available.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert not pii_contract.fast_path_available()
        assert any("phonenumbers" in str(w.message) for w in caught)
        f = PiiFilter()
        f.setup()
        assert f._scanner.plain
        doc = Document("d", "s", "Call me at 650-253-0000.")
        f(doc)
        assert doc.text == "Call me at <PHONE_NUMBER>."
    finally:
        pii_contract.fast_path_available.cache_clear()


def test_python_version_is_supported():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in pii_contract.VERIFIED["python"]
    assert re.compile  # the fast path's regex_windows parses patterns with this Python's own parser


def presidio_recognizers() -> dict:
    """presidio's own recognizers for the entities `filters.pii_recognizers` transcribes."""
    from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, CryptoRecognizer, EmailRecognizer,
                                                          IbanRecognizer, IpRecognizer, UsSsnRecognizer)

    from tokenmill.filters.pii_recognizers import SECRET_KEY
    from tokenmill.filters.presidio_engine import secret_key_recognizer

    made = [EmailRecognizer(), CreditCardRecognizer(), IpRecognizer(), IbanRecognizer(), UsSsnRecognizer(),
            CryptoRecognizer(), secret_key_recognizer()]
    found = {r.supported_entities[0]: r for r in made}
    assert SECRET_KEY in found
    return found


def probes(entity: str, recognizer) -> list[str]:
    """Strings to judge: every match of the recognizer's patterns in the test sentences and in random
    text of its alphabet, and crafted valid and invalid forms."""
    import regex

    rng = random.Random(entity)
    alphabet = "0123456789" * 3 + " -.:@/%" + "abcdefABCDEFxyzXYZ" + "\u0661\u212a"
    texts = SENTENCES + ["".join(rng.choice(alphabet) for _ in range(30_000))] + [
        "4111 1111 1111 1111 4111-1111-1111-1112 378282246310005 6011111111111117 ٤١١١١١١١١١١١١١١١",
        "a@b.c x@localhost jane.doe@mail.example.co.uk first.last@sub.example.museum bad@@example.com",
        "10.0.0.1 256.1.1.1 1.2.3.4/33 ::1 fe80::1%eth0 ::ffff:10.0.0.1 2001:db8::1/129 1:2:3:4:5:6:7:8:9",
        "DE89 3704 0044 0532 0130 00 DE89370400440532013000 GB82 WEST 1234 5698 7654 32 GB82WEST12345698765433 "
        "gb82 west 1234 5698 7654 32 FR14 2004 1010 0505 0001 3M02 606 XX12 3456 7890 1234",
        "078-05-1120 123-45-6789 666-12-3456 000-12-3456 123-00-4567 123-45-0000 111-11-1111 123 45 6789 123.45-6789",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb "
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx "
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        "AKIAIOSFODNN7EXAMPLE ghp_" + "a" * 36 + " xoxb-1234567890-abc AIza" + "b" * 35 + " sk_live_" + "c" * 24]
    found = set()
    for pattern in recognizer.patterns:
        compiled = regex.compile(pattern.regex, recognizer.global_regex_flags)
        for text in texts:
            for match in compiled.finditer(text, overlapped=True):
                found.add(match.group())
                found.update(match.group()[:i] for i in range(1, len(match.group())))  # the IBAN's prefixes
    return sorted(found)


def test_transcribed_recognizers_are_presidios_own():
    """Each recognizer of filters/pii_recognizers has presidio's patterns (names, expressions, scores),
    flags and thresholds, and gives presidio's validation and invalidation verdict on every probe."""
    from tokenmill.filters.pii_recognizers import RECOGNIZERS, recognizer_for

    presidio = presidio_recognizers()
    assert set(RECOGNIZERS) == set(presidio)
    for entity, theirs in presidio.items():
        ours = recognizer_for(entity)
        assert [tuple(p) for p in ours.patterns] == [(p.name, p.regex, p.score) for p in theirs.patterns], entity
        assert ours.flags == int(theirs.global_regex_flags), entity
        assert ours.score_thresholds == theirs.score_thresholds, entity
        judged = probes(entity, theirs)
        assert len(judged) > 20, entity
        for text in judged:
            assert ours.validate(text) == theirs.validate_result(text), (entity, text)
            assert bool(ours.invalidate(text)) == bool(theirs.invalidate_result(text)), (entity, text)
        if ours.analyze is not None:  # IBAN's own loop: each match's longest valid prefix
            for text in SENTENCES + judged:
                expected = [(r.start, r.end, r.score) for r in theirs.analyze(text, [entity], None)]
                assert ours.analyze(text) == expected, text


def test_phone_recognizer_settings_are_presidios():
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from tokenmill.filters.pii_recognizers import PHONE_LENIENCY, PHONE_REGIONS, PHONE_SCORE

    phone = PhoneRecognizer()
    assert (PHONE_REGIONS, PHONE_LENIENCY, PHONE_SCORE) == (tuple(phone.supported_regions), phone.leniency, phone.SCORE)


def test_transcribed_conflict_resolution_is_the_anonymizers():
    """`filters.pii_overlaps.resolve` keeps and reshapes the spans presidio-anonymizer's own steps do,
    on random overlapping spans of three types (merges, containment, ties, spaced neighbours)."""
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import ConflictResolutionStrategy, RecognizerResult

    from tokenmill.filters.pii_overlaps import resolve
    from tokenmill.filters.pii_recognizers import Span

    engine = AnonymizerEngine()
    rng = random.Random(29)
    text = "".join(rng.choice("ab  ") for _ in range(200))
    for _ in range(500):
        spans = []
        for _ in range(rng.randint(1, 8)):
            start = rng.randrange(190)
            spans.append(Span(rng.choice(("A", "B", "C")), start, start + rng.randint(1, 10), rng.choice((0.1, 0.4, 0.5, 1.0))))
        results = sorted((RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans),
                         key=lambda r: (r.start, r.end))
        results = engine._remove_conflicts_and_get_text_manipulation_data(
            results, ConflictResolutionStrategy.MERGE_SIMILAR_OR_CONTAINED)
        expected = [(r.entity_type, r.start, r.end, r.score) for r in engine._merge_entities_with_spaces_between(text, results)]
        assert [tuple(s) for s in resolve(text, spans)] == expected, spans


def test_the_fast_path_imports_no_presidio():
    """Set-up and a document with every kind of span, in a fresh process: presidio (and with it spaCy,
    torch and transformers) is never imported."""
    code = ("import sys; from tokenmill.filters.pii import PiiFilter; from tokenmill.filters.document import Document; "
            f"f = PiiFilter(); d = Document('d', 's', {SENTENCES[1] + SENTENCES[2]!r}); f(d); "
            "print(sorted(m for m in ('presidio_analyzer', 'presidio_anonymizer', 'spacy', 'torch', 'transformers') "
            "if m in sys.modules), d.signals['pii_spans'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, spans = result.stdout.strip().rsplit(" ", 1)
    assert imported == "[]" and int(spans) >= 6
