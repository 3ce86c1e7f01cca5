"""Numbers written like phone numbers or payment cards that presidio's recognizers pass over.

Presidio reports a phone number only when python-phonenumbers accepts it as valid in one of its
eight regions, and a card only when it opens like a Visa, Mastercard 51-55, Amex, Discover or
Diners number and passes the Luhn check. A number from another country, an unassigned range or a
typo ("(96) 627-277", "+371 91417776", "001-420-335-7509x38548"), a 2-series Mastercard, a JCB or
a 19-digit card survives it. The sweep finds:

- phone-shaped numbers: 7 to 15 digits (ITU-T E.164's maximum) in groups joined by one of
  `space . - /`, with at most a `+` country code, a bracketed area code or trunk "(0)" and an
  extension around them. A shape that is also an amount ("609 141 777"), a decimal ("51.507351"),
  space-separated groups of under 10 digits or a bare run of under 10 counts only next to a
  word that announces a phone number ("call", "tel", "mobile", ...); dates and runs of years
  never count;
- card-shaped numbers: 12 to 19 digits (ISO/IEC 7812), unbroken or grouped as cards print them
  (4-4-4-4, 4-6-5), that pass the Luhn check.

Only the runs of the characters these shapes are written with that hold a chain of seven digits
are looked at (or the phone scanner's windows, which hold every such run), and what a run yields
is cached per worker.
"""
from __future__ import annotations

import bisect
import itertools
import re
from typing import Iterable, Optional, Sequence

from tokenmill.filters.memo import BoundedMemo
from tokenmill.filters.regex_windows import Runs, Window, windows_with

PHONE, CARD = "PHONE_NUMBER", "CREDIT_CARD"
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 7, 15
MIN_CARD_DIGITS, MAX_CARD_DIGITS = 12, 19

# What a number may not touch: a letter or digit, or the marks of a decimal, a path, a handle or a range.
_BEFORE = r"(?<![\w+.\-/#@])"
_AFTER = r"(?![\w\-/]|[.,]\d)"
_PHONE_SHAPE = re.compile(rf"""{_BEFORE}
    (?P<number>
      (?P<lead>\(?\+\ ?\(?\d{{1,4}}\)?[ .\-]?)?    # +44, +(44), (+44)
      (?P<area>\(\d{{1,5}}\)[ .\-/]?)?             # (07), (0)
      (?P<groups>\d{{1,15}}(?:[ .\-/]\d{{1,15}}){{0,6}})
    )
    (?P<extension>\ ?(?:x|ext\.?|\#)\ ?\d{{1,6}})?
    {_AFTER}""", re.X)
_CARD_SHAPE = re.compile(rf"""{_BEFORE}
    (?:\d{{12,19}}
      |\d{{4}}(?P<s>[ \-])\d{{4}}(?P=s)\d{{4}}(?P=s)\d{{1,4}}(?:(?P=s)\d{{1,3}})?
      |\d{{4}}(?P<t>[ \-])\d{{6}}(?P=t)\d{{4,5}})
    {_AFTER}""", re.X)
_SEPARATOR = re.compile(r"[ .\-/]")
_DIGIT = re.compile(r"\d")
# Three groups of a date, joined by one mark: year first, or day and month (either order) first.
_DATE = re.compile(r"(?<!\d)(?:(?:1[89]|20)\d\d([-./ ])[01]?\d\1[0-3]?\d"
                   r"|[0-3]?\d([-./])[0-3]?\d\2(?:(?:1[89]|20)\d\d|\d\d))(?!\d)")
_YEAR = re.compile(r"(?:1\d|20)\d\d")
_AMOUNT = re.compile(r"[1-9]\d{0,2}(?:([ .,])\d{3})(?:\1\d{3})*")
# Words that announce a phone number, before it or just after ("69 987 88 37 office"); "number" only
# where no other kind of number is named ("company number 2297344" is a registry entry).
_CUE = re.compile(r"\b(?:tel|t[ée]l[ée]phone|telefon|tel[ée]fono|telefone|phone|call|cell|mobile|mob|fax|office"
                  r"|contact(?:ed)?|reach(?:ed)?|dial|whatsapp|sms|text|messages?|handy|portable|desk|hotline"
                  r"|toll[- ]free|(?:my|your|our|his|her|their) registered"
                  r"|(?<!company )(?<!account )(?<!case )(?<!order )(?<!serial )(?<!model )(?<!part )(?<!item )"
                  r"(?<!invoice )(?<!tracking )(?<!reference )(?<!registration )(?<!registered )number)\b"
                  r"|[☎📞]|電話|行動|手機", re.I)
CUE_BEFORE, CUE_AFTER = 40, 10
_LONGEST_CUE = 12
# The characters both shapes consume, and seven digits joined by at most three marks (every shape holds such a chain).
_ALPHABET = (r"\d", r"\ ", r"\.", r"\-", "/", r"\(", r"\)", r"\+", r"\#", "e", "t", "x")
_CHAIN = re.compile(r"\d(?:[ .()\-/]{0,3}\d){6}")
MARGIN_BEFORE, MARGIN_AFTER = 1, 2  # what the shapes' look-behind and look-ahead read


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check digit test of ISO/IEC 7812."""
    total = 0
    for i, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def card_shaped(text: str, start: int = 0) -> list[tuple[int, int]]:
    """(start, end) of every card-shaped number of text[start:] that passes the Luhn check."""
    spans = []
    for match in _CARD_SHAPE.finditer(text, start):
        digits = "".join(_DIGIT.findall(match.group()))
        if MIN_CARD_DIGITS <= len(digits) <= MAX_CARD_DIGITS and len(set(digits)) > 1 and luhn_valid(digits):
            spans.append(match.span())
    return spans


def phone_shaped(text: str, start: int = 0) -> list[tuple[int, int, bool]]:
    """(start, end, sure) of every phone-shaped number of text[start:]; `sure` is False for a
    shape that is a phone number only where a cue word says so."""
    spans = []
    for match in _PHONE_SHAPE.finditer(text, start):
        if match.end() - match.start() < MIN_PHONE_DIGITS:
            continue
        sure = _phone_verdict(match)
        if sure is not None:
            spans.append((match.start(), match.end(), sure))
    return spans


def _phone_verdict(match: re.Match) -> bool | None:
    """True for a phone number, False for one only next to a cue word, None for none."""
    number, groups = match.group("number"), match.group("groups")
    digits = len(_DIGIT.findall(number))
    if not MIN_PHONE_DIGITS <= digits <= MAX_PHONE_DIGITS:
        return None
    if match.group("lead") or match.group("area") or match.group("extension"):
        return True
    parts = _SEPARATOR.split(groups)
    separators = set(_SEPARATOR.findall(groups))
    if _DATE.search(groups) or (len(parts) > 1 and all(_YEAR.fullmatch(p) for p in parts)):
        return None
    if len(parts) == 1:  # a national number written whole: "2025550143", "07700900123"
        return digits <= 11 and (groups.startswith("0") or (digits >= 10 and not groups.endswith("0000")))
    if _AMOUNT.fullmatch(groups) or (separators == {"."} and len(parts) == 2):
        return False  # "609 141 777", "51.507351"
    if separators == {"/"}:
        return groups.startswith("0")  # "0221/123456", not "40/40/50/50"
    if separators == {" "}:
        if len(parts) > 5 or sum(len(p) == 1 for p in parts) > 1:
            return None  # a list of numbers: "8 9 10 15 20 25 30"
        if not groups.startswith("0") and digits < 10:
            return len(parts) >= 3 and all(len(p) >= 2 for p in parts)  # "91 41 77 76", "69 987 88 37"
    return True


class NumberSweep:
    """Phone- and card-shaped numbers of a text, as (entity, start, end); a number that is both
    is a card (the Luhn check says more than the shape)."""

    def __init__(self, entities=(PHONE, CARD)):
        self.phones = PHONE in entities
        self.cards = CARD in entities
        self._runs = None
        self._cache = BoundedMemo()

    def find(self, text: str, windows: Optional[Iterable[Window]] = None,
             covered: Sequence[tuple[int, int]] = ()) -> list[tuple[str, int, int]]:
        """The numbers of `text` that overlap none of the `covered` (start, end) spans, sorted by
        start. `windows`, when given, are where to look: (where each begins in the text, its text,
        where its run starts and ends in it), runs of a wider alphabet than the shapes' that hold
        every chain of seven digits, with at least the context the shapes read."""
        covered = sorted(covered)
        starts = [start for start, _ in covered]
        reach = list(itertools.accumulate((end for _, end in covered), max))  # furthest end of covered[:i+1]
        found = []
        for begin, window, core_start, core_end in self.windows(text) if windows is None else windows:
            spans = self._cache.get(window)
            if spans is None:
                spans = self._cache.put(window, self._window_spans(window, core_start, core_end))
            for entity, s, e, sure in spans:
                s, e = begin + s, begin + e
                before = bisect.bisect_left(starts, e)  # the covered spans that start before this one ends
                if (before == 0 or reach[before - 1] <= s) and (sure or cue_near(text, s, e)):
                    found.append((entity, s, e))
        return found

    def windows(self, text: str) -> list[Window]:
        """The runs of the shapes' alphabet that hold a chain of seven digits, with their context."""
        if self._runs is None:
            self._runs = Runs(_ALPHABET, 0, re)
        return windows_with(text, _CHAIN, self._runs, MARGIN_BEFORE, MARGIN_AFTER)

    def _window_spans(self, window: str, core_start: int, core_end: int) -> tuple:
        if not _CHAIN.search(window, core_start, core_end):
            return ()
        # No shape crosses the character that ends the run: what follows it is only read, as context.
        cards = [(CARD, s, e, True) for s, e in card_shaped(window, core_start)] if self.cards else []
        phones = [(PHONE, s, e, sure) for s, e, sure in phone_shaped(window, core_start)
                  if not any(cs < e and s < ce for _, cs, ce, _ in cards)] if self.phones else []
        return tuple(sorted(cards + phones, key=lambda span: span[1]))


def cue_near(text: str, start: int, end: int) -> bool:
    """A cue word in the `CUE_BEFORE` characters before the number or starting in the `CUE_AFTER` after it."""
    if _CUE.search(text, max(start - CUE_BEFORE, 0), start):
        return True
    after = _CUE.search(text, end, end + CUE_AFTER + _LONGEST_CUE)  # read whole words: "called" is not "call"
    return after is not None and after.start() < end + CUE_AFTER
