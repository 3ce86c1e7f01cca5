"""The number sweep: numbers presidio passes over, written as Faker's 110 locales write them, are
masked; dates, years, amounts, decimals and lists of numbers are not."""
import os
import warnings
from collections import Counter

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""  # before presidio (and tldextract) are imported

import pytest

from tokenmill.filters.document import Document
from tokenmill.filters.number_sweep import NumberSweep, card_shaped, luhn_valid, phone_shaped
from tokenmill.filters.pii import PiiFilter
from test_pii import pii_texts  # noqa: F401  (the fixture: generated texts, or the corpus's)

TEMPLATES = ("Call me at {} tomorrow.", "Phone: {}, ask for Bob.", "You can reach her on {} after 5pm.", "{}",
             "Our office {} is open on weekdays.")


def faker_values(method: str, per_locale: int):
    """(locale, index, value) of `per_locale` seeded values of each Faker locale that has `method`."""
    from faker import Faker
    from faker.config import AVAILABLE_LOCALES

    for locale in sorted(AVAILABLE_LOCALES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated locales say so
            fake = Faker(locale)
        if not hasattr(fake, method):
            continue
        fake.seed_instance(0)
        for i in range(per_locale):
            yield locale, i, getattr(fake, method)()


def faker_cards(per_kind: int):
    """(kind, index, number) of `per_kind` seeded numbers of every card kind Faker makes."""
    from faker import Faker
    from faker.providers.credit_card import Provider

    fake = Faker("en_US")
    fake.seed_instance(0)
    return [(kind, i, fake.credit_card_number(kind)) for kind in Provider.credit_card_types for i in range(per_kind)]


def leak_rate(pii: PiiFilter, values) -> float:
    """The share of values whose text is still in the document after the stage."""
    leaked = total = 0
    for _, i, value in values:
        doc = Document("d", "s", TEMPLATES[i % len(TEMPLATES)].format(value))
        pii(doc)
        total += 1
        leaked += value in doc.text
    return leaked / total


@pytest.fixture(scope="module")
def stages():
    swept, alone = PiiFilter(), PiiFilter(number_sweep=False)
    swept.setup()
    alone.setup()
    return swept, alone


def test_phone_numbers_of_every_locale_leave_little_behind(stages):
    """Around a word that announces a phone number ("Call me at", "Phone:", "reach her on", "Our
    office"), presidio alone leaves one Faker phone number in five (numbers valid in none of its
    eight regions, or written in a way phonenumbers' matcher does not take); with the sweep 1.1%
    remain (numbers under seven digits and space-grouped ones too short to be sure of). A number
    standing alone is masked only in a shape that makes it a phone number (a `+` country code, an
    extension, North-American grouping): on real pages bare digit shapes are mostly other numbers
    (`filters/pii_context.py`), so a bare national number is left."""
    swept, alone = stages
    numbers = list(faker_values("phone_number", 20))
    assert len(numbers) > 2000
    cued = [(locale, i, v) for locale, i, v in numbers if TEMPLATES[i % len(TEMPLATES)] != "{}"]
    assert leak_rate(alone, cued) > 0.15
    assert leak_rate(swept, cued) < 0.015
    bare = [(locale, i, v) for locale, i, v in numbers if TEMPLATES[i % len(TEMPLATES)] == "{}"]
    assert leak_rate(swept, [(locale, i, v) for locale, i, v in bare if v.startswith("+")]) < 0.02


def test_cards_of_every_kind_are_masked(stages):
    """Presidio's pattern misses 2-series Mastercards, JCB 2131/1800 and 12- or 19-digit cards (27% of
    Faker's cards of every kind); the Luhn-checked card shape catches them all."""
    swept, alone = stages
    cards = faker_cards(40)
    assert leak_rate(alone, cards) > 0.2
    assert leak_rate(swept, cards) == 0


def test_shapes_presidio_passes_over_and_what_is_spared():
    sure = "Call (96) 627-277, +371 91417776 or 21 212 133 2727; fax 001-420-335-7509x38548, (+57)3290328921."
    assert [sure[s:e] for s, e, certain in phone_shaped(sure) if certain] == [
        "(96) 627-277", "+371 91417776", "21 212 133 2727", "001-420-335-7509x38548", "(+57)3290328921"]
    never = "In 1929-1933, on 2019-05-12 10 and 21/08/03, 2013 05 20, 2019 2020 2021, the 4x4 scored 8 9 10 15 20 25 30."
    assert phone_shaped(never) == []
    sweep = NumberSweep()
    # An amount, a decimal or a bare run under ten digits is a phone number only next to a cue word.
    cued = "Population 609 141 777 at 51.507351 degrees north. Tel. 609 141 777, or 39150008 (mobile), 69 987 88 37 office"
    assert [cued[s:e] for _, s, e in sweep.find(cued)] == ["609 141 777", "39150008", "69 987 88 37"]
    assert sweep.find("It is 5667779 so called, 88966119\nIt's called") == []  # "called" is not "call"
    # What another recognizer already covers is left to it.
    tel = cued.index("609", 20)
    assert [cued[s:e] for _, s, e in sweep.find(cued, covered=[(tel, tel + 3)])] == ["39150008", "69 987 88 37"]


def test_card_shapes_pass_the_luhn_check():
    cards = "2711 4177 7631 7069, 213124158683442, 4110704341925412249; not 2711417776317068 or 0000000000000000"
    assert [cards[s:e] for s, e in card_shaped(cards)] == ["2711 4177 7631 7069", "213124158683442", "4110704341925412249"]
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert {e for e, _, _ in NumberSweep().find(cards)} == {"CREDIT_CARD"}


def test_sweep_in_phone_windows_equals_its_own_runs(pii_texts):
    """Looking only in the phone scanner's windows finds what the sweep's own runs find."""
    from tokenmill.filters.pii_scan import PiiScanner

    scanner = PiiScanner()
    texts = [d["full_text"] for d in pii_texts.gold()] + pii_texts.web(per_file=6)
    found = 0
    for text in texts:
        own = NumberSweep().find(text)
        assert NumberSweep().find(text, scanner.phone_windows(text)) == own, text[:200]
        found += len(own)
    assert found > 20


def test_sweep_can_be_turned_off():
    text = "Call (96) 627-277 or 2711 4177 7631 7069."
    doc = Document("d", "s", text)
    PiiFilter(number_sweep=False)(doc)
    assert doc.text == text
    doc = Document("d", "s", text)
    PiiFilter()(doc)
    assert doc.text == "Call <PHONE_NUMBER> or <CREDIT_CARD>."  # "Call" makes the first a phone number
    assert Counter(k for k, v in doc.signals.items() if v) == Counter(["pii_spans", "pii_phone_number", "pii_credit_card"])
