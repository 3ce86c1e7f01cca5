"""The PII fast path reads private parts of phonenumbers, presidio and CPython (filters/pii_contract.py).
These tests fail loudly when an installed version is not one the fast path was checked on, check
that each private part still does what the fast path takes it to do, and that the public fallback
gives the same spans and text."""
import os
import re
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
