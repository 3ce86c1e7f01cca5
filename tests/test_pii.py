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

from filters.document import Document
from filters.phone_sweep import phone_shaped
from filters.pii import PiiFilter
from filters.pii_scan import LETTER, PATTERN_ENTITIES, PRESCANS, PiiScanner, min_international_digits, \
    min_phone_digits, pattern_alphabet, phone_patterns
from pipeline.config import SourceConfig
from pipeline.schema import ConfigError, from_mapping
from pipeline.stages import STAGES

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


@pytest.fixture(scope="module")
def scanner():
    return PiiScanner(COVERED)


def key(results):
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


def test_fast_path_finds_what_presidio_finds_on_every_document(corpus, scanner):
    texts = [d["full_text"] for d in gold_documents(corpus)] + web_sample(corpus)
    found = 0
    for text in texts:
        fast = scanner.analyze(text)
        assert key(fast) == key(scanner.analyze_plainly(text)), text[:200]
        found += len(fast)
    assert found > 50


def test_every_presidio_span_passes_its_prescan(corpus, scanner):
    scans = {e: re.compile(p) for e, p in PRESCANS.items()}
    texts = [d["full_text"] for d in gold_documents(corpus)] + web_sample(corpus, per_file=4)
    seen = set()
    for text in texts:
        for r in scanner.analyze_plainly(text):
            if r.entity_type in scans:
                assert scans[r.entity_type].search(text, max(r.start - 2, 0), r.end), (r, text[r.start:r.end])
                seen.add(r.entity_type)
    assert {"EMAIL_ADDRESS", "CREDIT_CARD", "IP_ADDRESS", "US_SSN", "URL"} <= seen


def test_prescan_letters_cover_every_character_presidio_reads_as_a_letter():
    import regex

    presidio_letter = regex.compile("[A-Za-z]", regex.IGNORECASE)
    ours = re.compile(f"[{LETTER}]")
    missing = [hex(c) for c in range(sys.maxunicode + 1)
               if presidio_letter.match(chr(c)) and not ours.match(chr(c))]
    assert missing == []


def test_phone_windows_rest_on_phonenumbers_own_pattern():
    from phonenumbers.phonenumbermatcher import _PATTERN

    windows, chains = phone_patterns()
    assert r"\d" in pattern_alphabet(_PATTERN)
    with pytest.raises(ValueError, match="no alphabet"):
        pattern_alphabet(re.compile(r"a.b"))
    assert min_phone_digits("DE") == 4 and min_phone_digits("US") == min_international_digits() == 6
    # Chains join digits through the matcher's punctuation only, and no punctuation is a digit.
    from phonenumbers.phonenumberutil import _VALID_PUNCTUATION

    assert chains.fullmatch("030 - 12/34") and not chains.fullmatch("030:1234")
    punctuation = re.compile(f"[{_VALID_PUNCTUATION}]", re.IGNORECASE)
    assert not [c for c in range(sys.maxunicode + 1) if chr(c).isdecimal() and punctuation.match(chr(c))]
    text = "Call 030 1234567 or +1 (202) 555-0143 ext. 12, not 1999."
    assert [m.group() for m in windows.finditer(text)] == [" 030 1234567 o", " +1 (202) 555-0143 ext. 12, not 1999."]


def test_gold_spans_of_covered_types_leave_nothing_behind(corpus):
    pii = PiiFilter(COVERED)
    leaks, covered = [], 0
    for record in gold_documents(corpus):
        doc = Document("d", "s", record["full_text"])
        assert pii(doc) is None
        for span in record["spans"]:
            if GOLD_NAMES.get(span["entity_type"], span["entity_type"]) in COVERED:
                covered += 1
                if span["entity_value"] in doc.text:
                    leaks.append(span["entity_value"])
    assert covered == 30 and leaks == []


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


def test_sweep_catches_numbers_presidio_rejects_and_spares_dates_and_amounts():
    text = "Call (96) 627-277 or 21 212 133 2727 (1929-1933, 2019-05-12 10, 1.000.000, 4x4)."
    assert [text[s:e] for s, e in phone_shaped(text)] == ["(96) 627-277", "21 212 133 2727"]
    off = build({"phone_sweep": False})
    doc = Document("d", "s", text)
    off(doc)
    assert "(96) 627-277" in doc.text


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
