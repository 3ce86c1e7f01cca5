"""Presidio's pattern recognizers for the PII stage's default entities, as plain data and functions.

Importing presidio-analyzer imports spaCy (and with it thinc, which imports torch where it is
installed) and presidio's Hugging Face pipe (which imports transformers): 2 to 10 CPU-seconds in
every worker before its first page, for recognizers that are regular expressions and checksums. So
the fast path (`filters.pii_scan`) runs these transcriptions of presidio-analyzer 2.2.366's
EmailRecognizer, CreditCardRecognizer, IpRecognizer, IbanRecognizer, UsSsnRecognizer and
CryptoRecognizer (their patterns, scores, flags, validation and invalidation, and the phone
recognizer's regions, leniency and score) and never imports presidio. IBAN's per-country formats are
read from presidio's own `iban_patterns.py`, a module of constants, without importing its package.

`tests/test_pii_contract.py` checks every transcription against the installed presidio (the same
patterns, flags and thresholds; the same verdict on every match in the test texts), and
`filters.pii_contract` keeps the fast path to the presidio versions those checks passed on. A
recognizer this module does not hold (URL) is presidio's own, adapted (`from_presidio`) when a
source asks for its entity.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import os
import string
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import regex

MIN_SCORE, MAX_SCORE = 0.0, 1.0  # presidio's EntityRecognizer.MIN_SCORE and MAX_SCORE
# presidio reads its regular-expression timeout from the environment, as here
REGEX_TIMEOUT_SECONDS = int(os.environ.get("REGEX_TIMEOUT_SECONDS", 60))
PATTERN_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE  # PatternRecognizer's global_regex_flags
# PhoneRecognizer: DEFAULT_SUPPORTED_REGIONS, its default leniency (phonenumbers' VALID) and SCORE
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")
PHONE_LENIENCY = 1
PHONE_SCORE = 0.4


class Pattern(NamedTuple):
    name: str
    regex: str
    score: float


class Span(NamedTuple):
    """A finding: what presidio calls a RecognizerResult, without its explanation."""

    entity_type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class PatternRecognizer:
    """A recognizer as presidio's PatternRecognizer runs it: each pattern's matches, a score of
    MAX_SCORE or MIN_SCORE where `validate` says True or False, MIN_SCORE where `invalidate` says
    True, and only matches scoring above MIN_SCORE. `analyze`, where given, replaces that loop."""

    entity: str
    patterns: tuple[Pattern, ...]
    flags: int = PATTERN_FLAGS
    validate: Callable[[str], Optional[bool]] = lambda text: None
    invalidate: Callable[[str], Optional[bool]] = lambda text: None
    analyze: Optional[Callable[[str], list[tuple[int, int, float]]]] = None
    score_thresholds: dict = field(default_factory=dict)


def _sanitized(text: str) -> str:
    """EntityRecognizer.sanitize_value with the card and IBAN recognizers' pairs: dashes and spaces out."""
    return text.replace("-", "").replace(" ", "")


def _email_valid(text: str) -> bool:
    import tldextract  # offline: filters.presidio_engine.no_network() runs first

    return tldextract.extract(text).fqdn != ""


def _luhn_valid(text: str) -> bool:
    digits = [int(digit) for digit in _sanitized(text)]
    checksum = sum(digits[-1::-2])
    for digit in digits[-2::-2]:
        checksum += sum(int(d) for d in str(digit * 2))
    return checksum % 10 == 0


def _ip_invalid(text: str) -> Optional[bool]:
    try:
        ipaddress.ip_interface(text)
    except ValueError:
        return True
    return None


def _ssn_invalid(text: str) -> bool:
    delimiters = defaultdict(int)
    for c in text:
        if c in (".", "-", " "):
            delimiters[c] += 1
    if len(delimiters) > 1:
        return True
    digits = "".join(c for c in text if c.isdigit())
    return (all(digits[0] == c for c in digits) or digits[3:5] == "00" or digits[5:] == "0000"
            or digits[:3] in ("000", "666") or digits in ("123456789", "987654320", "078051120"))


_BASE58 = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32M_CONST = 0x2BC830A3


def _crypto_valid(text: str) -> bool:
    """A Bitcoin address with a good checksum: base58check (1..., 3...) or Bech32/Bech32m (bc1...)."""
    if text.startswith(("1", "3")):
        try:
            raw = text.encode()
            stripped = raw.lstrip(_BASE58[:1])
            n = 0
            for char in stripped:
                n = n * 58 + _BASE58.index(char)
            decoded = n.to_bytes(len(raw) - len(stripped) + (n.bit_length() + 7) // 8, "big")
            return decoded[-4:] == sha256(sha256(decoded[:-4]).digest()).digest()[:4]
        except ValueError:
            return False
    return text.startswith("bc1") and _bech32_valid(text)


def _bech32_valid(bech: str) -> bool:
    if any(ord(x) < 33 or ord(x) > 126 for x in bech) or (bech.lower() != bech and bech.upper() != bech):
        return False
    bech = bech.lower()
    pos = bech.rfind("1")
    if pos < 1 or pos + 7 > len(bech) or len(bech) > 90 or not all(x in _BECH32_CHARSET for x in bech[pos + 1:]):
        return False
    hrp = bech[:pos]
    values = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp] + [_BECH32_CHARSET.find(x) for x in bech[pos + 1:]]
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= _BECH32_GENERATOR[i] if (top >> i) & 1 else 0
    return check in (1, _BECH32M_CONST)


@lru_cache(maxsize=1)
def iban_formats() -> dict[str, str]:
    """presidio's `regex_per_country`, read from its iban_patterns.py (constants only) without
    importing the presidio_analyzer package."""
    root = importlib.util.find_spec("presidio_analyzer").submodule_search_locations[0]
    path = Path(root) / "predefined_recognizers" / "generic" / "iban_patterns.py"
    spec = importlib.util.spec_from_file_location("tokenmill_presidio_iban_patterns", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.regex_per_country


_IBAN_LETTERS = {ord(d): str(i) for i, d in enumerate(string.digits + string.ascii_uppercase)}
_IBAN_FLAGS = regex.DOTALL | regex.MULTILINE


def _iban_format(iban: str) -> bool:
    country = iban_formats().get(iban[:2], "")
    try:
        return bool(country) and regex.match(country, iban, flags=_IBAN_FLAGS, timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        return False


def _iban_valid(text: str) -> Optional[bool]:
    """True for a good check digit and the country's format; None where only the upper-cased text has it."""
    try:
        iban = _sanitized(text)
        moved = (iban[:2] + "00" + iban[4:]).upper()
        if f"{98 - (int((moved[4:] + moved[:4]).translate(_IBAN_LETTERS)) % 97):0>2}" != iban[2:4]:
            return False
        return True if _iban_format(iban) else None if _iban_format(iban.upper()) else False
    except ValueError:
        return False


IBAN_PATTERN = Pattern("IBAN Generic", r"(?<![A-Z0-9])([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,6})"
                                       r"((?:[ -]?[A-Z0-9]{4})?)((?:[ -]?[A-Z0-9]{1,3})?)(?![A-Z0-9])", 0.5)


def _iban_analyze(text: str) -> list[tuple[int, int, float]]:
    """IbanRecognizer.analyze: for each match, its longest prefix ending at a group's end (the last
    group first) that scores above MIN_SCORE."""
    found = []
    try:
        for match in regex.finditer(IBAN_PATTERN.regex, text, flags=_IBAN_FLAGS, timeout=REGEX_TIMEOUT_SECONDS):
            for group in reversed(range(1, len(match.groups()) + 1)):
                start = match.start()
                end = match.end(group) if match.end(group) > 0 else match.end()
                if start == end:
                    continue
                valid = _iban_valid(text[start:end])
                score = IBAN_PATTERN.score if valid is None else MAX_SCORE if valid else MIN_SCORE
                if score > MIN_SCORE:
                    found.append((start, end, score))
                    break
    except TimeoutError:
        pass
    return found


# Credentials whose issuers give them a fixed, documented shape (prefix and length), so a match is a
# key and not a word: what a code corpus should not teach a model (StarCoder masked keys in The Stack).
SECRET_KEY = "SECRET_KEY"
SECRET_KEY_PATTERNS = {
    "AWS access key id": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{82}\b",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,72}\b",
    "Google API key": r"\bAIza[0-9A-Za-z_-]{35}\b",
    "Stripe live key": r"\b[rs]k_live_[0-9A-Za-z]{24,99}\b",
    "PEM private key": (r"-----BEGIN[A-Z ]{0,30} PRIVATE KEY-----[A-Za-z0-9+/=\s:,-]{1,8000}?"
                        r"-----END[A-Z ]{0,30} PRIVATE KEY-----"),
}

RECOGNIZERS = {
    "EMAIL_ADDRESS": PatternRecognizer("EMAIL_ADDRESS", (Pattern(
        "Email (Medium)",
        r"\b((([!#$%&'*+\-/=?^_`{|}~\w])|([!#$%&'*+\-/=?^_`{|}~\w][!#$%&'*+\-/=?^_`{|}~\.\w]{0,}[!#$%&'*+\-/=?^_`{|}~\w]))"
        r"[@]\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+)\b", 0.5),), validate=_email_valid),
    "CREDIT_CARD": PatternRecognizer("CREDIT_CARD", (Pattern(
        "All Credit Cards (weak)",
        r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b",
        0.3),), validate=_luhn_valid),
    "IP_ADDRESS": PatternRecognizer("IP_ADDRESS", (
        Pattern("IPv4_mapped",
                r"(?<![\w:])::(?:ffff(?::0{1,4})?:)?(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}"
                r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?\b", 0.6),
        Pattern("IPv4_embedded",
                r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){1,5}:(?:[0-9A-Fa-f]{1,4}:){0,4}|(?:[0-9A-Fa-f]{1,4}:){6})"
                r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
                r"(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?\b", 0.6),
        Pattern("IPv4",
                r"\b(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\."
                r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
                r"(?:/(?:[0-2]?\d|3[0-2]))?\b", 0.6),
        Pattern("IPv6",
                r"(?<![\w:])(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|(?:[0-9A-Fa-f]{1,4}:){1,7}:"
                r"|:(?::[0-9A-Fa-f]{1,4}){1,7}|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}"
                r"|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}"
                r"|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}"
                r"|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}|:(?::[0-9A-Fa-f]{1,4}){1,6})(?:%[0-9a-zA-Z]+)?"
                r"(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?(?![\w:]|\.\d)", 0.6),
        Pattern("IPv6_unspecified", r"(?<![\w:])::(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?(?![\w:])", 0.1),
    ), invalidate=_ip_invalid),
    "IBAN_CODE": PatternRecognizer("IBAN_CODE", (IBAN_PATTERN,), flags=_IBAN_FLAGS, validate=_iban_valid,
                                   analyze=_iban_analyze),
    "US_SSN": PatternRecognizer("US_SSN", (
        Pattern("SSN1 (very weak)", r"\b([0-9]{5})-([0-9]{4})\b", 0.05),
        Pattern("SSN2 (very weak)", r"\b([0-9]{3})-([0-9]{6})\b", 0.05),
        Pattern("SSN3 (very weak)", r"\b(([0-9]{3})-([0-9]{2})-([0-9]{4}))\b", 0.05),
        Pattern("SSN4 (very weak)", r"\b[0-9]{9}\b", 0.05),
        Pattern("SSN5 (medium)", r"\b([0-9]{3})[- .]([0-9]{2})[- .]([0-9]{4})\b", 0.5),
    ), invalidate=_ssn_invalid),
    "CRYPTO": PatternRecognizer("CRYPTO", (Pattern("Crypto (Medium)", r"(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}", 0.5),),
                                validate=_crypto_valid),
    # Ours, not presidio's: case-sensitive (the prefixes are), one pattern per issuer.
    SECRET_KEY: PatternRecognizer(SECRET_KEY, tuple(Pattern(name, pattern, 1.0)
                                                    for name, pattern in SECRET_KEY_PATTERNS.items()), flags=regex.M),
}


def from_presidio(recognizer) -> PatternRecognizer:
    """A presidio PatternRecognizer (one this module does not transcribe: URL) behind the same face."""
    return PatternRecognizer(recognizer.supported_entities[0],
                             tuple(Pattern(p.name, p.regex, p.score) for p in recognizer.patterns),
                             int(recognizer.global_regex_flags), recognizer.validate_result,
                             recognizer.invalidate_result, score_thresholds=recognizer.score_thresholds)


def recognizer_for(entity: str) -> PatternRecognizer:
    """The pattern recognizer of `entity` (presidio imported only for one this module does not hold)."""
    if entity in RECOGNIZERS:
        return RECOGNIZERS[entity]
    if entity == "URL":
        from tokenmill.filters.presidio_engine import no_network

        no_network()
        from presidio_analyzer.predefined_recognizers import UrlRecognizer

        return from_presidio(UrlRecognizer())
    raise ValueError(f"no pattern recognizer for {entity}")
