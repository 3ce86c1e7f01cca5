"""Phone-number-shaped digit groups that python-phonenumbers does not accept as a valid number.

Presidio reports only numbers valid in one of its regions, so a number from another country, an
unassigned range or a typo ("(96) 627-277", "21 212 133 2727", "001-420-335-7509x38548") survives
it. This sweep catches what is written like a phone number: two to five groups of 2-4 digits (the
first may be a bracketed area code, a "+" country code may lead, an "x" extension may follow),
7 to 15 digits in all (ITU-T E.164's maximum), and not shaped like a date, a range of years or a
thousands-separated amount.
"""
from __future__ import annotations

import re

_PHONE_SHAPE = re.compile(
    r"""(?<![\w+.\-/])
        (?:\+\d{1,3}[ .\-]?)?          # country code
        (?:\(\d{1,4}\)[ .\-]?)?        # area code in brackets
        \d{2,4}(?:[ .\-]\d{2,4}){1,4}  # digit groups
        (?:\ ?x\d{1,6})?               # extension
        (?![\w\-/]|[.,]\d)""",
    re.X | re.ASCII,
)
_EXTENSION = re.compile(r" ?x\d+$")
_DATE = re.compile(r"\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}")  # a date (and time)
_YEARS = re.compile(r"(?:1[5-9]|20)\d\d ?- ?(?:1[5-9]|20)\d\d")  # a range of years: 1929-1933
_AMOUNT = re.compile(r"\d{1,3}(?:[., ]\d{3})+")
MIN_DIGITS, MAX_DIGITS = 7, 15


def phone_shaped(text: str) -> list[tuple[int, int]]:
    """(start, end) of every phone-number-shaped span of `text`."""
    spans = []
    for match in _PHONE_SHAPE.finditer(text):
        number = _EXTENSION.sub("", match.group())
        digits = sum(ch.isdigit() for ch in number)
        shaped_otherwise = _DATE.match(number) or _YEARS.fullmatch(number) or _AMOUNT.fullmatch(number)
        if MIN_DIGITS <= digits <= MAX_DIGITS and not shaped_otherwise:
            spans.append(match.span())
    return spans
