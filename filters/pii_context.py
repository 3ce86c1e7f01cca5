"""Whether a span a recognizer found is, in its context, the PII it looks like.

Pattern recognizers see shapes; on real pages most digit shapes are something else. Measured on
hand-labelled spans of real pages (tests/fixtures/pii_labels.jsonl): presidio's phone recognizer
reports years, ISBNs, DOIs, bug and post numbers, table cells and decimals (41% of its spans are
phone numbers), its weak US SSN pattern any nine digits (forum post numbers: none of 14,900 is an
SSN), its IPv6 pattern the `::` of C++ and Scala (none is an address), and Luhn-valid "cards" are
runs of years and table cells. The rules here keep what the labels show to be PII:

- a span scoring under `MIN_SCORE` is dropped: presidio's own weak patterns (`::` at 0.1, nine bare
  digits as an SSN at 0.05) are guesses, not findings;
- a number (phone, card, SSN) is dropped when it sits in a URL or path, or after a marker naming
  another kind of number (ISBN, ISSN, DOI, PMC, PMID, bug, post "No.", a Zoom or other ID); a card
  or SSN also when it sits in a run of numbers (a table row, a list of years, a numbered list) or a
  decimal; a dotted quad named as a version or patch set is not an IP address;
- a phone number needs the context that makes it one: a `+` country code, an extension, the
  North-American shape `(617) 573-5591` / `617-573-5591` / `617.573.5591`, or a word that
  announces a phone number near it (`tel`, `call`, `fax`, `mobile`...; `number_sweep.cue_near`).
"""
from __future__ import annotations

import re

from tokenmill.filters.number_sweep import CARD, PHONE, cue_near

MIN_SCORE = 0.4  # presidio's score for a phone number phonenumbers accepts; its weak patterns score 0.05-0.1
NUMBER_ENTITIES = (PHONE, CARD, "US_SSN")
IP = "IP_ADDRESS"

_OTHER_NUMBER = re.compile(r"(?:\b(?:isbn(?:-1[03])?|issn|doi|pmc|pmid|bug|arxiv|zoom|webinar|meeting|passcode|id)"
                           r"\s*(?:id)?\s*[:.#]?\s*|\bno\.\s?|>>)\Z", re.I)
_OTHER_NUMBER_REACH = 16
_VERSION = re.compile(r"\b(?:version|ver|v|patch(?:set)?|release|build|firmware|update)\W{0,3}(?:set\s)?\Z", re.I)
_VERSION_AFTER = re.compile(r"\s*(?:patch|release|update|build)\b", re.I)
_COUNTRY_CODE_BEFORE = re.compile(r"\+\(?\d{1,4}\)?[ .-]?\Z")  # presidio's span may start after "+43 "
_URL_CHARS = re.compile(r"[/=?&%]|www\.|\w\.(?:com|org|net)\b")
# A number just before or after (a row of a table, a list of years), a list number ("3. "), a decimal
# point, a table cell's border.
_NUMBER_BEFORE = re.compile(r"(?:\d[.)]?[ \t]*[│|]?[ \t]*|\d[.,]|[│|][ \t]*)\Z")
_NUMBER_AFTER = re.compile(r"[ \t]*[│|]|[ \t]*\d|[.,]\d")
_STRONG_PHONE = re.compile(
    r"^\(?\+|(?:x|ext\.?)\s?\d{1,6}$"                                 # a country code, an extension
    r"|^\(?(?:1[ .-])?(?:\(?\d{3}\)\s?|\d{3}([ .-]))\d{3}(?(1)\1|[ .-])\d{4}\)?$")  # (617) 573-5591, 617-573-5591


def credible(text: str, entity: str, start: int, end: int) -> bool:
    """Whether text[start:end], found as `entity`, is that entity in its context."""
    if entity == IP:  # "the 11.2.0.3 patch set", "version 1.2.3.4": a version, not an address
        return not (_VERSION.search(text, max(0, start - _OTHER_NUMBER_REACH), start)
                    or _VERSION_AFTER.match(text, end))
    if entity not in NUMBER_ENTITIES:
        return True
    if _in_url(text, start) or _OTHER_NUMBER.search(text, max(0, start - _OTHER_NUMBER_REACH), start):
        return False
    if entity == PHONE:  # a country code or trunk prefix before it is part of it, not a neighbour
        return (bool(_STRONG_PHONE.search(text[start:end]))
                or bool(_COUNTRY_CODE_BEFORE.search(text, max(0, start - 7), start)) or cue_near(text, start, end))
    return not (_NUMBER_BEFORE.search(text, max(0, start - 4), start) or _NUMBER_AFTER.match(text, end))


def _in_url(text: str, start: int) -> bool:
    """Whether the whitespace-free token that holds `start` is a URL, a path or a query."""
    token_start = max(text.rfind(" ", 0, start), text.rfind("\n", 0, start), text.rfind("\t", 0, start)) + 1
    return bool(_URL_CHARS.search(text, token_start, start))
