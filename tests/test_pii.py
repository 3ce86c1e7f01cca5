"""The PII stage on real data: the fast path's spans equal presidio's on every document, the pre-scans
are supersets, gold spans of covered types leave nothing behind, and drops are counted."""
import gzip
import itertools
import json
import os
import pickle
import re
import sys

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # before presidio (and tldextract) are imported

import pytest

from tokenmill.filters.document import Document
from tokenmill.filters.pii import PiiFilter
from tokenmill.filters.pii_recognizers import Span, recognizer_for
from tokenmill.filters.phone_scan import RegionRule, min_international_digits, min_phone_digits, verified
from tokenmill.filters.pii_scan import PATTERN_ENTITIES, PRESCANS, PiiScanner
from tokenmill.filters.regex_windows import Runs, explicit_class, pattern_shape, runs_with
from tokenmill.pipeline.config import SourceConfig
from tokenmill.pipeline.schema import ConfigError, from_mapping
from tokenmill.pipeline.stages import STAGES

COVERED = PATTERN_ENTITIES + ("URL",)
GOLD_NAMES = {"DOMAIN_NAME": "URL"}


def gold_documents(corpus):
    return json.loads((corpus / "pii" / "presidio_generated_small.json").read_text(encoding="utf-8"))


def web_sample(corpus, per_file=12):
    texts = []
    for path in sorted((corpus / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in itertools.islice(f, per_file)]
    return texts


# Sentences around Faker's values of each covered type (en_US), as presidio-research's generator writes
# its gold set: the text, and each value's type and place.
GOLD_TEMPLATES = [
    ("Please write to {EMAIL_ADDRESS} about the invoice.", "EMAIL_ADDRESS"),
    ("My card number is {CREDIT_CARD}, expiring next year.", "CREDIT_CARD"),
    ("The server at {IP_ADDRESS} stopped answering last night.", "IP_ADDRESS"),
    ("Transfer the deposit to account {IBAN_CODE} before Friday.", "IBAN_CODE"),
    ("Her social security number is {US_SSN} on the form.", "US_SSN"),
    ("Call me at {PHONE_NUMBER} after six.", "PHONE_NUMBER"),
    ("Our new site is {URL} and it loads fast.", "URL"),
]


def generated_gold(count: int = 60) -> list[dict]:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(11)
    values = {"EMAIL_ADDRESS": fake.email, "CREDIT_CARD": lambda: fake.credit_card_number("visa16"),
              "IP_ADDRESS": fake.ipv4_public, "IBAN_CODE": fake.iban, "US_SSN": fake.ssn,
              "PHONE_NUMBER": lambda: fake.numerify("(###) 555-0###").replace("(0", "(2").replace("(1", "(3"),
              "URL": fake.url}
    records = []
    for i in range(count):
        template, entity = GOLD_TEMPLATES[i % len(GOLD_TEMPLATES)]
        value = values[entity]()
        text = template.format(**{entity: value})
        start = text.index(value)
        records.append({"full_text": text, "spans": [{"entity_type": entity, "entity_value": value,
                                                      "start_position": start, "end_position": start + len(value)}]})
    return records


class PiiTexts:
    """Gold documents (text and spans) and web text: Faker's values in sentences and the bundled
    sample in the default tier; presidio's generated set and the web-bulk pages in the corpus tier."""

    def __init__(self, corpus=None, sample_texts=()):
        self.corpus, self.sample_texts = corpus, list(sample_texts)
        self.covered_gold_spans = 30 if corpus else 60

    def gold(self) -> list[dict]:
        return gold_documents(self.corpus) if self.corpus else generated_gold(self.covered_gold_spans)

    def web(self, per_file=12) -> list[str]:
        return web_sample(self.corpus, per_file) if self.corpus else self.sample_texts[:per_file * 8]


@pytest.fixture(scope="module", params=["generated", pytest.param("corpus", marks=pytest.mark.corpus)])
def pii_texts(request, sample_texts):
    if request.param == "generated":
        return PiiTexts(sample_texts=sample_texts)
    return PiiTexts(request.getfixturevalue("corpus"))


@pytest.fixture(scope="module")
def scanner():
    return PiiScanner(COVERED)


def key(results):
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


def test_fast_path_finds_what_presidio_finds_on_every_document(pii_texts, scanner):
    """The same spans as presidio with the stage's recognizers, and as presidio as usually called
    (every predefined recognizer) reports for the types the stage covers."""
    from tokenmill.filters.presidio_engine import LANGUAGE, build_default_analyzer

    usual = build_default_analyzer()
    texts = [d["full_text"] for d in pii_texts.gold()] + pii_texts.web()
    found = 0
    for text in texts:
        fast = scanner.analyze(text)
        assert key(fast) == key(scanner.analyze_plainly(text)), text[:200]
        assert key(fast) == key(r for r in usual.analyze(text, LANGUAGE) if r.entity_type in COVERED), text[:200]
        found += len(fast)
    assert found > 50


def test_every_presidio_span_passes_its_prescan(pii_texts, scanner):
    import regex

    flags = {e: recognizer_for(e).flags for e in scanner.entities if e in PRESCANS}
    scans = {e: regex.compile(p, flags[e]) for e, p in PRESCANS.items() if e in flags}  # the scanner's entities
    texts = [d["full_text"] for d in pii_texts.gold()] + pii_texts.web(per_file=4)
    seen = set()
    for text in texts:
        for r in scanner.analyze_plainly(text):
            if r.entity_type in scans:
                assert scans[r.entity_type].search(text[r.start:r.end]), (r, text[r.start:r.end])
                seen.add(r.entity_type)
    assert {"EMAIL_ADDRESS", "CREDIT_CARD", "IP_ADDRESS", "US_SSN", "URL"} <= seen
    # Forms the corpus lacks, one per IP pattern and the IBAN and crypto recognizers.
    for text in ["::ffff:10.0.0.1", "fe80::1%eth0", "2001:db8:85a3:0:0:8a2e:370:7334", "::1", "::",
                 "GB82 WEST 1234 5698 7654 32", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]:
        spans = scanner.analyze_plainly(text)
        assert spans and all(scans[r.entity_type].search(text[r.start:r.end]) for r in spans if r.entity_type in scans), text


def test_windows_hold_every_match_and_its_context():
    import regex

    shape = pattern_shape(r"\b(?!1\d{3}(?!\d))\d{4}[- ]?\d{2}\b")
    assert shape.reach == 5 and "".join(shape.alphabet) == r"\d\-\ "  # a lookahead consumes nothing
    assert pattern_shape(r"(?<![\w:])x").reach == 2
    for unbounded in (r"a.b", r"[^a]", r"(?=a*)b", r"(a)\1"):
        with pytest.raises(ValueError):
            pattern_shape(unbounded)
    # The engine's own case folding decides the members: IGNORECASE [a-z] takes the Kelvin sign and the long s.
    assert "\u212a" in explicit_class(("a-z",), regex.IGNORECASE, regex) and "\u017f" in explicit_class(("a-z",), regex.IGNORECASE, regex)
    runs = Runs(shape.alphabet)
    text = "id 1234-56, 99 and 7777 12"
    hits = regex.compile(r"\d{4}")
    assert [text[a:b] for a, b in runs_with(text, hits, runs)] == [" 1234-56", " 7777 12"]
    assert runs.around(text, 1) == (1, 1)  # "d" is not in the alphabet


def test_the_shipped_classes_are_what_this_python_spells_out_for_every_class_the_stage_asks():
    """filters/data/spelled_classes.json equals what `python -m tokenmill.filters.pii_classes` writes
    here (a recognizer, Python or `regex` changed: rebuild it)."""
    from tokenmill.filters.pii_classes import spelled_table
    from tokenmill.filters.regex_windows import SPELLED_CLASSES, unicode_versions

    shipped = json.loads(SPELLED_CLASSES.read_text(encoding="utf-8"))
    if shipped["versions"] != unicode_versions():
        pytest.skip(f"the table is for {shipped['versions']}, this process has {unicode_versions()}")
    assert spelled_table() == shipped, "rebuild it: python -m tokenmill.filters.pii_classes"


def test_a_shipped_class_is_read_not_spelled_and_any_other_is_spelled(monkeypatch):
    import regex

    import tokenmill.filters.regex_windows as windows

    spelled = []
    monkeypatch.setattr(windows, "spell_class", lambda *key: spelled.append(key) or "x")
    monkeypatch.setattr(windows, "shipped_classes", lambda: {(("a-z",), regex.IGNORECASE, "regex"): "a-z\u017f\u212a"})
    windows.explicit_class.cache_clear()
    try:
        assert windows.explicit_class(("a-z",), regex.IGNORECASE, regex) == "a-z\u017f\u212a"
        assert windows.explicit_class(("a-z",), 0, regex) == "x" and spelled == [(("a-z",), 0, regex)]
    finally:
        windows.explicit_class.cache_clear()


def test_prescans_without_ignorecase_match_as_presidio_flags_them(pii_texts):
    """`case_free` spells IGNORECASE out in the classes (the dotless i, long s and Kelvin sign
    included) and drops the flag: the same matches, found several times faster."""
    import random

    import regex

    from tokenmill.filters.pii_recognizers import SECRET_KEY
    from tokenmill.filters.regex_windows import case_free

    presidio_flags = regex.IGNORECASE | regex.MULTILINE | regex.DOTALL  # its recognizers' default
    own_flags = {SECRET_KEY: recognizer_for(SECRET_KEY).flags}  # credential prefixes have a case
    rng = random.Random(0)
    alphabet = "0123456789" * 4 + " -.:@" + "abcfxzABCFXZ" + "\u0131\u0130\u017f\u212a\u00e9"
    texts = ["".join(rng.choice(alphabet) for _ in range(20_000))] + pii_texts.web(per_file=2)
    for entity, prescan in PRESCANS.items():
        flags = own_flags.get(entity, presidio_flags)
        pattern, free_flags = case_free(prescan, flags, regex)
        assert not free_flags & regex.IGNORECASE
        free, flagged = regex.compile(pattern, free_flags), regex.compile(prescan, flags)
        for text in texts:
            assert [m.span() for m in free.finditer(text)] == [m.span() for m in flagged.finditer(text)], entity
    with pytest.raises(ValueError, match="letter"):
        case_free(r"ab[0-9]", presidio_flags, regex)


def test_digit_led_prescans_open_with_a_digit(scanner):
    """A text without a digit is spared the digit-led pre-scans: each opens with a class of digits."""
    import regex
    from re import _constants as c, _parser

    from tokenmill.filters.pii_scan import DIGIT, DIGIT_LED

    not_digits = regex.compile(DIGIT).sub("", "".join(map(chr, range(sys.maxunicode + 1))))
    flags = {e: recognizer_for(e).flags for e in scanner.entities if e in PRESCANS}
    for entity in DIGIT_LED:
        op, av = _parser.parse(PRESCANS[entity])[0]
        if op is c.MAX_REPEAT:
            assert av[0] >= 1
            op, av = av[2][0]
        assert op is c.IN, entity
        spelled = {c.LITERAL: lambda i: re.escape(chr(i)), c.RANGE: lambda i: f"{chr(i[0])}-{chr(i[1])}",
                   c.CATEGORY: lambda i: {c.CATEGORY_DIGIT: r"\d"}[i]}
        body = "".join(spelled[o](i) for o, i in av)
        assert not regex.compile(f"[{body}]", flags[entity]).search(not_digits), entity


def test_region_rules_never_rule_out_a_valid_number(pii_texts):
    """The compiled condition is necessary: every digit string phonenumbers' matcher accepts at
    VALID in a region passes it. Checked on every region's example numbers written nationally,
    with the calling code and after the international prefix, on the digit strings of the web
    sample, and on random digit strings."""
    import random

    import phonenumbers
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    examples = set()
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in phonenumbers.PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            national = str(number.national_number)
            code = str(number.country_code)
            for written in (national, "0" + national, "1" + national, code + national, code + "0" + national,
                            "00" + code + national, "011" + code + national,
                            "015" + national, code + "015" + national):  # Brazil's prefix with a carrier code
                examples.add(written)
    examples |= {d for text in pii_texts.web(per_file=6) for d in re.findall(r"\d{4,17}", text)}
    rng = random.Random(7)
    examples |= {str(rng.randrange(10 ** 3, 10 ** rng.randrange(4, 14))) for _ in range(3000)}
    valid = numbers = 0
    for region in PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS:
        rule = RegionRule(region)
        for digits in examples:
            if verified(digits, region) is not None:
                valid += 1
                assert rule.may_be_valid(digits), (digits, region)
            try:
                number = phonenumbers.parse(digits, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):  # the weaker rule, for candidates with an extension
                numbers += 1
                assert rule.may_be_valid_number(digits), (digits, region)
    assert valid > 500 and numbers >= valid
    # And it rules out what it should: a French number without its leading 0, a year for the US.
    assert not RegionRule("FR").may_be_valid("123456789") and RegionRule("FR").may_be_valid("0123456789")
    assert not RegionRule("US").may_be_valid("2019")
    # A calling code, then a national prefix that phonenumbers rewrites (Brazil's carrier code 15).
    assert verified("5501511912345678", "BR") is not None and RegionRule("BR").may_be_valid("5501511912345678")


def test_phone_windows_rest_on_phonenumbers_own_pattern():
    from phonenumbers.phonenumbermatcher import _PATTERN
    from phonenumbers.phonenumberutil import _VALID_PUNCTUATION

    assert r"\d" in pattern_shape(_PATTERN.pattern, _PATTERN.flags).alphabet
    assert min_phone_digits("DE") == 4 and min_phone_digits("US") == min_international_digits() == 6
    # Chains join digits through the matcher's punctuation only; no punctuation is a digit, and
    # every punctuation character lies in the candidate alphabet (so a chain never leaves its window).
    punctuation = re.compile(f"[{_VALID_PUNCTUATION}]", re.IGNORECASE)
    assert not [c for c in range(sys.maxunicode + 1) if chr(c).isdecimal() and punctuation.match(chr(c))]
    alphabet = re.compile(f"[{''.join(pattern_shape(_PATTERN.pattern, _PATTERN.flags).alphabet)}]", _PATTERN.flags)
    assert all(alphabet.match(c) for c in _VALID_PUNCTUATION if c not in "\\")
    from tokenmill.filters.phone_scan import PhoneScanner

    text = "Call 030 1234567 or +1 (202) 555-0143 ext. 12, not 1999."
    spans = PhoneScanner().find(text)
    assert [text[s:e] for s, e, _ in spans] == ["030 1234567", "+1 (202) 555-0143 ext. 12"]


def test_region_matcher_finds_what_phonenumbers_matcher_finds(pii_texts):
    """Each region's matcher, taking its numbers from the shared verdicts and checking the
    neighbouring characters itself, reports exactly phonenumbers' matches; the walk that assumes
    no number makes the attempts each region makes up to its first match."""
    from phonenumbers import Leniency, PhoneNumberMatcher
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from tokenmill.filters.phone_scan import _CandidateWalk, _RegionMatcher, _Verdicts

    regions = PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS
    verdicts = _Verdicts(regions, Leniency.VALID)
    texts = [d["full_text"] for d in pii_texts.gold()] + pii_texts.web(per_file=2) + [
        "tel.+49 30 1234567x12, 0049 30 1234567 or 01511912345678", "abc2025550143 and 2025550143def",
        "%2025550143, $2025550143, (202) 555-0143, [202] 555 0143, 202-555-0143 (1999)",
        "12(3): 211-227 (2003); 2019-05-12 10:30; 1/2/2003; 202-555-0143/202-555-0144",
        "+1 202 555 0143 ext. 7, +44 20 7946 0018 #12, 0800 123 4567, 0033 1 23 45 67 89"]
    for lone in ("no 5395472957709002", " is 481195160.", "ia 28327. I no"):  # the scanner's shortcut
        assert _CandidateWalk(lone, Leniency.VALID).candidates == re.findall(r"\d+", lone)
    found = 0
    for text in texts:
        attempts = set(_CandidateWalk(text, Leniency.VALID).candidates)
        for region in regions:
            expected = [(m.start, m.end) for m in PhoneNumberMatcher(text, region, leniency=Leniency.VALID)]
            assert [(m.start, m.end) for m in _RegionMatcher(text, region, Leniency.VALID, verdicts)] == expected, (region, text[:80])
            assert not expected or any(region in verdicts(a) for a in attempts)
            found += len(expected)
    assert found > 40


def test_gold_spans_of_covered_types_leave_nothing_behind(pii_texts):
    pii = PiiFilter(COVERED)
    leaks, covered = [], 0
    for record in pii_texts.gold():
        doc = Document("d", "s", record["full_text"])
        assert pii(doc) is None
        for span in record["spans"]:
            if GOLD_NAMES.get(span["entity_type"], span["entity_type"]) in COVERED:
                covered += 1
                if span["entity_value"] in doc.text:
                    leaks.append(span["entity_value"])
    assert covered == pii_texts.covered_gold_spans and leaks == []


def test_placeholders_counts_and_dolma_rule():
    text = "Mail jane.doe@example.com or call 212-555-0143; card 4111 1111 1111 1111, IP 10.0.0.1."
    doc = Document("d", "s", text)
    pii = build({"placeholders": {"EMAIL_ADDRESS": "[email]"}})
    assert pii(doc) is None
    assert doc.text == "Mail [email] or call <PHONE_NUMBER>; card <CREDIT_CARD>, IP <IP_ADDRESS>."
    assert doc.signals["pii_spans"] == 4
    assert doc.signals["pii_email_address"] == doc.signals["pii_credit_card"] == 1
    assert doc.signals["pii_us_ssn"] == 0
    dolma = build({"max_spans": 3})
    assert dolma(Document("d", "s", text)) == "too_many_spans"
    assert dolma.thresholds() == {"pii_spans": (None, 3)}


def test_scrub_rewrites_as_presidio_anonymizer_does(pii_texts):
    """One pass over the text gives `AnonymizerEngine.anonymize`'s text: on real documents, and on
    overlaps of one type and of several, neighbours split by spaces and an empty placeholder."""
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    pii = PiiFilter(placeholders={"EMAIL_ADDRESS": "[email]", "US_SSN": ""})
    pii.setup()
    anonymizer = AnonymizerEngine()
    operators = {e: OperatorConfig("replace", {"new_value": p}) for e, p in pii.placeholders.items()}
    texts = [d["full_text"] for d in pii_texts.gold()] + pii_texts.web(per_file=40)
    cases = [(text, pii.find(text)) for text in texts]
    crafted = "call 212-555-0143 212-555-0144 or 123-45-6789, 4111 1111 1111 1111 x"
    cases.append((crafted, [Span("PHONE_NUMBER", 5, 17, 0.4), Span("PHONE_NUMBER", 18, 30, 0.4),
                            Span("US_SSN", 34, 45, 0.5), Span("PHONE_NUMBER", 34, 45, 0.4), Span("CREDIT_CARD", 47, 66, 1.0),
                            Span("PHONE_NUMBER", 52, 68, 0.1), Span("US_SSN", 10, 20, 0.2)]))
    cases = [(text, spans) for text, spans in cases if spans]
    assert len(cases) > 30
    for text, spans in cases:
        results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
        assert pii.scrub(text, spans) == anonymizer.anonymize(text, results, operators=dict(operators)).text


def test_bad_settings_and_unfit_documents():
    with pytest.raises(ValueError, match="unknown"):
        PiiFilter(["PASSPORT"])
    with pytest.raises(ValueError, match="spaCy"):
        PiiFilter(["PERSON"])
    with pytest.raises(ConfigError):
        build({"max_spans": "five"})
    assert build({"max_chars": 10})(Document("d", "s", "x" * 11)) == "oversized"
    assert build({})(Document("d", "s", "\x00\x01\x02" + "x" * 20)) == "binary"


def test_filter_pickles_small_and_stays_offline():
    pii = build({"urls": True})
    pii(Document("d", "s", "warm up at a@example.com"))
    clone = pickle.loads(pickle.dumps(pii))
    assert clone._scanner is None and len(pickle.dumps(pii)) < 2000
    doc = Document("d", "s", "see https://example.org/x or mail a@b.org")
    assert clone(doc) is None and doc.text == "see <URL> or mail <EMAIL_ADDRESS>"
    import tldextract.tldextract as tld
    assert tld.TLD_EXTRACTOR.suffix_list_urls == ()


def build(settings):
    stage = STAGES["pii"]
    return stage.build(from_mapping(stage.settings, settings, "stages.pii"), SourceConfig(format="jsonl", paths=["x"]))
